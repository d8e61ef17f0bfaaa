"""Reading a users page back: the table's cells as text, and the cells the seed says it must
hold. Used by the verification gate and by the tests."""

from __future__ import annotations

import json
from html.parser import HTMLParser

from lab.config import ROOT

SEED_FILE = ROOT / "fixtures" / "users.json"
COLUMNS = ("id", "first_name", "last_name", "email", "gender", "ip_address", "date_joined")


class _TableParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self.in_body = False
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "tbody":
            self.in_body = True
        elif tag == "tr" and self.in_body:
            self.rows.append([])
        elif tag == "td" and self.in_body:
            self.cell = []

    def handle_endtag(self, tag):
        if tag == "tbody":
            self.in_body = False
        elif tag == "td" and self.cell is not None:
            self.rows[-1].append("".join(self.cell))
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def parse_users_table(html: str) -> list[list[str]]:
    """Body rows of the users table, each a list of cell texts (entities decoded)."""
    parser = _TableParser()
    parser.feed(html)
    return parser.rows


def seed_rows() -> list[list[str]]:
    return [[str(user[column]) for column in COLUMNS] for user in json.loads(SEED_FILE.read_text("utf-8"))]
