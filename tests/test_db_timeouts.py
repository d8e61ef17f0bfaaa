"""A stalled database (it accepts connections, then stops answering) fails requests within
about DB_READ_TIMEOUT_S on every stack and path, never hangs them: Django's OPTIONS, the
FastAPI sync path's mysqlclient, the aiomysql watchdog (fastapi_service/aiomysql_read_timeout)
and lab.db's own connections. The stall is real: a TCP proxy in front of the real MariaDB
that stops forwarding the server's bytes, the servers the real Granian ones (LAB_DB_VIA).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

import httpx
import MySQLdb
import pytest

from lab import mariadb
from lab.config import Settings
from lab.io_files import RESPONSE_BODY
from lab.net import free_port
from lab.serve import Server

TIMEOUT_S = 2  # DB_CONNECT_TIMEOUT_S and DB_READ_TIMEOUT_S of everything under test
# mysqlclient here is on MariaDB Connector/C, which gives up on a stalled read after
# read_timeout, once (measured: 2.00 s for 2 s; Oracle's libmysqlclient retries, 3x), and on
# a stalled handshake after connect_timeout. The aiomysql watchdog cuts a stall up to a
# second late. A request answers well inside REQUEST_BOUND_S, far below the client's timeout.
MYSQLCLIENT_BOUND_S = TIMEOUT_S + 1.5
REQUEST_BOUND_S = 15
CLIENT_TIMEOUT_S = 30
POOL_SIZE = 2
# (stack, path, stalls in a row): on the async path more stalls than the pool has connections,
# each one failing the transaction's BEGIN, and none may cost the pool a connection.
CASES = [("django-wsgi", "/sync/io/", 1), ("django-asgi", "/async/io/", 1), ("fastapi", "/sync/io/", 1),
         ("fastapi", "/async/io/", POOL_SIZE + 1)]
CR_SERVER_LOST = 2013


class StallingProxy:
    """A TCP proxy on a free loopback port to `target`, a thread per direction and connection.
    Inside stalled() it forwards nothing from the server (the client's bytes still go
    through): a database that took the connection or the statement and then fell silent.
    A side that closes closes the other, so the server rolls back what a client gave up on."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.flowing = threading.Event()
        self.flowing.set()
        self.closing = False
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)  # the accept loop looks at `closing` this often
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.pumps: list[threading.Thread] = []
        self.acceptor = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> StallingProxy:
        self.acceptor.start()
        return self

    def __exit__(self, *exc) -> None:
        self.closing = True
        self.flowing.set()
        self.acceptor.join(timeout=5)
        for sock in self.sockets:
            _shut(sock)
        for pump in self.pumps:
            pump.join(timeout=5)
        for sock in [self.listener, *self.sockets]:
            sock.close()

    @contextmanager
    def stalled(self) -> Iterator[None]:
        self.flowing.clear()
        try:
            yield
        finally:
            self.flowing.set()

    def _accept(self) -> None:
        while not self.closing:
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            client.settimeout(None)
            server = socket.create_connection(self.target)
            self.sockets += [client, server]
            for src, dst, from_server in ((client, server, False), (server, client, True)):
                pump = threading.Thread(target=self._pump, args=(src, dst, from_server), daemon=True)
                self.pumps.append(pump)
                pump.start()

    def _pump(self, src: socket.socket, dst: socket.socket, from_server: bool) -> None:
        try:
            while (data := src.recv(65536)) and not self.closing:
                if from_server:
                    self.flowing.wait()
                dst.sendall(data)
        except OSError:
            pass
        finally:
            _shut(src)
            _shut(dst)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


@pytest.fixture(scope="module")
def proxy(database: Settings) -> Iterator[StallingProxy]:
    with StallingProxy((database.database.host, database.database.port)) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def server_via_proxy(database: Settings, proxy: StallingProxy, tmp_path_factory) -> Iterator[Callable[[str], Server]]:
    """Servers of a stack, started on first use, that reach MariaDB through the proxy with
    TIMEOUT_S timeouts; all stopped at the end of the module, failed or not."""
    logs = tmp_path_factory.mktemp("stall-logs")
    env = {"LAB_DB_VIA": f"127.0.0.1:{proxy.port}", "DB_READ_TIMEOUT_S": str(TIMEOUT_S),
           "DB_CONNECT_TIMEOUT_S": str(TIMEOUT_S), "FASTAPI_POOL_SIZE": str(POOL_SIZE)}
    started: dict[str, Server] = {}

    def start(stack: str) -> Server:
        if stack not in started:
            server = started[stack] = Server(stack, database, port=free_port(), log_path=logs / f"{stack}.log",
                                             extra_env=env)
            server.start()
            server.wait_ready()
        return started[stack]

    yield start
    for server in started.values():
        server.stop()


def post(client: httpx.Client, url: str) -> tuple[int | None, float]:
    """The status (None: the server dropped the connection) and the seconds it took."""
    started = time.monotonic()
    try:
        status = client.post(url).status_code
    except (httpx.NetworkError, httpx.RemoteProtocolError):
        status = None
    return status, time.monotonic() - started


@pytest.mark.parametrize(("stack", "path", "stalls"), CASES)
def test_a_stalled_database_fails_the_request_in_time(server_via_proxy, proxy, stack, path, stalls):
    url = server_via_proxy(stack).url + path
    with httpx.Client(timeout=CLIENT_TIMEOUT_S) as client:
        response = client.post(url)
        assert (response.status_code, response.text) == (200, RESPONSE_BODY)
        for _ in range(stalls):
            with proxy.stalled():
                status, elapsed = post(client, url)
            assert status is None or status >= 500, status
            assert TIMEOUT_S <= elapsed < REQUEST_BOUND_S, elapsed
            response = client.post(url)  # and it serves again once the database answers
            assert (response.status_code, response.text) == (200, RESPONSE_BODY)


def via_proxy(settings: Settings, proxy: StallingProxy) -> Settings:
    return replace(settings, database=replace(settings.database, host="127.0.0.1", port=proxy.port),
                   db_connect_timeout_s=TIMEOUT_S, db_read_timeout_s=TIMEOUT_S)


def test_a_stalled_query_raises_within_the_read_timeout(database, proxy):
    conn = mariadb.app_connection(via_proxy(database, proxy))
    try:
        cur = conn.cursor()
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)
        with proxy.stalled():
            started = time.monotonic()
            with pytest.raises(MySQLdb.OperationalError) as error:
                cur.execute("SELECT 1")
            elapsed = time.monotonic() - started
    finally:
        conn.close()
    assert error.value.args[0] == CR_SERVER_LOST
    assert TIMEOUT_S - 0.1 <= elapsed < MYSQLCLIENT_BOUND_S, elapsed


def test_a_stalled_handshake_raises_within_the_connect_timeout(database, proxy):
    started = time.monotonic()
    with proxy.stalled(), pytest.raises(MySQLdb.OperationalError):
        mariadb.app_connection(via_proxy(database, proxy)).close()
    elapsed = time.monotonic() - started
    assert TIMEOUT_S - 0.1 <= elapsed < MYSQLCLIENT_BOUND_S, elapsed
