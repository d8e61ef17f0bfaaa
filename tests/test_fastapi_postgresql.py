"""FastAPI on the real private PostgreSQL (DB_ENGINE=postgresql, database lab_test), served
by real Granian: the users pages hold the seed (as on MariaDB), the io workload answers its exact body,
leaves nothing behind, sends exactly the statements it does on MariaDB, /info/ names the
drivers in use, nothing of MariaDB's is loaded, and stopping the server leaves no process
and no connection.

Statements are read off the wire: the server reaches PostgreSQL through a TCP tap
(LAB_DB_VIA) that relays every byte unchanged and reads the client's side: each simple
Query, and each Execute of a statement parsed earlier on that connection. (The gate counts
them a second way, from PostgreSQL's own statement log: tests/test_postgresql.py.)
"""

from __future__ import annotations

import collections
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import httpx
import psycopg
import pytest
from conftest import PG, io_dir_files

from bench.driver.users_page import parse_users_table, seed_rows
from lab import io_files, postgresql
from lab.config import ROOT, Settings
from lab.net import free_port, port_in_use
from lab.serve import Server

REQUESTS = 3
# Per io request, on both paths: the workload's statements, each block begun explicitly.
PER_REQUEST = {**io_files.STATEMENTS_PER_REQUEST, "begin": io_files.DB_BLOCKS}
WORKLOAD = {
    "insert": r'INSERT INTO "?lab_records"? .*',
    "update": r'UPDATE "?lab_records"? SET .*',
    "delete": r'DELETE FROM "?lab_records"? WHERE .*',
    "select": r'SELECT COUNT\(\*\) FROM "?lab_records"?',
    "begin": r"BEGIN",
    "commit": r"COMMIT",
}
IO_PATHS = ("/sync/io/", "/async/io/")
# What only MariaDB may load: its drivers and the service's modules for them.
MARIADB_ONLY = ("aiomysql", "pymysql", "MySQLdb", "fastapi_service.aiomysql_engine",
                "fastapi_service.aiomysql_read_timeout", "fastapi_service.aiomysql_autocommit",
                "fastapi_service.sync_mysqlclient")
LIFESPAN = """
import asyncio, sys
from fastapi_service.main import app

async def main():
    async with app.router.lifespan_context(app):
        print(*sorted(set(sys.argv[1:]) & set(sys.modules)))

asyncio.run(main())
"""
STARTUP = 196608  # protocol 3.0: the StartupMessage, after which every message is typed


