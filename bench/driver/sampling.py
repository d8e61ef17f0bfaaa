"""Per-level resource sampling: server CPU, throttling and peak memory from its cgroup,
the database server's CPU and connections, its backlog and open transactions before and
after (docs/design.md, Limits and placement)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.driver.dbprobe import DatabaseGone, DbProbe, open_probe
from lab import db
from lab.config import Settings
from lab.limits import Cgroup

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
POLL_S = 0.25


def process_cpu_s(pids: set[int]) -> float:
    """User+system CPU seconds of these processes (all their threads)."""
    total = 0
    for pid in pids:
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def tree_cpu_s(pid: int) -> float:
    """User+system CPU seconds of a process and its children, live (their own) and ended (what
    it reaped): PostgreSQL's postmaster with a backend per connection, counted whole."""
    try:
        children = open(f"/proc/{pid}/task/{pid}/children").read().split()
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    reaped = sum(int(f) for f in fields[11:15]) / CLOCK_TICKS  # utime, stime, cutime, cstime
    return reaped + process_cpu_s({int(child) for child in children})


def server_cpu_counter(settings: Settings) -> Callable[[], float] | None:
    """The private database server's cumulative CPU seconds (None for a DATABASE_URL server):
    MariaDB is one process; PostgreSQL is counted whole (tree_cpu_s)."""
    pid = db.running_pid(settings)
    if pid is None:
        return None
    if settings.database.engine == "postgresql":
        return lambda: tree_cpu_s(pid)
    return lambda: process_cpu_s({pid})


def named_cpu_s(names: tuple[str, ...]) -> float | None:
    """User+system CPU seconds of every process whose name (/proc/PID/comm) is one of `names`,
    with the CPU of the children each has reaped: a cumulative counter even for a server that
    runs a process per connection (PostgreSQL), whose ended backends' CPU moves to their parent.
    None when no process has such a name (a misspelt name is not measured, never 0)."""
    total, found = 0, False
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/comm") as comm:
                if comm.read().strip() not in names:
                    continue
            fields = open(f"/proc/{entry.name}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
        found = True
    return total / CLOCK_TICKS if found else None


def process_memory(pids: set[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in open(f"/proc/{pid}/status"):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


@dataclass
class _Peaks:
    sessions: int = 0
    memory_bytes: int = 0
    error: str | None = None


class _Poller(threading.Thread):
    """Polls what only has a current value: MariaDB's Threads_connected and, where the
    kernel keeps no resettable peak, the server's memory."""

    def __init__(self, settings: Settings, memory_now: Callable[[], int], database: bool = True):
        super().__init__(daemon=True)
        self.settings = settings
        self.database = database  # False: memory only (an app file's run)
        self.memory_now = memory_now
        self.peaks = _Peaks()
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            probe = open_probe(self.settings) if self.database else None
        except DatabaseGone as error:
            self.peaks.error = str(error)
            return
        try:
            while not self.stopping.is_set():
                try:
                    if probe:
                        connected = probe.connected()
                        self.peaks.sessions = max(self.peaks.sessions, connected)
                except DatabaseGone as error:
                    self.peaks.error = str(error)
                    return
                try:
                    self.peaks.memory_bytes = max(self.peaks.memory_bytes, self.memory_now())
                except OSError:  # the server's cgroup is gone: the run is stopping under this level
                    return
                self.stopping.wait(POLL_S)
        finally:
            if probe:
                probe.close()


@dataclass
class LevelSample:
    """Readings from the start of a level, completed by `finish`."""

    settings: Settings
    probe: DbProbe | None  # None: an app file's run (its database is not the lab's to read)
    cgroup: Cgroup | None
    server_pids: Callable[[], set[int]] | None  # without a cgroup: the server's processes, if known
    db_cpu_s: Callable[[], float | None] | None  # the database's cumulative CPU seconds (None: not measured)
    db_cpus: int = 1  # the CPUs the database may use: its share is of these
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        usage = self.cgroup.usage() if self.cgroup else None
        if self.cgroup:
            self.cgroup.reset_peak()
        self.server_cpu0 = self._server_cpu(usage)
        self.throttle0 = (usage.throttled_periods, usage.throttled_ns) if usage else None
        self.db_cpu0 = self.db_cpu_s() if self.db_cpu_s else None
        self.opened0 = self.probe.connections_opened() if self.probe else None
        self.backlog0 = self.probe.backlog() if self.probe else None
        self.open_trx0 = self.probe.open_transactions() if self.probe else None
        self.poller = _Poller(self.settings, self._memory_now, database=self.probe is not None)
        self.poller.start()

    def _server_cpu(self, usage) -> float | None:
        if usage:
            return usage.cpu_ns / 1e9
        return process_cpu_s(self.server_pids()) if self.server_pids else None

    def _memory_now(self) -> int:
        if self.cgroup:
            return self.cgroup.usage().memory_bytes
        return process_memory(self.server_pids()) if self.server_pids else 0

    def finish(self, requests: int | None) -> tuple[dict, dict]:
        """Server and DB sections of the row (schema SERVER_KEYS, DB_KEYS)."""
        elapsed = time.monotonic() - self.started
        self.poller.stopping.set()
        usage = self.cgroup.usage() if self.cgroup else None
        server_cpu = self._server_cpu(usage)
        if server_cpu is not None:
            server_cpu -= self.server_cpu0
        db_cpu_now = self.db_cpu_s() if self.db_cpu_s else None
        db_cpu = db_cpu_now - self.db_cpu0 if db_cpu_now is not None and self.db_cpu0 is not None else None
        opened = self.probe.connections_opened() if self.probe else None
        self.poller.join(timeout=2)
        peak = self.poller.peaks.memory_bytes
        if usage and usage.peak_memory_bytes:
            peak = max(peak, usage.peak_memory_bytes)
        quota = self.settings.server_cpu_quota if self.cgroup and self.cgroup.paths() else len(
            self.settings.server_cpus)

        def per_req(cpu_s: float | None) -> float | None:
            return cpu_s * 1000 / requests if requests and cpu_s is not None else None

        server = {
            "cpu_pct": server_cpu / elapsed * 100 if server_cpu is not None else None,
            "cpu_share": server_cpu / elapsed / quota if server_cpu is not None else None,
            "cpu_ms_per_req": per_req(server_cpu),
            "throttled_periods": usage.throttled_periods - self.throttle0[0] if usage else None,
            "throttled_ms": (usage.throttled_ns - self.throttle0[1]) / 1e6 if usage else None,
            "peak_memory_bytes": peak or None,
        }
        database = {
            "cpu_pct": db_cpu / elapsed * 100 if db_cpu is not None else None,
            "cpu_share": db_cpu / elapsed / self.db_cpus if db_cpu is not None else None,
            "cpu_ms_per_req": per_req(db_cpu),
            "sessions_peak": self.poller.peaks.sessions or None,
            # less the poller's own connection
            "new_connections": opened - self.opened0 - (self.poller.peaks.error is None)
            if opened is not None else None,
            "backlog_before": self.backlog0,
            "backlog_after": None,  # read after the drain (bench/driver/level.py)
            "open_trx_before": self.open_trx0,
            "open_trx_after": None,
        }
        return server, database
