"""What the driver asks MariaDB (the probe of bench/driver/dbprobe.py): counters, InnoDB
state, the general log, and resets.

Every call goes over an admin connection (root on the private socket, the configured
user on a DATABASE_URL server). A database that went away raises DatabaseGone, which
the runner records as failed rows with a clear message.

The lab changes no global setting, log or table of a server it did not start: on a
DATABASE_URL server (not `owned`) the general-log audit is not run, and what needs a
privilege the user may not have given (PROCESS for InnoDB's state) reads as unknown.
"""

from __future__ import annotations

import re
import uuid

import MySQLdb

from bench.driver.dbprobe import AUDIT_NOT_OWNED, AuditUnavailable, DatabaseGone, MissingPrivilege
from lab import mariadb as db
from lab.config import Settings

HISTORY_RE = re.compile(r"History list length (\d+)")
# Error codes meaning the server is not there (any more): shutting down, cannot connect
# over the socket or TCP, gone away, lost (also with a system error).
CONNECTION_LOST = {1053, 2002, 2003, 2006, 2013, 2055}
GENERAL_LOG_LOCK = "asgi-wsgi-lab general log"
GENERAL_LOG_WAIT_S = 60


class MariaDbProbe:
    """One admin connection (not thread-safe: one probe per thread)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        try:
            self.conn = db.admin_connection(settings)
        except MySQLdb.OperationalError as error:
            raise DatabaseGone(f"database unavailable: {error.args[-1]}") from None
        self.owned = settings.database.private  # the lab's own server: its global settings are the lab's
        self.audit_why_not = None if self.owned else AUDIT_NOT_OWNED.format(log="server-wide general log")
        self.thread_id = self.conn.thread_id()
        self.lab_threads: set[int] = set()
        self.log_marker = ""

    def close(self) -> None:
        try:
            self.conn.close()
        except MySQLdb.Error:
            pass

    def query(self, sql: str, args=None) -> list[tuple]:
        try:
            cur = self.conn.cursor()
            cur.execute(sql, args)
            return list(cur.fetchall())
        except MySQLdb.Error as error:
            if error.args and error.args[0] in CONNECTION_LOST:
                raise DatabaseGone(f"database went away: {error.args[-1]}") from None
            if message := db.privilege_error(error):
                raise MissingPrivilege(f"database user lacks a privilege: {message}") from None
            raise

    def status(self, *names: str) -> dict[str, int]:
        rows = self.query("SHOW GLOBAL STATUS WHERE Variable_name IN %s", (names,))
        return {name: int(value) for name, value in rows}

    def connections_opened(self) -> int:
        """Connections the server has accepted since it started (a counter)."""
        return self.status("Connections")["Connections"]

    def connected(self) -> int:
        return self.status("Threads_connected")["Threads_connected"]

    def running_statements(self) -> int:
        """Statements of the lab database's sessions running now (not this probe's)."""
        return self.query("SELECT COUNT(*) FROM information_schema.processlist WHERE command = 'Query' "
                          "AND id <> CONNECTION_ID() AND db = %s", (self.settings.database.name,))[0][0]

    def max_connections(self) -> int:
        return int(self.query("SELECT @@max_connections")[0][0])

    def raise_max_connections(self, needed: int) -> bool:
        """On the lab's own server, at once (a global setting)."""
        self.query(f"SET GLOBAL max_connections = {int(needed)}")
        return True

    def backlog(self) -> int | None:
        """Old row versions waiting for purge: InnoDB's history list length."""
        return self.history_length()

    def history_length(self) -> int | None:
        try:
            text = self.query("SHOW ENGINE INNODB STATUS")[0][2]
        except (DatabaseGone, MySQLdb.Error, IndexError):
            return None
        match = HISTORY_RE.search(text)
        return int(match.group(1)) if match else None

    def open_transactions(self) -> int | None:
        """InnoDB's open transactions; None when the user lacks PROCESS (DATABASE_URL)."""
        try:
            return self.query("SELECT COUNT(*) FROM information_schema.innodb_trx")[0][0]
        except MissingPrivilege:
            return None

    def lab_records(self) -> int:
        return self.query(f"SELECT COUNT(*) FROM `{self.settings.database.name}`.lab_records")[0][0]

    def reset_lab_records(self) -> None:
        """Empty lab_records; bounded wait, since an idle-in-transaction connection would
        hold its metadata lock forever."""
        self.query("SET SESSION lock_wait_timeout = 10")
        self.query(f"TRUNCATE TABLE `{self.settings.database.name}`.lab_records")

    def variables(self) -> dict[str, str]:
        names = ("version", "max_connections", "innodb_buffer_pool_size", "innodb_flush_log_at_trx_commit",
                 "transaction_isolation", "tx_isolation", "character_set_server", "sync_binlog", "log_bin")
        return {name: value for name, value in self.query("SHOW GLOBAL VARIABLES WHERE Variable_name IN %s",
                                                         (names,))}

    def audit_on(self) -> None:
        try:
            self.general_log_on()
        except MySQLdb.Error as error:
            raise AuditUnavailable(f"general log unavailable: {error.args[-1]}") from None

    def audit_off(self) -> tuple[list[tuple[int, str, str]], bool]:
        try:
            return self.general_log_off()
        except MySQLdb.Error as error:
            raise AuditUnavailable(f"general log unavailable: {error.args[-1]}") from None

    def general_log_on(self) -> None:
        """Log every statement from now on, starting with a marker of our own; note the lab
        database's sessions already open (persistent connections): their statements count,
        as do new sessions'. Lab runs sharing one MariaDB take turns (a named lock)."""
        if not self.owned:
            raise RuntimeError("the general log of a server the lab did not start is not the lab's to switch")
        wait = min(GENERAL_LOG_WAIT_S, self.settings.db_read_timeout_s // 2)  # within the read timeout
        self.query("SELECT GET_LOCK(%s, %s)", (GENERAL_LOG_LOCK, wait))
        try:
            self.query("SET GLOBAL log_output = 'TABLE'")
            self.query("TRUNCATE TABLE mysql.general_log")
            self.query("SET GLOBAL general_log = 1")
            self.log_marker = f"bench gate {uuid.uuid4().hex}"
            self.query("SELECT %s", (self.log_marker,))
            self.lab_threads = {int(row[0]) for row in self.query(
                "SELECT id FROM information_schema.processlist WHERE db = %s", (self.settings.database.name,))}
        except BaseException:  # never leave the log on (it slows MariaDB) nor the lock held
            self.query("SET GLOBAL general_log = 0")
            self.query("SELECT RELEASE_LOCK(%s)", (GENERAL_LOG_LOCK,))
            raise

    def general_log_off(self) -> tuple[list[tuple[int, str, str]], bool]:
        """Switch the log off; return (thread, command type, statement) of the lab database's
        sessions only, and whether the log is intact.

        The log is server-wide. Any other client of the same MariaDB (another lab database
        such as the tests', a shared DATABASE_URL server) would add its statements to the
        stack's counts, and another lab run's gate switches the log off and empties it: the
        log is intact only when it is still on and still holds our marker."""
        if not self.owned:  # the log, its table and the setting are the lab's own server's only
            raise RuntimeError("the general log of a server the lab did not start is not the lab's to switch")
        try:
            still_on = self.query("SELECT @@GLOBAL.general_log")[0][0] == 1
            self.query("SET GLOBAL general_log = 0")
            rows = self.query("SELECT thread_id, command_type, CONVERT(argument USING utf8mb4) "
                              "FROM mysql.general_log ORDER BY event_time")
            self.query("TRUNCATE TABLE mysql.general_log")
        finally:
            self.query("SELECT RELEASE_LOCK(%s)", (GENERAL_LOG_LOCK,))
        rows = [(int(t), c, a or "") for t, c, a in rows]
        intact = still_on and any(t == self.thread_id and self.log_marker in a for t, _, a in rows)
        connected = f" on {self.settings.database.name} using "
        threads = self.lab_threads | {t for t, c, a in rows if c == "Connect" and connected in a}
        return [(t, c, a) for t, c, a in rows if t in threads and t != self.thread_id], intact
