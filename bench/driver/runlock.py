"""One measuring run at a time on a machine: a second run would share the CPUs with the
first and silently corrupt both (seen: /ping/ fell from ~4,000 to 1,650 RPS).

The lock is an flock on var/run/bench.lock, held for the driver's life and released by
the kernel however the driver ends (so a killed run never leaves a stale lock); the file
names the holder, for the refusal message.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from lab.config import ROOT
from lab.errors import UsageError

LOCK_PATH = Path(os.environ.get("LAB_BENCH_LOCK", ROOT / "var" / "run" / "bench.lock"))


class RunLocked(UsageError, RuntimeError):
    """Another run holds the lock; str() names it."""


class RunLock:
    def __init__(self, path: Path = LOCK_PATH):
        self.path = path
        self.handle = None

    def acquire(self, what: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            try:
                holder = json.loads(handle.read() or "{}")
            except ValueError:
                holder = {}
            handle.close()
            raise RunLocked(f"another run is measuring on this machine: pid {holder.get('pid', '?')}, "
                            f"{holder.get('what', 'unknown run')}; wait for it or stop it "
                            f"(kill -INT {holder.get('pid', '<pid>')})") from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "what": what}))
        handle.flush()
        self.handle = handle

    def update(self, what: str) -> None:
        if self.handle:
            self.handle.seek(0)
            self.handle.truncate()
            self.handle.write(json.dumps({"pid": os.getpid(), "what": what}))
            self.handle.flush()

    def release(self) -> None:
        if self.handle:
            self.handle.close()
            self.handle = None
