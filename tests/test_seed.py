"""The seed: a deterministic fixture generator and an idempotent loader."""

import subprocess
import sys

from conftest import MANAGE

from bench.driver.users_page import SEED_FILE
from lab import mariadb
from lab.config import ROOT


def test_fixture_generator_is_deterministic(tmp_path):
    out = tmp_path / "users.json"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_fixtures.py"), "--out", str(out)],
                   check=True, capture_output=True)
    assert out.read_bytes() == SEED_FILE.read_bytes()


def users_snapshot(settings) -> list[tuple]:
    conn = mariadb.app_connection(settings)
    try:
        cur = conn.cursor()
        cur.execute("SELECT id, email, first_name FROM lab_users ORDER BY id")
        return list(cur.fetchall())
    finally:
        conn.close()


def test_seed_twice_keeps_exactly_the_fixture_rows(database):
    for _ in range(2):
        subprocess.run(MANAGE + ["seed_users"], check=True, capture_output=True, cwd=ROOT / "project")
    rows = users_snapshot(database)
    assert len(rows) == 1000
    assert [row[0] for row in rows] == list(range(1, 1001))
    assert rows[0][2] == '<script>alert("x")</script>'
