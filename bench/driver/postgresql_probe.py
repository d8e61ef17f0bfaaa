"""What the driver asks PostgreSQL (the probe of bench/driver/dbprobe.py): its statistics
views, the snapshots backends hold, and its own CSV log for the statement audit.

The audit: on the lab's own server only, `log_statement` is set to `all` (ALTER SYSTEM,
reloaded) while the gate's few requests run, between two markers of the probe's own; the
log's new lines are then read back, keeping the lab database's sessions. A backend applies
a reload before the next command it reads, so a persistent connection idle between
requests logs its next statement too. Lab runs sharing one server take turns (an advisory
lock). Connections are counted from the log's "connection authorized" lines.
"""

from __future__ import annotations

import csv
import time
import uuid

import psycopg
from psycopg import sql

from bench.driver.dbprobe import AUDIT_NOT_OWNED, AuditUnavailable, DatabaseGone, MissingPrivilege
from lab import postgresql
from lab.config import Settings

AUDIT_LOCK = 0x6C61625F61756469  # pg_advisory_lock key: "lab_audi"
AUDIT_WAIT_S = 60
LOG_WAIT_S = 5  # for the log collector to write the end marker
# csvlog columns (PostgreSQL 15): database_name, process_id, message
CSV_DATABASE, CSV_PID, CSV_MESSAGE = 2, 3, 13
STATEMENT_PREFIXES = ("statement: ", "execute ")