class _Frontend:
    """One connection's client-to-server bytes, read as PostgreSQL protocol messages:
    `record` gets the text of each statement executed."""

    def __init__(self, record: Callable[[str], None]):
        self.record = record
        self.buffer = b""
        self.started = False  # SSLRequest and the like come untyped, before the StartupMessage
        self.statements: dict[bytes, str] = {}
        self.portals: dict[bytes, str] = {}

    def feed(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= 5:
            size = 1 + struct.unpack("!i", self.buffer[1:5])[0] if self.started else \
                struct.unpack("!i", self.buffer[:4])[0]
            if len(self.buffer) < size:
                return
            message, self.buffer = self.buffer[:size], self.buffer[size:]
            if self.started:
                self._typed(message[:1], message[5:])
            else:
                self.started = struct.unpack("!i", message[4:8])[0] == STARTUP

    def _typed(self, kind: bytes, body: bytes) -> None:
        if kind == b"Q":  # simple query: one or more statements
            for statement in body.rstrip(b"\0").decode().split(";"):
                if statement.strip():
                    self.record(statement)
        elif kind == b"P":  # Parse: statement name, text
            name, text, _ = body.split(b"\0", 2)
            self.statements[name] = text.decode()
        elif kind == b"B":  # Bind: portal name, statement name
            portal, name, _ = body.split(b"\0", 2)
            self.portals[portal] = self.statements[name]
        elif kind == b"E":  # Execute: portal name
            self.record(self.portals[body.split(b"\0", 1)[0]])


class StatementTap:
    """A TCP relay on a free loopback port to PostgreSQL, a thread per direction and
    connection, counting the statements executed and the connections opened through it."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.lock = threading.Lock()
        self.executed: collections.Counter[str] = collections.Counter()
        self.opened = 0
        self.upstream_ports: set[int] = set()  # the backends' client_port in pg_stat_activity
        self.links: list[tuple[socket.socket, socket.socket]] = []
        self.pumps: list[threading.Thread] = []
        self.closing = False
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)  # the accept loop looks at `closing` this often
        self.port = self.listener.getsockname()[1]
        self.acceptor = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> StatementTap:
        self.acceptor.start()
        return self

    def __exit__(self, *exc) -> None:
        self.closing = True
        self.acceptor.join(timeout=5)
        for link in self.links:
            _shut(*link)
        for pump in self.pumps:
            pump.join(timeout=5)
        self.listener.close()

    def read(self) -> tuple[collections.Counter[str], int]:
        with self.lock:
            return collections.Counter(self.executed), self.opened

    def open_links(self) -> int:
        return sum(client.fileno() != -1 for client, _ in self.links)

    def _record(self, statement: str) -> None:
        with self.lock:
            self.executed[" ".join(statement.split())] += 1

    def _accept(self) -> None:
        while not self.closing:
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.opened += 1
                self.upstream_ports.add(upstream.getsockname()[1])
                self.links.append((client, upstream))
            for source, sink, parse in ((client, upstream, _Frontend(self._record).feed), (upstream, client, None)):
                pump = threading.Thread(target=_pump, args=(source, sink, parse), daemon=True)
                self.pumps.append(pump)
                pump.start()


def _pump(source: socket.socket, sink: socket.socket, parse: Callable[[bytes], None] | None) -> None:
    """Relay until either side closes, then close both (the service's close ends the backend)."""
    try:
        while data := source.recv(65536):
            if parse:
                parse(data)  # before forwarding: counted before the server can answer
            sink.sendall(data)
    except OSError:
        pass
    finally:
        _shut(source, sink)


def _shut(*sockets: socket.socket) -> None:
    for sock in sockets:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()


def kind(statement: str) -> str:
    """The workload's name for a statement, or the statement itself if it is none of them."""
    return next((name for name, pattern in WORKLOAD.items() if re.fullmatch(pattern, statement, re.IGNORECASE)),
                statement)


@pytest.fixture(scope="module")
def tap(pg_database: Settings) -> Iterator[StatementTap]:
    with StatementTap((pg_database.database.host, pg_database.database.port)) as tap:
        yield tap


@pytest.fixture(scope="module")
def server(pg_database: Settings, tap: StatementTap, tmp_path_factory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("server-logs") / "fastapi-postgresql.log"
    server = Server("fastapi", pg_database, port=free_port(), log_path=log,
                    extra_env={**PG, "LAB_DB_VIA": f"127.0.0.1:{tap.port}"})
    try:
        server.start()
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def admin(pg_database: Settings):
    with postgresql.admin_connection(pg_database) as conn:
        yield conn


def empty_soon(admin) -> bool:
    """lab_records is empty, or becomes so within seconds: other tests' servers may be in
    the middle of a request on lab_test, but rows a request leaves stay for good."""
    deadline = time.monotonic() + 10
    while record_count(admin) and time.monotonic() < deadline:
        time.sleep(0.2)
    return record_count(admin) == 0


def record_count(admin) -> int:
    return admin.execute("SELECT COUNT(*) FROM lab_records").fetchone()[0]


@pytest.mark.parametrize("query", ["", "?limit=3"])
@pytest.mark.parametrize("path", ["/sync/", "/async/"])
def test_users_page_holds_the_seed(client, path, query):
    response = client.get(f"{path}{query}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert parse_users_table(response.text) == seed_rows()[:3 if query else None]


@pytest.mark.parametrize("path", ["/sync/io/", "/async/io/"])
def test_io_response_leaves_nothing(client, admin, pg_database, path):
    for _ in range(2):
        response = client.post(path)
        assert response.status_code == 200
        assert response.content == io_files.RESPONSE_BODY.encode()
        assert response.headers["content-type"] == "application/json"
    assert empty_soon(admin)
    assert io_dir_files(pg_database) == []


def test_statements_per_request(client, tap):
    """Both paths: the statements on the wire, per path (the gate counts them from the server's
    own log too: tests/test_postgresql.py)."""
    for path in IO_PATHS:
        assert client.post(path).status_code == 200  # this path's connections are open from here on
        executed_before, opened_before = tap.read()
        for _ in range(REQUESTS):
            assert client.post(path).status_code == 200
        executed_after, opened_after = tap.read()
        statements = collections.Counter()
        for statement, count in (executed_after - executed_before).items():
            statements[kind(statement)] += count
        assert statements == {name: REQUESTS * count for name, count in PER_REQUEST.items()}, path
        assert opened_after == opened_before, path  # persistent connections: no set-up per request


def test_info_names_the_drivers_in_use(client, pg_database):
    info = client.get("/info/").json()
    assert (info["db_engine"], info["db_driver"], info["sync_db_driver"]) == ("postgresql", "asyncpg", "psycopg")
    assert (info["versions"]["asyncpg"], info["versions"]["psycopg"]) == (asyncpg.__version__, psycopg.__version__)
    assert not {"aiomysql", "pymysql", "mysqlclient"} & set(info["versions"])
    s = info["settings"]
    assert s["pool"]["class"] == "asyncpg.pool.Pool"
    size = pg_database.fastapi_pool_size
    assert (s["pool"]["minsize"], s["pool"]["maxsize"], s["pool"]["open"], s["pool_size"]) == (size,) * 4


def test_mariadb_pieces_not_loaded(pg_database):
    """The app started on PostgreSQL (its pool open) has loaded nothing of MariaDB's."""
    result = subprocess.run([sys.executable, "-c", LIFESPAN, *MARIADB_ONLY], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, env={**os.environ, **PG, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_stop_leaves_nothing(server, tap, admin):
    """Last: the server stops, its processes are gone, and so are its connections."""
    pids = server.pids()
    assert pids
    server.stop()
    assert [pid for pid in pids if Path(f"/proc/{pid}").exists()] == []
    assert not port_in_use(server.host, server.port)
    deadline = time.monotonic() + 10
    while tap.open_links() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert tap.open_links() == 0
    while backends(admin, tap) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert backends(admin, tap) == 0


def backends(admin, tap: StatementTap) -> int:
    return admin.execute("SELECT count(*) FROM pg_stat_activity WHERE client_port = ANY(%s)",
                         (sorted(tap.upstream_ports),)).fetchone()[0]
