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
import sys
from pathlib import Path
from types import ModuleType

from lab.config import Settings, load_or_exit
from lab.errors import USAGE_ERROR, LabError, guarded

ENGINE_MODULES = {"mariadb": "lab.mariadb", "postgresql": "lab.postgresql"}


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
            return module.status(settings)
        else:
            module.reset(settings)
    except DatabaseError as error:
        print(f"db: {error}", file=sys.stderr)
        return error.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(guarded("db", main, sys.argv[1:]))
