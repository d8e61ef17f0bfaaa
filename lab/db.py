"""The lab's database server, whichever engine: start | stop | status | reset (scripts/db.sh).

DB_ENGINE (or DATABASE_URL's scheme) picks the engine's module (ENGINE_MODULES): each owns
its private server under var/ (no system service, no Docker: a child of nobody, pinned to
DB_CPUS, bound to 127.0.0.1, a role and database for the lab with rights on that database
only) and its connections; the bench reads it through that engine's probe
(bench/driver/dbprobe.py). With DATABASE_URL set, nothing is started and that server is
used as it is. A third engine is one more module here and its probe.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from lab.config import Settings, load_or_exit
from lab.errors import USAGE_ERROR, LabError, guarded

ENGINE_MODULES = {"mariadb": "lab.mariadb", "postgresql": "lab.postgresql"}
STOP_TIMEOUT_S = 60


class DatabaseError(LabError, RuntimeError):
    """A problem with the database a person can act on; str() says what to do."""


class DatabaseRefused(DatabaseError):
    """A database the lab will not work in (a usage error: exit 2)."""

    exit_code = USAGE_ERROR


def engine(settings: Settings) -> ModuleType:
    """The module of the settings' engine: start, stop, status, reset, running_pid, and
    the engine's connections."""
    return importlib.import_module(ENGINE_MODULES[settings.database.engine])


def start(settings: Settings) -> None:
    """Idempotent: the private server initialised, started and given the lab's role and
    database; a DATABASE_URL server only checked (lab tables only)."""
    engine(settings).start(settings)


def stop(settings: Settings) -> None:
    engine(settings).stop()


def running_pid(settings: Settings) -> int | None:
    """The private server's pid while it runs (None for a DATABASE_URL server)."""
    return engine(settings).running_pid() if settings.database.private else None


def status(settings: Settings) -> int:
    """One line on the server: 0 when it runs (or is a DATABASE_URL server), 1 when not."""
    db = settings.database
    if not db.private:
        print(f"db: external server {db.host}:{db.port}/{db.name} (DATABASE_URL)")
        return 0
    module = engine(settings)
    pid = module.running_pid()
    if pid is None:
        print(f"db: not running (datadir {module.DATA_DIR})")
        return 1
    print(f"db: running pid {pid}, {module.describe(settings)}, datadir {module.DATA_DIR}")
    return 0


def reset(settings: Settings) -> None:
    """Stop, delete the private server's folder, start afresh (the lab's data only)."""
    if not settings.database.private:
        raise DatabaseError("reset works on the private instance only; DATABASE_URL is set")
    module = engine(settings)
    module.stop()
    shutil.rmtree(module.SERVER_DIR, ignore_errors=True)
    module.start(settings)


def stop_server(pid: int | None, name: str, how: signal.Signals) -> None:
    """Ask the server to stop (`how`: each engine's clean shutdown), wait up to
    STOP_TIMEOUT_S for it to exit, else kill it."""
    if pid is None:
        print("db: not running")
        return
    os.kill(pid, how)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        if exited(pid):
            print(f"db: stopped {name} pid {pid}")
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    print(f"db: {name} pid {pid} did not stop in {STOP_TIMEOUT_S} s; killed")


def refuse_foreign(name: str, foreign: list[str]) -> None:
    """A DATABASE_URL database holding anything but the lab's tables is refused: the lab
    migrates, seeds and empties its tables, so it works only in an empty or lab-only database."""
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise DatabaseRefused(f"DATABASE_URL database {name!r} holds tables that are not the lab's ({shown}); "
                              "give an empty database or one only the lab uses")


def lab_server_pid(read_pid: Callable[[], str], ours: Callable[[int], bool]) -> int | None:
    """The pid a server's pid file names, only while that process is still the lab's server
    (`ours`): a stale pid file whose number now belongs to another process names nothing
    (stop would otherwise signal that process)."""
    try:
        pid = int(read_pid())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, IndexError, ProcessLookupError):
        return None
    return pid if ours(pid) else None


def command_line(pid: int) -> tuple[str, list[bytes]]:
    """(program name, argv) of a process; ("", []) when it is gone."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "", []
    return (Path(os.fsdecode(argv[0])).name if argv and argv[0] else ""), argv


def check_writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise DatabaseError(f"data directory {folder} is not writable ({error.strerror}); "
                            "fix its permissions or run from a folder you own") from None


def exited(pid: int) -> bool:
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


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="scripts/db.sh", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("start", "stop", "status", "reset"))
    action = parser.parse_args(argv).action
    settings = load_or_exit()
    module = engine(settings)
    try:
        if action == "start":
            module.start(settings)
        elif action == "stop":
            module.stop()
        elif action == "status":
            return status(settings)
        else:
            reset(settings)
    except DatabaseError as error:
        print(f"db: {error}", file=sys.stderr)
        return error.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(guarded("db", main, sys.argv[1:]))
