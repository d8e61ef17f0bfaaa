"""The PostgreSQL engine (lab/db.py): the private server under var/postgresql, and the
connections the lab opens to it.

No system service and no Docker: the distribution's `postgres` binary runs as a child of
nobody, pinned to DB_CPUS, on 127.0.0.1:PG_PORT only (no Unix socket), its log in CSV
under var/postgresql/log (the statement audit reads it). PostgreSQL refuses to run as
root: as root the lab runs it in a user namespace of its own (`unshare --user`), where it
is an ordinary user and its files stay root's outside. Its superuser `postgres` has a
generated password (var/pg_admin_password); the lab's role owns the lab's database and
nothing else. When DATABASE_URL is set, nothing is started and that server is used as it is.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import psycopg
from psycopg import sql

from lab.config import ROOT, Settings, format_cpus, generated_secret
from lab.db import DatabaseError, check_writable, command_line, lab_server_pid, refuse_foreign, stop_server
from lab.log_tail import log_tail
from lab.net import port_in_use

PG_DIR = ROOT / "var" / "postgresql"
SERVER_DIR = PG_DIR  # what `scripts/db.sh reset` deletes
DATA_DIR = PG_DIR / "data"
LOG_DIR = PG_DIR / "log"
LOG_FILE = LOG_DIR / "postgresql.csv"  # what log_destination=csvlog writes (log_filename's .csv twin)
STDERR_LOG = PG_DIR / "server.log"  # the server's output before the log collector takes over
ADMIN = "postgres"
START_TIMEOUT_S = 60
NAMESPACE_UID = 65534  # who the server is inside its user namespace when the lab runs as root
INSTALL_HINT = "install it with: sudo apt-get install postgresql-15 (or run scripts/setup.sh)"
# Access denied: insufficient privilege, invalid authorization.
PRIVILEGE_ERRORS = {"42501", "28000", "28P01"}
LAB_TABLES = ("lab_users", "lab_records", "django_migrations")
LAB_APP = "workload"


def binary(name: str) -> str:
    """The newest installed PostgreSQL's program `name` (Debian keeps them off PATH)."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return found[-1]
    on_path = shutil.which(name)
    if on_path:
        return on_path
    raise DatabaseError(f"{name} not found; {INSTALL_HINT}")


def _as_server_user(command: list[str]) -> list[str]:
    """PostgreSQL will not run as root: as root, in a user namespace where it is not."""
    if os.geteuid() != 0:
        return command
    namespace = ["unshare", "--user", f"--map-user={NAMESPACE_UID}", f"--map-group={NAMESPACE_UID}"]
    if subprocess.run([*namespace, "true"], capture_output=True).returncode != 0:
        raise DatabaseError("PostgreSQL will not run as root, and this machine allows root no user namespace to "
                            "run it in (unshare --user failed): run the lab as an ordinary user (set-up asks sudo "
                            "only to install packages)")
    return [*namespace, *command]


def admin_password() -> str:
    return generated_secret("pg_admin_password")


def timeouts(settings: Settings) -> dict:
    """Connect timeout and a server-side statement timeout for every psycopg connection
    (DB_CONNECT_TIMEOUT_S, DB_READ_TIMEOUT_S): a stalled statement fails, never hangs."""
    return {"connect_timeout": settings.db_connect_timeout_s,
            "options": f"-c statement_timeout={settings.db_read_timeout_s * 1000}"}


def admin_connection(settings: Settings, dbname: str | None = None) -> psycopg.Connection:
    """The superuser over TCP on the private server; for DATABASE_URL servers, the configured user."""
    db = settings.database
    if not db.private:
        return app_connection(settings)
    return psycopg.connect(host="127.0.0.1", port=db.port, user=ADMIN, password=admin_password(),
                           dbname=dbname or db.name, autocommit=True, **timeouts(settings))


def app_connection(settings: Settings) -> psycopg.Connection:
    db = settings.database
    return psycopg.connect(host=db.host, port=db.port, user=db.user, password=db.password, dbname=db.name,
                           autocommit=True, **timeouts(settings))


def privilege_error(error: psycopg.Error) -> str | None:
    """PostgreSQL's own one-line message when `error` is a missing privilege, else None."""
    if getattr(error, "sqlstate", None) in PRIVILEGE_ERRORS:
        return str(error).strip().splitlines()[0]
    return None


def foreign_tables(conn: psycopg.Connection) -> list[str]:
    """The tables of the connection's database that are not the lab's, and a
    django_migrations that records any app but the lab's own (a user's Django project)."""
    tables = [row[0] for row in conn.execute(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables "
        "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1")]
    foreign = [t for t in tables if t not in {f"public.{name}" for name in LAB_TABLES}]
    if "public.django_migrations" in tables:
        foreign += [f"django_migrations (app {row[0]})" for row in conn.execute(
            "SELECT DISTINCT app FROM public.django_migrations WHERE app <> %s", (LAB_APP,))]
    return foreign


def check_lab_only(settings: Settings) -> None:
    """Refuse a DATABASE_URL database that holds anything but the lab's tables (db.refuse_foreign)."""
    with app_connection(settings) as conn:
        refuse_foreign(settings.database.name, foreign_tables(conn))


