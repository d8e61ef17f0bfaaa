"""The MariaDB engine (lab/db.py): the private server under var/mysql, and the
connections the lab opens to it.

No system service and no Docker: mariadbd runs as a child of nobody, pinned to DB_CPUS,
bound to 127.0.0.1 and a socket in var/mysql. When DATABASE_URL is set, nothing is
started and that server is used as it is.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import MySQLdb

from lab.config import ROOT, Settings, format_cpus
from lab.db import DatabaseError, check_writable, command_line, lab_server_pid, refuse_foreign, stop_server
from lab.log_tail import log_tail
from lab.net import port_in_use

MYSQL_DIR = ROOT / "var" / "mysql"
SERVER_DIR = MYSQL_DIR  # what `scripts/db.sh reset` deletes
DATA_DIR = MYSQL_DIR / "data"
SOCKET = MYSQL_DIR / "mysqld.sock"
PID_FILE = MYSQL_DIR / "mariadbd.pid"
ERROR_LOG = MYSQL_DIR / "error.log"
START_TIMEOUT_S = 60
# Access denied to a database, a command on a table, a column, or a privilege (PROCESS, SUPER).
PRIVILEGE_ERRORS = {1044, 1142, 1143, 1227}
INSTALL_HINT = "install it with: sudo apt-get install mariadb-server (or run scripts/setup.sh)"


def privilege_error(error: MySQLdb.Error) -> str | None:
    """MariaDB's own one-line message when `error` is a missing privilege (it names the
    privilege), else None."""
    if error.args and error.args[0] in PRIVILEGE_ERRORS:
        return str(error.args[-1])
    return None


def _binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin:/sbin")
        if found:
            return found
    raise DatabaseError(f"{names[0]} not found; {INSTALL_HINT}")


def running_pid() -> int | None:
    """The pid in var/mysql/mariadbd.pid, only while that process is this lab's mariadbd
    on this lab's data folder: a stale pid file whose number now belongs to another
    process names nothing (stop would otherwise signal that process)."""
    return lab_server_pid(lambda: PID_FILE.read_text().strip(), is_lab_mariadbd)


def is_lab_mariadbd(pid: int) -> bool:
    program, argv = command_line(pid)
    return program in ("mariadbd", "mysqld") and f"--datadir={DATA_DIR}".encode() in argv


def timeouts(settings: Settings) -> dict[str, int]:
    """Connect and read/write timeouts for every mysqlclient connection (settings.env
    DB_CONNECT_TIMEOUT_S, DB_READ_TIMEOUT_S): a stalled server fails a query, never hangs it."""
    return {"connect_timeout": settings.db_connect_timeout_s, "read_timeout": settings.db_read_timeout_s,
            "write_timeout": settings.db_read_timeout_s}


def admin_connection(settings: Settings) -> MySQLdb.Connection:
    """Root over the private socket; for DATABASE_URL servers, the configured user."""
    if settings.database.private:
        return MySQLdb.connect(unix_socket=str(SOCKET), user="root", charset="utf8mb4", autocommit=True,
                               **timeouts(settings))
    return app_connection(settings)


def app_connection(settings: Settings) -> MySQLdb.Connection:
    db = settings.database
    return MySQLdb.connect(host=db.host, port=db.port, user=db.user, password=db.password,
                           database=db.name, charset="utf8mb4", autocommit=True, **timeouts(settings))


# The lab's tables: a DATABASE_URL database holding any other is refused (check_lab_only).
LAB_TABLES = ("lab_users", "lab_records", "django_migrations")
LAB_APP = "workload"


def foreign_tables(conn: MySQLdb.Connection, name: str) -> list[str]:
    """The tables of database `name` that are not the lab's, and a django_migrations that
    records any app but the lab's own (a user's Django project)."""
    cur = conn.cursor()
    cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY table_name",
                (name,))
    tables = [row[0] for row in cur.fetchall()]
    foreign = [t for t in tables if t not in LAB_TABLES]
    if "django_migrations" in tables:
        cur.execute(f"SELECT DISTINCT app FROM `{name}`.django_migrations WHERE app <> %s", (LAB_APP,))
        foreign += [f"django_migrations (app {row[0]})" for row in cur.fetchall()]
    return foreign


def check_lab_only(settings: Settings) -> None:
    """Refuse a DATABASE_URL database that holds anything but the lab's tables (db.refuse_foreign)."""
    conn = app_connection(settings)
    try:
        foreign = foreign_tables(conn, settings.database.name)
    finally:
        conn.close()
    refuse_foreign(settings.database.name, foreign)


