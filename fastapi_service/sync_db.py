"""The sync path's database: one connection per worker thread, as a sync Django view has
under WSGI. FastAPI runs plain `def` endpoints in anyio's thread pool (FASTAPI_SYNC_THREADS
threads, set in main.py), so there are at most that many. The driver is the engine's:
mysqlclient on MariaDB (sync_mysqlclient), psycopg on PostgreSQL (sync_psycopg).

Connections stay open for the thread's life with autocommit on, set explicitly (the engine's
app_connection): both drivers default to off (PEP 249), and then the SELECT COUNT(*) after
each block's COMMIT would open a transaction that stays open, idle, between requests (the
leak aiomysql_autocommit describes). A transaction is always explicit (BEGIN ... COMMIT). After any error the
thread's connection is closed, which makes the server roll back whatever it had open, and
the next request opens a new one. Timeouts are the engine's `timeouts`: a connect that
stalls fails, and so does a read on MariaDB or a statement past the server's
statement_timeout on PostgreSQL (libpq has no read timeout: a PostgreSQL that falls
silent holds the thread, as it does Django's).
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi_service.config import SETTINGS

if SETTINGS.database.engine == "postgresql":
    from fastapi_service import sync_psycopg as _driver
else:
    from fastapi_service import sync_mysqlclient as _driver

DRIVER = _driver.NAME
insert = _driver.insert
_local = threading.local()


def _connection() -> Any:
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = _local.conn = _driver.connect(SETTINGS)
    return conn


def _discard(conn: Any) -> None:
    _local.conn = None
    try:
        conn.close()
    except _driver.Error:
        pass


@contextmanager
def cursor(dict_rows: bool = False) -> Iterator[Any]:
    """A cursor for statements outside a transaction (autocommit); rows as dicts if asked."""
    conn = _connection()
    try:
        with _driver.cursor(conn, dict_rows) as cur:
            yield cur
    except BaseException:
        _discard(conn)
        raise


@contextmanager
def transaction() -> Iterator[Any]:
    """BEGIN, the block's statements, COMMIT; on any error the connection is dropped."""
    conn = _connection()
    try:
        with _driver.transaction(conn), _driver.cursor(conn) as cur:
            yield cur
    except BaseException:
        _discard(conn)
        raise