def running_pid() -> int | None:
    """The postmaster's pid (first line of postmaster.pid), only while that process is a
    postgres on this lab's data folder: a stale pid file names nothing."""
    return lab_server_pid(lambda: (DATA_DIR / "postmaster.pid").read_text().splitlines()[0], is_lab_postgres)


def is_lab_postgres(pid: int) -> bool:
    program, argv = command_line(pid)
    return program == "postgres" and str(DATA_DIR).encode() in argv


def _initialise() -> None:
    print(f"db: initialising {DATA_DIR}")
    password_file = PG_DIR / ".initdb-password"
    fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(admin_password() + "\n")
    try:
        result = subprocess.run(_as_server_user(
            [binary("initdb"), "-D", str(DATA_DIR), "-U", ADMIN, "-A", "scram-sha-256",
             f"--pwfile={password_file}", "-E", "UTF8", "--locale=C", "--no-instructions"]),
            capture_output=True, text=True)
    finally:
        password_file.unlink()
    if result.returncode != 0:
        shutil.rmtree(DATA_DIR, ignore_errors=True)
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise DatabaseError("initdb failed: " + " | ".join(tail))


def server_options(settings: Settings) -> dict[str, str]:
    """Every option that changes what the lab measures or reads, explicit. Written as the
    data folder's postgresql.conf at each start, not given on the command line: a command
    line option would outrank ALTER SYSTEM, which the statement audit uses."""
    return {
        "listen_addresses": "127.0.0.1", "port": str(settings.database.port), "unix_socket_directories": "",
        "max_connections": str(settings.db_max_connections), "shared_buffers": "256MB", "timezone": "UTC",
        "dynamic_shared_memory_type": "mmap",  # in the data folder: nothing left in /dev/shm
        "logging_collector": "on", "log_destination": "csvlog", "log_directory": str(LOG_DIR),
        "log_filename": "postgresql.log", "log_rotation_age": "0", "log_rotation_size": "0",
        "log_connections": "on", "log_statement": "none",
    }


def _write_config(settings: Settings) -> None:
    lines = [f"{key} = '{value}'" for key, value in server_options(settings).items()]
    (DATA_DIR / "postgresql.conf").write_text("# Written by the lab at each start (lab/postgresql.py).\n"
                                              + "\n".join(lines) + "\n")


def _wait_until_answering(process: subprocess.Popen, settings: Settings) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DatabaseError(f"postgres exited with status {process.returncode}: "
                                f"{log_tail(STDERR_LOG, 5, '(no server log)')}")
        try:
            admin_connection(settings, dbname="postgres").close()
            return
        except psycopg.OperationalError:
            time.sleep(0.2)
    raise DatabaseError(f"postgres did not answer within {START_TIMEOUT_S} s: "
                        f"{log_tail(STDERR_LOG, 5, '(no server log)')}")


def _ensure_database_and_role(settings: Settings) -> None:
    """The lab's role (its password refreshed) owning the lab's database and its public
    schema; no right anywhere else."""
    db = settings.database
    with admin_connection(settings, dbname="postgres") as conn:
        role = sql.Identifier(db.user)
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (db.user,)).fetchone()
        verb = "ALTER" if exists else "CREATE"
        conn.execute(sql.SQL(f"{verb} ROLE {{}} LOGIN PASSWORD {{}}").format(role, sql.Literal(db.password)))
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db.name,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8' TEMPLATE template0").format(
                sql.Identifier(db.name), role))
    with admin_connection(settings) as conn:
        conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(role))


def start(settings: Settings) -> None:
    """Idempotent: initialise if needed, start if not running, ensure database and role."""
    db = settings.database
    if not db.private:
        print(f"db: DATABASE_URL is set; using {db.user}@{db.host}:{db.port}/{db.name}, nothing started")
        try:
            check_lab_only(settings)
        except psycopg.Error as error:
            raise DatabaseError(f"cannot use the DATABASE_URL server: {str(error).strip().splitlines()[0]}") from None
        return
    postgres = binary("postgres")
    if running_pid() is None:
        check_writable(PG_DIR)
        if port_in_use("127.0.0.1", db.port):
            raise DatabaseError(f"port {db.port} is taken by another process; stop it or set PG_PORT "
                                "in settings.env to a free port")
        if not (DATA_DIR / "PG_VERSION").is_file():
            _initialise()
        LOG_DIR.mkdir(exist_ok=True)
        _write_config(settings)
        command = ["taskset", "-c", format_cpus(settings.db_cpus), *_as_server_user([postgres, "-D", str(DATA_DIR)])]
        with open(STDERR_LOG, "ab") as out:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                       start_new_session=True)
        _wait_until_answering(process, settings)
        print(f"db: started postgres pid {running_pid()} on 127.0.0.1:{db.port} (CPUs "
              f"{format_cpus(settings.db_cpus)}, max_connections {settings.db_max_connections})")
    _ensure_database_and_role(settings)


def stop() -> None:
    """A fast shutdown (SIGINT: sessions ended, shared memory removed)."""
    stop_server(running_pid(), "postgres", signal.SIGINT)


def describe(settings: Settings) -> str:
    """What `scripts/db.sh status` says of the running server."""
    with admin_connection(settings, dbname="postgres") as conn:
        version, max_connections = conn.execute(
            "SELECT current_setting('server_version'), current_setting('max_connections')").fetchone()
    return f"PostgreSQL {version}, 127.0.0.1:{settings.database.port}, max_connections {max_connections}"
