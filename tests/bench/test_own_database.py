"""A user's own database server given as DATABASE_URL (here: the private MariaDB, reached
as a user with their own server would, through a least-privilege user): the lab refuses a
database that holds anything but its tables, and in an empty one it runs to the end
without changing a global setting, log or table of the server."""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_driver_run import read_run, run_dirs

from lab import mariadb
from lab.config import ROOT, Settings, load

OWNER = "lab_own"
EMPTY, FOREIGN, READ_ONLY = "lab_own_empty", "lab_own_foreign", "lab_own_read_only"


@dataclass
class OwnServer:
    settings: Settings  # the private server, as root
    password: str

    def url(self, name: str) -> str:
        return f"mysql://{OWNER}:{self.password}@127.0.0.1:{self.settings.database.port}/{name}"

    def query(self, sql: str) -> list[tuple]:
        conn = mariadb.admin_connection(self.settings)
        try:
            cur = conn.cursor()
            cur.execute(sql)
            return list(cur.fetchall())
        finally:
            conn.close()


@pytest.fixture(scope="module")
def own_server(database: Settings) -> Iterator[OwnServer]:
    """Two databases for a user with rights on them only (no PROCESS, no SUPER): one empty,
    one holding an app's `users` table."""
    server = OwnServer(database, secrets.token_hex(12))
    for name in (EMPTY, FOREIGN, READ_ONLY):
        server.query(f"DROP DATABASE IF EXISTS `{name}`")
        server.query(f"CREATE DATABASE `{name}`")
        for host in ("127.0.0.1", "localhost"):
            server.query(f"CREATE USER IF NOT EXISTS '{OWNER}'@'{host}' IDENTIFIED BY '{server.password}'")
            server.query(f"ALTER USER '{OWNER}'@'{host}' IDENTIFIED BY '{server.password}'")
            rights = "SELECT" if name == READ_ONLY else "ALL PRIVILEGES"
            server.query(f"GRANT {rights} ON `{name}`.* TO '{OWNER}'@'{host}'")
    server.query(f"CREATE TABLE `{FOREIGN}`.users (id INT PRIMARY KEY, email VARCHAR(100))")
    server.query(f"INSERT INTO `{FOREIGN}`.users VALUES (1, 'someone@example.invalid')")
    yield server
    for name in (EMPTY, FOREIGN, READ_ONLY):
        server.query(f"DROP DATABASE IF EXISTS `{name}`")
    for host in ("127.0.0.1", "localhost"):
        server.query(f"DROP USER IF EXISTS '{OWNER}'@'{host}'")


def bench(server: OwnServer, name: str, out: Path, io_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": server.url(name), "IO_DIR": str(io_dir)}
    return subprocess.run(["bench/run_wrk.sh", "--stacks", "django-wsgi fastapi", "--endpoints", "ping sync-io",
                           "--profile", "smoke", "--concurrency", "4", "--duration", "1", "--repeats", "1",
                           "--out", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_a_database_holding_a_users_own_table_is_refused(own_server, tmp_path):
    result = bench(own_server, FOREIGN, tmp_path / "out", tmp_path / "io")
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line == (f"bench/run_wrk.sh: database: DATABASE_URL database '{FOREIGN}' holds tables that are not the "
                    "lab's (users); give an empty database or one only the lab uses")
    assert own_server.password not in result.stdout + result.stderr
    assert own_server.query(f"SELECT id, email FROM `{FOREIGN}`.users") == [(1, "someone@example.invalid")]
    assert own_server.query(f"SHOW TABLES FROM `{FOREIGN}`") == [("users",)]
    assert run_dirs(tmp_path / "out") == []
    started = subprocess.run(["scripts/db.sh", "start"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                             env={**os.environ, "DATABASE_URL": own_server.url(FOREIGN)})
    assert started.returncode == 2 and "holds tables that are not the lab's (users)" in started.stderr


def test_a_missing_privilege_is_one_line_naming_it(own_server, tmp_path):
    result = bench(own_server, READ_ONLY, tmp_path / "out", tmp_path / "io")
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("bench/run_wrk.sh: database: manage.py migrate exited with status 1: ")
    assert "CREATE command denied to user 'lab_own'" in line
    assert "Traceback" not in result.stdout + result.stderr and own_server.password not in line
    assert own_server.query(f"SHOW TABLES FROM `{READ_ONLY}`") == []


def test_a_full_run_in_an_empty_database_changes_nothing_of_the_server(own_server, tmp_path):
    variables = "SHOW GLOBAL VARIABLES"
    before = own_server.query(variables)
    log_rows = own_server.query("SELECT COUNT(*) FROM mysql.general_log")

    result = bench(own_server, EMPTY, tmp_path / "out", tmp_path / "io")
    assert result.returncode == 0, result.stderr[-2000:]
    assert own_server.query(variables) == before
    assert own_server.query("SELECT COUNT(*) FROM mysql.general_log") == log_rows
    assert own_server.password not in result.stdout + result.stderr

    (run_dir,) = run_dirs(tmp_path / "out")
    run, rows = read_run(run_dir)
    assert own_server.password not in (run_dir / "run.json").read_text()
    assert run["status"] == "complete" and rows and all(r["status"] == "ok" for r in rows)
    for stack in ("django-wsgi", "fastapi"):
        gate = run["stacks"][stack]["verification"]
        assert gate["passed"], gate["failed"]
        assert gate["statement_audit"]["ran"] is False
        assert "DATABASE_URL server the lab did not start" in gate["statement_audit"]["why"]
        assert gate["summary"].startswith(f"{stack}: statement audit not run")
    # unknown without PROCESS, never a crash
    assert {r["db"]["open_trx_before"] for r in rows} == {None}
    assert {r["db"]["cpu_pct"] for r in rows} == {None}  # not the lab's server: its process is not ours to read
    # the lab's own tables, and only those, are now in the database: a second run is welcome
    assert sorted(t for (t,) in own_server.query(f"SHOW TABLES FROM `{EMPTY}`")) == [
        "django_migrations", "lab_records", "lab_users"]
    mariadb.check_lab_only(load({"DATABASE_URL": own_server.url(EMPTY)}))
