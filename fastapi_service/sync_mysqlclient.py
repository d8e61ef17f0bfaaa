"""MariaDB: the sync path's driver, mysqlclient, on lab.mariadb's connection (autocommit
on, connect and read timeouts). Never imported on PostgreSQL."""

from collections.abc import Iterator
from contextlib import contextmanager

import MySQLdb
from MySQLdb.cursors import Cursor, DictCursor

from lab import mariadb

NAME = "mysqlclient"
Error = MySQLdb.Error
connect = mariadb.app_connection


@contextmanager
def transaction(conn: MySQLdb.Connection) -> Iterator[None]:
    conn.begin()
    yield
    conn.commit()


def cursor(conn: MySQLdb.Connection, dict_rows: bool = False) -> Cursor:
    return conn.cursor(DictCursor if dict_rows else None)


def insert(cur: Cursor, statement: str, params: tuple) -> int:
    """Run an INSERT; the new row's id."""
    cur.execute(statement, params)
    return cur.lastrowid
