"""FastAPI's io workload on the real MariaDB (docs/design.md, The io workload): the exact response,
the exact statements per request on both paths, nothing left behind (rows, files), and no
connection of the service left inside a transaction after a burst of requests.

MariaDB's Com_* counters are global: other clients of the same server during a
measurement show up as a small excess; re-run rather than loosen the counts.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from conftest import StatusCounters, bench_record_count, io_dir_files

from lab import io_files, mariadb
from lab.config import ROOT, Settings
from lab.serve import Server

IO_PATHS = ["/sync/io/", "/async/io/"]
REQUESTS = 5
# Per request, on every stack (lab/io_files.py); FastAPI begins each DB block explicitly.
PER_REQUEST = {f"Com_{kind}": n for kind, n in io_files.STATEMENTS_PER_REQUEST.items()}
BEGINS_PER_REQUEST = io_files.DB_BLOCKS
BURST_REQUESTS = 40
BURST_THREADS = 8
SETTLE_S = 5.0


@pytest.fixture(scope="module")
def server(start_server) -> Server:
    return start_server("fastapi")


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        yield client


def _socket_inodes(pids: set[int]) -> set[str]:
    inodes = set()
    for pid in pids:
        fd_dir = Path(f"/proc/{pid}/fd")
        try:
            fds = list(fd_dir.iterdir())
        except FileNotFoundError:
            continue
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    return inodes


def _local_ports(inodes: set[str]) -> set[int]:
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def service_connection_ids(server: Server, settings: Settings) -> set[int]:
    """MariaDB connection ids of the server's own sockets (other clients share the server
    and the user, so connections are matched by their client port)."""
    ports = _local_ports(_socket_inodes(server.pids()))
    conn = mariadb.admin_connection(settings)
    try:
        cur = conn.cursor()
        cur.execute("SELECT id, host FROM information_schema.processlist WHERE user = %s",
                    (settings.database.user,))
        return {conn_id for conn_id, host in cur.fetchall()
                if host and ":" in host and int(host.rsplit(":", 1)[1]) in ports}
    finally:
        conn.close()


def open_transactions(settings: Settings, connection_ids: set[int]) -> list[tuple]:
    conn = mariadb.admin_connection(settings)
    try:
        cur = conn.cursor()
        cur.execute("SELECT trx_mysql_thread_id, trx_state, trx_started, trx_query "
                    "FROM information_schema.innodb_trx")
        return [row for row in cur.fetchall() if row[0] in connection_ids]
    finally:
        conn.close()



@pytest.mark.parametrize("path", IO_PATHS)
def test_io_response(client, path):
    response = client.post(path)
    assert response.status_code == 200
    assert response.content == io_files.RESPONSE_BODY.encode()
    assert response.headers["content-length"] == str(len(io_files.RESPONSE_BODY))
    assert response.headers["content-type"] == "application/json"
    assert re.fullmatch(r"app;dur=\d+\.\d", response.headers["server-timing"])


@pytest.mark.parametrize("path", IO_PATHS)
def test_io_get_is_405(client, path):
    response = client.get(path)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.headers["content-length"] == str(len(response.content))


@pytest.mark.parametrize("path", IO_PATHS)
def test_statements_per_request(client, server, database, path):
    assert client.post(path).status_code == 200  # this path's connections are open from here on
    connections = service_connection_ids(server, database)
    assert connections
    with StatusCounters(database) as counters:
        before = counters.read()
        for _ in range(REQUESTS):
            assert client.post(path).status_code == 200
        after = counters.read()
    delta = {name: after[name] - before[name] for name in after}
    assert {name: delta[name] for name in PER_REQUEST} == {
        name: REQUESTS * count for name, count in PER_REQUEST.items()}, f"all deltas: {delta}"
    assert delta["Com_begin"] == REQUESTS * BEGINS_PER_REQUEST, f"all deltas: {delta}"
    # Pooled and per-thread connections persist: no connection (and no set-up) per request.
    assert service_connection_ids(server, database) <= connections


@pytest.mark.parametrize("path", IO_PATHS)
def test_nothing_left_behind(client, database, path):
    for _ in range(3):
        assert client.post(path).status_code == 200
    assert bench_record_count(database) == 0
    assert io_dir_files(database) == []


def test_no_transaction_left_after_burst(client, server, database):
    def post(path: str) -> int:
        return client.post(path).status_code

    with ThreadPoolExecutor(BURST_THREADS) as pool:
        statuses = list(pool.map(post, IO_PATHS * (BURST_REQUESTS // len(IO_PATHS))))
    assert statuses == [200] * BURST_REQUESTS
    connections = service_connection_ids(server, database)
    assert len(connections) > database.fastapi_pool_size  # the whole pool and some sync threads
    # innodb_trx is a cache InnoDB refreshes at most every 0.1 s: poll briefly, then insist.
    deadline = time.monotonic() + SETTLE_S
    while open_transactions(database, connections) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert open_transactions(database, connections) == []
    assert bench_record_count(database) == 0
    assert io_dir_files(database) == []


LIFESPAN = """
import asyncio
{patch}
from fastapi_service.main import app

async def main():
    async with app.router.lifespan_context(app):
        pass

asyncio.run(main())
"""
# Fault injection: the same aiomysql pool, its connections opened with autocommit off.
AUTOCOMMIT_OFF = """
from fastapi_service import aiomysql_engine
create_pool = aiomysql_engine.aiomysql.create_pool
aiomysql_engine.aiomysql.create_pool = lambda **kwargs: create_pool(**{**kwargs, "autocommit": False})
"""


@pytest.mark.parametrize(("patch", "refused"), [("", False), (AUTOCOMMIT_OFF, True)],
                         ids=["stock", "autocommit-off"])
def test_startup_refuses_a_pool_with_autocommit_off(database, patch, refused):
    """The lifespan opens the real pool on the real database and checks it (see async_db)."""
    result = subprocess.run([sys.executable, "-c", LIFESPAN.format(patch=patch)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert (result.returncode != 0) == refused, result.stderr
    assert ("pooled connections have autocommit off" in result.stderr) == refused