class PostgresProbe:
    """One admin connection (not thread-safe: one probe per thread)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.name = settings.database.name
        try:
            self.conn = postgresql.admin_connection(settings)
        except psycopg.OperationalError as error:
            raise DatabaseGone(f"database unavailable: {_line(error)}") from None
        self.owned = settings.database.private  # the lab's own server: its global settings are the lab's
        self.audit_why_not = None if self.owned else AUDIT_NOT_OWNED.format(log="server-wide statement log")
        self.pid = self.conn.info.backend_pid
        self.log_offset = 0
        self.marker = ""

    def close(self) -> None:
        try:
            self.conn.close()
        except psycopg.Error:
            pass

    def query(self, sql: str, args=None) -> list[tuple]:
        try:
            cur = self.conn.execute(sql, args)
            return list(cur.fetchall()) if cur.description else []
        except psycopg.OperationalError as error:
            raise DatabaseGone(f"database went away: {_line(error)}") from None
        except psycopg.Error as error:
            if message := postgresql.privilege_error(error):
                raise MissingPrivilege(f"database user lacks a privilege: {message}") from None
            if self.conn.closed or self.conn.broken:
                raise DatabaseGone(f"database went away: {_line(error)}") from None
            raise

    def connections_opened(self) -> int:
        """Sessions ever established, over every database (the statistics a backend reports
        when it starts and flushes when it goes idle or ends)."""
        return int(self.query("SELECT COALESCE(SUM(sessions), 0) FROM pg_stat_database")[0][0])

    def connected(self) -> int:
        return int(self.query("SELECT COUNT(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")[0][0])

    def running_statements(self) -> int:
        return int(self.query("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = %s AND state = 'active' "
                              "AND pid <> pg_backend_pid()", (self.name,))[0][0])

    def backlog(self) -> int | None:
        """How many transactions old the oldest snapshot or transaction id a lab session holds
        is (0: none): row versions newer than it cannot be vacuumed (PostgreSQL's counterpart
        of InnoDB's history list). A transaction left open with a snapshot (REPEATABLE READ, or
        a statement running) or a write grows it by every transaction after it; an idle READ
        COMMITTED one that only read holds neither (it still counts in open_transactions)."""
        return int(self.query("SELECT COALESCE(MAX(GREATEST(age(backend_xmin), age(backend_xid))), 0) "
                              "FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                              (self.name,))[0][0])

    def open_transactions(self) -> int | None:
        return int(self.query("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = %s AND xact_start IS NOT NULL "
                              "AND pid <> pg_backend_pid()", (self.name,))[0][0])

    def lab_records(self) -> int:
        return int(self.query("SELECT COUNT(*) FROM lab_records")[0][0])

    def reset_lab_records(self) -> None:
        """Empty lab_records; bounded wait, since an idle-in-transaction session would hold
        its lock forever."""
        self.query("SET lock_timeout = '10s'")
        self.query("TRUNCATE TABLE lab_records")

    def variables(self) -> dict[str, str]:
        names = ("server_version", "max_connections", "shared_buffers", "synchronous_commit", "fsync",
                 "default_transaction_isolation", "wal_level", "server_encoding", "timezone")
        return dict(self.query("SELECT name, setting FROM pg_settings WHERE name = ANY(%s)", (list(names),)))

    def max_connections(self) -> int:
        return int(self.query("SHOW max_connections")[0][0])

    def raise_max_connections(self, needed: int) -> bool:
        """PostgreSQL reads max_connections at start only: not while a run holds connections."""
        return False

    def audit_on(self) -> None:
        if not self.owned:
            raise RuntimeError("the statement log of a server the lab did not start is not the lab's to switch")
        try:
            wait_s = min(AUDIT_WAIT_S, self.settings.db_read_timeout_s // 2)  # within the read timeout
            self.query(sql.SQL("SET lock_timeout = {}").format(sql.Literal(f"{wait_s}s")))
            self.query("SELECT pg_advisory_lock(%s)", (AUDIT_LOCK,))
            self.query("RESET lock_timeout")
            self.log_offset = postgresql.LOG_FILE.stat().st_size
            self._set_log_statement("all")
            self.marker = f"bench gate {uuid.uuid4().hex}"
            self._mark(self.marker)
        except (psycopg.Error, OSError) as error:
            self._release()
            raise AuditUnavailable(f"statement log unavailable: {_line(error)}") from None
        except BaseException:  # never leave the log on (it slows the server) nor the lock held
            self._release()
            raise

    def audit_off(self) -> tuple[list[tuple[int, str, str]], bool]:
        """(session pid, "Connect" or "Query", statement) of the lab database's sessions
        since audit_on, and whether the log is intact (still on, holding our markers)."""
        try:
            still_on = self.query("SHOW log_statement")[0][0] == "all"
            end = f"{self.marker} end"
            self._mark(end)
            rows = self._log_rows(end)
        except (psycopg.Error, OSError) as error:
            raise AuditUnavailable(f"statement log unavailable: {_line(error)}") from None
        finally:
            self._release()
        ours = [(pid, kind, text) for database, pid, kind, text in rows if pid == self.pid]
        intact = still_on and any(self.marker in text for _, _, text in ours) and any(end in t for _, _, t in ours)
        return [(pid, kind, text) for database, pid, kind, text in rows
                if database == self.name and pid != self.pid], intact

    def _mark(self, text: str) -> None:
        """A statement of our own in the log, its text inline (not a bound parameter)."""
        self.query(sql.SQL("SELECT {}").format(sql.Literal(text)))

    def _set_log_statement(self, value: str) -> None:
        """Server-wide, reloaded; waits until this session has applied it (the postmaster
        has then signalled every backend, which applies it before its next command)."""
        if not self.owned:  # every caller checks; this is the last guard before a server-wide change
            raise RuntimeError("the statement log of a server the lab did not start is not the lab's to switch")
        if value == "none":
            self.query("ALTER SYSTEM RESET log_statement")
        else:
            self.query("ALTER SYSTEM SET log_statement = 'all'")
        self.query("SELECT pg_reload_conf()")
        deadline = time.monotonic() + LOG_WAIT_S
        while self.query("SHOW log_statement")[0][0] != value and time.monotonic() < deadline:
            time.sleep(0.01)

    def _release(self) -> None:
        try:
            self._set_log_statement("none")
        finally:
            self.query("SELECT pg_advisory_unlock(%s)", (AUDIT_LOCK,))

    def _log_rows(self, end: str) -> list[tuple[str, int, str, str]]:
        """The log's lines since audit_on, once the collector has written our end marker."""
        deadline = time.monotonic() + LOG_WAIT_S
        while True:
            with open(postgresql.LOG_FILE, newline="", encoding="utf-8", errors="replace") as log:
                log.seek(self.log_offset)
                records = list(csv.reader(log))
            rows = [row for record in records if (row := _entry(record))]
            if any(end in text for _, _, _, text in rows) or time.monotonic() > deadline:
                return rows
            time.sleep(0.05)


def _entry(record: list[str]) -> tuple[str, int, str, str] | None:
    """(database, pid, "Connect" or "Query", statement) of one csvlog record, None for others."""
    if len(record) <= CSV_MESSAGE:
        return None
    database, pid, message = record[CSV_DATABASE], int(record[CSV_PID]), record[CSV_MESSAGE]
    if message.startswith("connection authorized:"):
        return database, pid, "Connect", ""
    for prefix in STATEMENT_PREFIXES:
        if message.startswith(prefix):
            text = message[len(prefix):]
            if prefix == "execute ":  # "execute <name>: SQL" (the extended protocol)
                text = text.partition(": ")[2]
            return database, pid, "Query", text
    return None


def _line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
