"""PostgreSQL: the sync path's driver, psycopg 3, on lab.postgresql's connection
(autocommit on, connect timeout and the server's statement_timeout). Never imported on MariaDB.

With autocommit on, psycopg's own transaction block sends BEGIN and COMMIT and nothing else
(on an error it tries ROLLBACK, and sync_db then closes the connection anyway). PostgreSQL
has no lastrowid: an INSERT returns its id.
"""

from contextlib import AbstractContextManager

import psycopg
from psycopg.rows import dict_row

from lab import postgresql

NAME = "psycopg"
Error = psycopg.Error
connect = postgresql.app_connection


def transaction(conn: psycopg.Connection) -> AbstractContextManager:
    return conn.transaction()


def cursor(conn: psycopg.Connection, dict_rows: bool = False) -> psycopg.Cursor:
    return conn.cursor(row_factory=dict_row) if dict_rows else conn.cursor()


def insert(cur: psycopg.Cursor, statement: str, params: tuple) -> int:
    """Run an INSERT; the new row's id."""
    cur.execute(f"{statement} RETURNING id", params)
    return cur.fetchone()[0]