def _user_flags() -> list[str]:
    # mariadbd refuses to run as root unless told to; as any other user it runs as itself.
    return ["--user=root"] if os.geteuid() == 0 else []


def _initialise() -> None:
    print(f"db: initialising {DATA_DIR}")
    result = subprocess.run(
        [_binary("mariadb-install-db", "mysql_install_db"), "--no-defaults", f"--datadir={DATA_DIR}",
         "--auth-root-authentication-method=socket", "--skip-test-db", *_user_flags()],
        capture_output=True, text=True)
    if result.returncode != 0:
        shutil.rmtree(DATA_DIR, ignore_errors=True)
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise DatabaseError("mariadb-install-db failed: " + " | ".join(tail))


def _error_log_tail() -> str:
    return log_tail(ERROR_LOG, 5, "(no error log)")


def _wait_until_answering(process: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DatabaseError(f"mariadbd exited with status {process.returncode}: {_error_log_tail()}")
        try:
            MySQLdb.connect(unix_socket=str(SOCKET), user="root", connect_timeout=5).close()
            return
        except MySQLdb.OperationalError:
            time.sleep(0.2)
    raise DatabaseError(f"mariadbd did not answer within {START_TIMEOUT_S} s: {_error_log_tail()}")


def _ensure_database_and_user(settings: Settings) -> None:
    db = settings.database
    conn = admin_connection(settings)
    try:
        cur = conn.cursor()
        cur.execute(f"CREATE DATABASE IF NOT EXISTS `{db.name}` "
                    "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        for host in ("127.0.0.1", "localhost"):
            cur.execute("CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s", (db.user, host, db.password))
            cur.execute("ALTER USER %s@%s IDENTIFIED BY %s", (db.user, host, db.password))
            cur.execute(f"GRANT ALL PRIVILEGES ON `{db.name}`.* TO %s@%s", (db.user, host))
    finally:
        conn.close()


def start(settings: Settings) -> None:
    """Idempotent: initialise if needed, start if not running, ensure database and user."""
    db = settings.database
    if not db.private:
        print(f"db: DATABASE_URL is set; using {db.user}@{db.host}:{db.port}/{db.name}, nothing started")
        try:
            check_lab_only(settings)
        except MySQLdb.Error as error:
            raise DatabaseError(f"cannot use the DATABASE_URL server: {error.args[-1]}") from None
        return
    mariadbd = _binary("mariadbd", "mysqld")
    if running_pid() is None:
        check_writable(MYSQL_DIR)
        if port_in_use("127.0.0.1", db.port):
            raise DatabaseError(f"port {db.port} is taken by another process; stop it or set DB_PORT "
                                "in settings.env to a free port")
        if not (DATA_DIR / "mysql").is_dir():
            _initialise()
        SOCKET.unlink(missing_ok=True)
        command = ["taskset", "-c", format_cpus(settings.db_cpus), mariadbd, "--no-defaults",
                   f"--datadir={DATA_DIR}", f"--socket={SOCKET}", f"--port={db.port}",
                   "--bind-address=127.0.0.1", f"--pid-file={PID_FILE}", f"--log-error={ERROR_LOG}",
                   f"--max-connections={settings.db_max_connections}", "--skip-name-resolve",
                   "--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci",
                   "--innodb-buffer-pool-size=256M", *_user_flags()]
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
        _wait_until_answering(process)
        print(f"db: started mariadbd pid {process.pid} on 127.0.0.1:{db.port} (CPUs "
              f"{format_cpus(settings.db_cpus)}, max_connections {settings.db_max_connections})")
    _ensure_database_and_user(settings)


def stop() -> None:
    stop_server(running_pid(), "mariadbd", signal.SIGTERM)


def describe(settings: Settings) -> str:
    """What `scripts/db.sh status` says of the running server."""
    conn = admin_connection(settings)
    try:
        cur = conn.cursor()
        cur.execute("SELECT VERSION(), @@max_connections")
        version, max_connections = cur.fetchone()
    finally:
        conn.close()
    return (f"MariaDB {version}, 127.0.0.1:{settings.database.port}, socket {SOCKET}, "
            f"max_connections {max_connections}")
