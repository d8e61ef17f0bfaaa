"""The sync path's database: one mysqlclient connection per worker thread, as a sync
Django view has under WSGI. FastAPI runs plain `def` endpoints in anyio's thread pool
(FASTAPI_SYNC_THREADS threads, set in main.py), so there are at most that many.

Connections stay open for the thread's life with autocommit on, set explicitly: mysqlclient
defaults to off (PEP 249), and then the SELECT COUNT(*) after each block's COMMIT would
open a transaction that stays open, idle, between requests (the leak async_db describes).
A transaction is always explicit (BEGIN ... COMMIT). After any error the thread's
connection is closed, which makes the server roll back whatever it had open, and the next
request opens a new one. Connect and read timeouts (lab.db.timeouts) turn a stalled
database into a failed request, never a thread waiting for ever.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import MySQLdb
from MySQLdb.cursors import Cursor

from fastapi_service.config import SETTINGS
from lab.db import timeouts

_local = threading.local()


def _connection() -> MySQLdb.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None:
        db = SETTINGS.database
        conn = _local.conn = MySQLdb.connect(host=db.host, port=db.port, user=db.user, password=db.password,
                                             database=db.name, charset="utf8mb4", autocommit=True,
                                             **timeouts(SETTINGS))
    return conn


def _discard(conn: MySQLdb.Connection) -> None:
    _local.conn = None
    try:
        conn.close()
    except MySQLdb.Error:
        pass


@contextmanager
def cursor(cursorclass: type[Cursor] | None = None) -> Iterator[Cursor]:
    """A cursor for statements outside a transaction (autocommit)."""
    conn = _connection()
    try:
        with conn.cursor(cursorclass) as cur:
            yield cur
    except BaseException:
        _discard(conn)
        raise


@contextmanager
def transaction() -> Iterator[Cursor]:
    """BEGIN, the block's statements, COMMIT; on any error the connection is dropped."""
    conn = _connection()
    try:
        conn.begin()
        with conn.cursor() as cur:
            yield cur
        conn.commit()
    except BaseException:
        _discard(conn)
        raise
