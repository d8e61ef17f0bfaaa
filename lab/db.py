"""The private MariaDB under var/mysql: start | stop | status | reset (scripts/db.sh).

No system service and no Docker: mariadbd runs as a child of nobody, pinned to DB_CPUS,
bound to 127.0.0.1 and a socket in var/mysql. When DATABASE_URL is set, nothing is
started and that server is used as it is.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import MySQLdb

from lab.config import ROOT, Settings, format_cpus, load_or_exit
from lab.log_tail import log_tail
from lab.net import port_in_use

MYSQL_DIR = ROOT / "var" / "mysql"
DATA_DIR = MYSQL_DIR / "data"
SOCKET = MYSQL_DIR / "mysqld.sock"
PID_FILE = MYSQL_DIR / "mariadbd.pid"
ERROR_LOG = MYSQL_DIR / "error.log"
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 60
INSTALL_HINT = "install it with: sudo apt-get install mariadb-server (or run scripts/setup.sh)"


class DatabaseError(RuntimeError):
    """A problem with the database a person can act on; str() says what to do."""


def _binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin:/sbin")
        if found:
            return found
    raise DatabaseError(f"{names[0]} not found; {INSTALL_HINT}")


def running_pid() -> int | None:
    try:
        pid = int(PID_FILE.read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    return pid


def admin_connection(settings: Settings) -> MySQLdb.Connection:
    """Root over the private socket; for DATABASE_URL servers, the configured user."""
    db = settings.database
    if db.private:
        return MySQLdb.connect(unix_socket=str(SOCKET), user="root", charset="utf8mb4", autocommit=True)
    return MySQLdb.connect(host=db.host, port=db.port, user=db.user, password=db.password,
                           database=db.name, charset="utf8mb4", autocommit=True)


def app_connection(settings: Settings) -> MySQLdb.Connection:
    db = settings.database
    return MySQLdb.connect(host=db.host, port=db.port, user=db.user, password=db.password,
                           database=db.name, charset="utf8mb4", autocommit=True)


def _check_writable() -> None:
    try:
        MYSQL_DIR.mkdir(parents=True, exist_ok=True)
        probe = MYSQL_DIR / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise DatabaseError(f"data directory {MYSQL_DIR} is not writable ({error.strerror}); "
                            "fix its permissions or run from a folder you own") from None


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
            MySQLdb.connect(unix_socket=str(SOCKET), user="root").close()
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
            app_connection(settings).close()
        except MySQLdb.OperationalError as error:
            raise DatabaseError(f"cannot connect to DATABASE_URL server: {error.args[-1]}") from None
        return
    mariadbd = _binary("mariadbd", "mysqld")
    if running_pid() is None:
        _check_writable()
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


def _exited(pid: int) -> bool:
    """Whether the server has exited. When this process started it (the bench does), the
    exited server stays a zombie that still answers kill(pid, 0) until it is reaped: reap it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    if state != "Z":
        return False
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # not our child: its own parent reaps it
        pass
    return True


def stop() -> None:
    pid = running_pid()
    if pid is None:
        print("db: not running")
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        if _exited(pid):
            print(f"db: stopped mariadbd pid {pid}")
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    print(f"db: mariadbd pid {pid} did not stop in {STOP_TIMEOUT_S} s; killed")


def status(settings: Settings) -> int:
    db = settings.database
    if not db.private:
        print(f"db: external server {db.host}:{db.port}/{db.name} (DATABASE_URL)")
        return 0
    pid = running_pid()
    if pid is None:
        print(f"db: not running (datadir {DATA_DIR})")
        return 1
    conn = admin_connection(settings)
    cur = conn.cursor()
    cur.execute("SELECT VERSION(), @@max_connections")
    version, max_connections = cur.fetchone()
    conn.close()
    print(f"db: running pid {pid}, MariaDB {version}, 127.0.0.1:{db.port}, socket {SOCKET}, "
          f"max_connections {max_connections}, datadir {DATA_DIR}")
    return 0


def reset(settings: Settings) -> None:
    """Stop, delete the private datadir, start afresh (the lab's data only)."""
    if not settings.database.private:
        raise DatabaseError("reset works on the private instance only; DATABASE_URL is set")
    stop()
    shutil.rmtree(MYSQL_DIR, ignore_errors=True)
    start(settings)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="scripts/db.sh", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("start", "stop", "status", "reset"))
    action = parser.parse_args(argv).action
    settings = load_or_exit()
    try:
        if action == "start":
            start(settings)
        elif action == "stop":
            stop()
        elif action == "status":
            return status(settings)
        else:
            reset(settings)
    except DatabaseError as error:
        print(f"db: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
