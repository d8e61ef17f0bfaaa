"""The users pages under WSGI and ASGI: the seed's 1,000 rows, escaped, with ?limit= rules."""

import httpx
import pytest

from bench.driver.users_page import parse_users_table, seed_rows

DJANGO_STACKS = ("django-wsgi", "django-asgi")
PAGES = ("/sync/", "/async/")


@pytest.mark.parametrize("stack", DJANGO_STACKS)
@pytest.mark.parametrize("page", PAGES)
def test_page_shows_every_seeded_user(start_server, stack, page):
    response = httpx.get(start_server(stack).url + page)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert int(response.headers["content-length"]) == len(response.content)
    assert parse_users_table(response.text) == seed_rows()


@pytest.mark.parametrize("stack", DJANGO_STACKS)
def test_edge_rows_are_escaped(start_server, stack):
    html = httpx.get(start_server(stack).url + "/sync/?limit=5").text
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "Tag &amp; Co" in html
    assert "Zoë" in html and "渡辺" in html


@pytest.mark.parametrize("stack", DJANGO_STACKS)
@pytest.mark.parametrize("page", PAGES)
def test_limit_gives_that_many_rows(start_server, stack, page):
    response = httpx.get(start_server(stack).url + page, params={"limit": "5"})
    assert response.status_code == 200
    assert parse_users_table(response.text) == seed_rows()[:5]


@pytest.mark.parametrize("stack", DJANGO_STACKS)
@pytest.mark.parametrize("bad", ["0", "1001", "-3", "abc", "2.5", ""])
def test_bad_limit_is_400_with_reason(start_server, stack, bad):
    for page in PAGES:
        response = httpx.get(start_server(stack).url + page, params={"limit": bad})
        assert response.status_code == 400
        assert response.text == f"limit must be a whole number from 1 to 1000, got {bad!r}"
        assert int(response.headers["content-length"]) == len(response.content)


@pytest.mark.parametrize("stack", DJANGO_STACKS)
def test_ping_and_info(start_server, stack):
    url = start_server(stack).url
    ping = httpx.get(url + "/ping/")
    assert (ping.status_code, ping.text, ping.headers["content-type"]) == (200, "pong", "text/plain")
    assert ping.headers["content-length"] == "4"
    info = httpx.get(url + "/info/").json()
    assert info["stack"] == stack
    assert info["settings"]["debug"] is False
    assert info["settings"]["conn_max_age"] == (0 if stack == "django-asgi" else 600)
    assert info["settings"]["middleware"] == ["workload.middleware.ContentLengthMiddleware"]
