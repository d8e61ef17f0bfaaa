"""Shared fixtures: the real private MariaDB and PostgreSQL (a separate `lab_test` database
on each) and real Granian servers on free ports, started once per session and always stopped."""

from __future__ import annotations

import atexit
import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Before anything reads settings: tests use their own database and io folder, and every
# server the tests start inherits these through the environment.
# A DATABASE_URL of the user's (environment or settings.env) never reaches the tests: they
# run on the private MariaDB only. IO_DIR is a folder the lab makes (it refuses existing ones).
os.environ["DATABASE_URL"] = ""
os.environ["DB_ENGINE"] = ""  # MariaDB, unless a test says PostgreSQL (pg_database)
os.environ["DJANGO_DB_POOL"] = "false"
os.environ["DB_NAME"] = "lab_test"
_IO_PARENT = tempfile.mkdtemp(prefix="lab-test-io-")
os.environ["IO_DIR"] = os.path.join(_IO_PARENT, "io")
atexit.register(shutil.rmtree, _IO_PARENT, ignore_errors=True)  # nothing left in /tmp

try:  # tests/bench/saved_runs.py, on pyproject's pythonpath; it refuses saved runs of an older schema,
    from saved_runs import RUN_DIRS  # noqa: E402  and the report test modules say so loudly when they import it
except RuntimeError:
    RUN_DIRS = []

from bench.analysis.report import report  # noqa: E402
from lab import db, mariadb  # noqa: E402
from lab.config import IO_DIR_MARK, ROOT, Settings, load  # noqa: E402
from lab.net import free_port  # noqa: E402
from lab.serve import Server  # noqa: E402

MANAGE = [sys.executable, str(ROOT / "project" / "manage.py")]
WORKLOAD_STATUS = ("Com_insert", "Com_update", "Com_delete", "Com_commit", "Com_select", "Com_begin",
                   "Com_set_option", "Connections")


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load()


@pytest.fixture(scope="session")
def database(settings: Settings) -> Iterator[Settings]:
    """The private MariaDB, migrated and seeded; stopped at the end if the tests started it."""
    yield from _prepared(settings, {})


PG = {"DB_ENGINE": "postgresql"}  # the environment of a server or command on the private PostgreSQL


@pytest.fixture(scope="session")
def pg_database() -> Iterator[Settings]:
    """The private PostgreSQL, migrated and seeded; stopped at the end if the tests started it.
    Servers on it get PG in their environment: Server(stack, pg_database, extra_env=PG)."""
    yield from _prepared(load(PG), PG)


def _prepared(settings: Settings, env_overrides: dict[str, str]) -> Iterator[Settings]:
    was_running = settings.database.private and db.running_pid(settings) is not None
    db.start(settings)
    env = {**os.environ, "PYTHONPATH": str(ROOT), **env_overrides}
    for command in (["migrate", "--noinput", "-v", "0"], ["seed_users"]):
        subprocess.run(MANAGE + command, check=True, env=env, cwd=ROOT / "project", capture_output=True)
    yield settings
    if settings.database.private and not was_running:
        db.stop(settings)
    shutil.rmtree(settings.io_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def servers(database: Settings) -> Iterator[dict[str, Server]]:
    """Lazily started servers by stack id, shared by the whole session."""
    started: dict[str, Server] = {}
    yield started
    for server in started.values():
        server.stop()


@pytest.fixture(scope="session")
def start_server(servers: dict[str, Server], database: Settings, tmp_path_factory):
    logs = tmp_path_factory.mktemp("server-logs")

    def start(stack: str) -> Server:
        if stack not in servers:
            port = free_port()
            server = Server(stack, database, port=port, log_path=logs / f"{stack}.log")
            server.start()
            servers[stack] = server
            server.wait_ready()
        return servers[stack]

    return start


class StatusCounters:
    """MariaDB's global counters, read over one admin connection so that reading them
    opens no connection of its own between two readings."""

    def __init__(self, settings: Settings):
        self.conn = mariadb.admin_connection(settings)

    def __enter__(self) -> StatusCounters:
        return self

    def __exit__(self, *exc) -> None:
        self.conn.close()

    def read(self) -> dict[str, int]:
        cur = self.conn.cursor()
        cur.execute("SHOW GLOBAL STATUS WHERE Variable_name IN %s", (WORKLOAD_STATUS,))
        return {name: int(value) for name, value in cur.fetchall()}


def bench_record_count(settings: Settings, database_name: str | None = None) -> int:
    """Rows in lab_records (of the settings' database, or the one named)."""
    conn = mariadb.admin_connection(settings)
    try:
        cur = conn.cursor()
        cur.execute(f"SELECT COUNT(*) FROM `{database_name or settings.database.name}`.lab_records")
        return cur.fetchone()[0]
    finally:
        conn.close()


def io_dir_files(settings: Settings) -> list[Path]:
    """Everything in IO_DIR but the lab's mark."""
    return sorted(p for p in settings.io_dir.iterdir() if p.name != IO_DIR_MARK) if settings.io_dir.exists() else []


@pytest.fixture(scope="session", params=RUN_DIRS, ids=[p.name for p in RUN_DIRS])
def reported(request, tmp_path_factory) -> tuple[Path, str, str]:
    """A saved run (fixtures/runs/) copied to tmp and reported on, once per session for the
    report's tests and its Chromium tests: the copy, its report.md, what main printed."""
    run_dir = tmp_path_factory.mktemp("run") / request.param.name
    shutil.copytree(request.param, run_dir)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert report.main([str(run_dir)]) == 0
    return run_dir, (run_dir / "report.md").read_text(), printed.getvalue()
