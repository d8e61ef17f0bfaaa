"""FastAPI against Django on the same seeded database (docs/design.md, Endpoints): the users
table cell for cell, `?limit=` and every status code, on real Granian servers.

Django is the reference; the seed rows themselves are a third witness, so that two stacks
agreeing on a wrong page would still fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser

import httpx
import pytest

from lab import mariadb
from lab.config import Settings
from lab.limit_param import MAX_USERS

USERS_SQL = ("SELECT id, first_name, last_name, email, gender, ip_address, date_joined "
             "FROM lab_users ORDER BY id")


class _UsersTable(HTMLParser):
    """The rows of the page's table body, each a tuple of cell texts (entities decoded)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[tuple[str, ...]] = []
        self._in_body = False
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self._row = []
        elif tag == "td" and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(tuple(self._row))
            self._row = None
        elif tag == "tbody":
            self._in_body = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def users_table(html: str) -> list[tuple[str, ...]]:
    parser = _UsersTable()
    parser.feed(html)
    parser.close()
    return parser.rows


@pytest.fixture(scope="module")
def seed_rows(database: Settings) -> list[tuple[str, ...]]:
    """The users as the page must show them, straight from the database."""
    conn = mariadb.app_connection(database)
    try:
        cur = conn.cursor()
        cur.execute(USERS_SQL)
        rows = cur.fetchall()
    finally:
        conn.close()
    return [(str(r[0]), *r[1:6], r[6].strftime("%Y-%m-%d %H:%M:%S")) for r in rows]


@pytest.fixture(scope="module")
def fastapi(start_server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=start_server("fastapi").url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def django(start_server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=start_server("django-wsgi").url, timeout=30) as client:
        yield client


def test_seed_has_the_edge_rows(seed_rows):
    """The premise of the escaping checks: markup, ampersands, quotes and non-ASCII."""
    edge = "".join("".join(row) for row in seed_rows[:5])
    assert len(seed_rows) == MAX_USERS
    for text in ("<script>", "&", '"', "'"):
        assert text in edge
    assert not edge.isascii()


@pytest.mark.parametrize("path", ["/sync/", "/async/"])
def test_users_table_equals_django_and_seed(fastapi, django, seed_rows, path):
    response = fastapi.get(path)
    reference = django.get(path)
    assert response.status_code == reference.status_code == 200
    assert response.headers["content-type"] == reference.headers["content-type"]
    assert response.headers["content-length"] == str(len(response.content))
    assert "<script>" not in response.text
    rows = users_table(response.text)
    assert rows == users_table(reference.text)
    assert rows == seed_rows


LIMIT_QUERIES = [
    "limit=1", "limit=5", "limit=999", "limit=1000", "", "other=3",
    "limit=0", "limit=1001", "limit=-3", "limit=abc", "limit=", "limit", "limit=%205", "limit=5%20",
    "limit=1.5", "limit=1e3", "limit=0x10", "limit=%D9%A3", "limit=5&limit=abc", "limit=abc&limit=5",
]


@pytest.mark.parametrize("query", LIMIT_QUERIES)
@pytest.mark.parametrize("path", ["/sync/", "/async/"])
def test_limit_behaves_as_on_django(fastapi, django, path, query):
    response = fastapi.get(f"{path}?{query}")
    reference = django.get(f"{path}?{query}")
    assert response.status_code == reference.status_code
    assert response.status_code in (200, 400)
    assert response.headers["content-type"] == reference.headers["content-type"]
    assert response.headers["content-length"] == str(len(response.content))
    if response.status_code == 400:
        assert response.text == reference.text
        assert "\n" not in response.text
    else:
        rows = users_table(response.text)
        assert rows == users_table(reference.text)
        assert 1 <= len(rows) <= MAX_USERS


STATUS_CASES = [
    ("GET", "/ping/"), ("POST", "/ping/"), ("GET", "/ping"), ("GET", "/sync"), ("GET", "/async/io"),
    ("GET", "/info"), ("GET", "/nowhere/"), ("GET", "/"), ("GET", "/docs"), ("GET", "/openapi.json"),
    ("POST", "/sync/"), ("POST", "/async/"), ("PUT", "/sync/"), ("HEAD", "/sync/"),
    ("GET", "/sync/io/"), ("GET", "/async/io/"), ("PUT", "/sync/io/"), ("DELETE", "/async/io/"),
    ("POST", "/info/"),
]


@pytest.mark.parametrize(("method", "path"), STATUS_CASES)
def test_status_as_on_django(fastapi, django, method, path):
    response = fastapi.request(method, path)
    reference = django.request(method, path)
    assert response.status_code == reference.status_code
    assert response.headers.get("allow") == reference.headers.get("allow")
    if method != "HEAD":
        assert response.headers["content-length"] == str(len(response.content))


def test_ping_as_on_django(fastapi, django):
    response = fastapi.get("/ping/")
    reference = django.get("/ping/")
    assert response.status_code == 200
    assert response.content == reference.content == b"pong"
    assert response.headers["content-type"] == reference.headers["content-type"] == "text/plain"
    assert response.headers["content-length"] == "4"
