"""CPU and memory limits for a server: a cgroup (v2, else v1) with a CPU quota and a
memory limit, or, where no cgroup can be written, nothing but taskset (recorded).

The process that will exec the server joins the cgroup first (`join_self`, called in
the child before exec), so every worker and thread it starts is inside. The usage
counters are what the bench samples per level.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

CGROUP_ROOT = Path(os.environ.get("LAB_CGROUP_ROOT", "/sys/fs/cgroup"))
GROUP_PARENT = "asgi-wsgi-lab"
V1_PERIOD_US = 100_000


class Limiter(StrEnum):
    CGROUP_V2 = "cgroup-v2"
    CGROUP_V1 = "cgroup-v1"
    TASKSET = "taskset-only"


@dataclass(frozen=True)
class Usage:
    """Cumulative counters; subtract two readings for one level."""

    cpu_ns: int
    throttled_periods: int
    throttled_ns: int
    memory_bytes: int  # current
    peak_memory_bytes: int | None  # since the last reset_peak(), where the kernel keeps it


class Cgroup:
    """One server's cgroup. Create with `create_cgroup`; always `remove()` (context manager)."""

    limiter: Limiter = Limiter.TASKSET

    def __init__(self, name: str):
        self.name = name

    def __enter__(self) -> Cgroup:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()

    def paths(self) -> list[Path]:
        return []

    def join_self(self) -> None:
        """Move the calling process into the group (call in the child, before exec)."""
        for path in self.paths():
            (path / "cgroup.procs").write_text(str(os.getpid()))

    def pids(self) -> set[int]:
        procs = set()
        for path in self.paths():
            text = (path / "cgroup.procs").read_text()
            procs.update(int(line) for line in text.split())
        return procs

    def usage(self) -> Usage | None:
        return None

    def reset_peak(self) -> None:
        """Start a new peak-memory window (where the kernel allows it)."""

    def quota_cpus(self) -> float | None:
        return None

    def memory_limit(self) -> int | None:
        return None

    def remove(self) -> None:
        """Remove the group, waiting briefly for exiting processes to leave it; then the lab's
        parent group too, unless another server's group is still in it."""
        for path in self.paths():
            deadline = time.monotonic() + 5
            while path.exists():
                try:
                    path.rmdir()
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            with contextlib.suppress(OSError):  # not empty: another server's group is in it
                path.parent.rmdir()

    def describe(self) -> dict:
        return {"limiter": str(self.limiter), "paths": [str(p) for p in self.paths()]}


def _read_int(path: Path) -> int:
    return int(path.read_text().split()[0])


def _read_stat(path: Path) -> dict[str, int]:
    return {key: int(value) for key, value in (line.split() for line in path.read_text().splitlines())}


class CgroupV2(Cgroup):
    limiter = Limiter.CGROUP_V2

    def __init__(self, name: str):
        super().__init__(name)
        self.path = CGROUP_ROOT / GROUP_PARENT / name

    def paths(self) -> list[Path]:
        return [self.path]

    def create(self, quota_cpus: float, memory_bytes: int) -> None:
        parent = self.path.parent
        parent.mkdir(exist_ok=True)
        for level in (CGROUP_ROOT, parent):
            enabled = (level / "cgroup.subtree_control").read_text().split()
            missing = [f"+{c}" for c in ("cpu", "memory") if c not in enabled]
            if missing:
                (level / "cgroup.subtree_control").write_text(" ".join(missing))
        self.path.mkdir()
        (self.path / "cpu.max").write_text(f"{int(quota_cpus * V1_PERIOD_US)} {V1_PERIOD_US}")
        (self.path / "memory.max").write_text(str(memory_bytes))
        if (self.path / "memory.swap.max").exists():
            (self.path / "memory.swap.max").write_text("0")

    def usage(self) -> Usage:
        cpu = _read_stat(self.path / "cpu.stat")
        peak_file = self.path / "memory.peak"
        return Usage(cpu_ns=cpu["usage_usec"] * 1000, throttled_periods=cpu.get("nr_throttled", 0),
                     throttled_ns=cpu.get("throttled_usec", 0) * 1000,
                     memory_bytes=_read_int(self.path / "memory.current"),
                     peak_memory_bytes=_read_int(peak_file) if peak_file.exists() else None)

    def reset_peak(self) -> None:
        try:
            (self.path / "memory.peak").write_text("0")  # resettable from Linux 6.12
        except OSError:
            pass

    def quota_cpus(self) -> float | None:
        quota, period = (self.path / "cpu.max").read_text().split()
        return None if quota == "max" else int(quota) / int(period)

    def memory_limit(self) -> int | None:
        text = (self.path / "memory.max").read_text().strip()
        return None if text == "max" else int(text)


class CgroupV1(Cgroup):
    limiter = Limiter.CGROUP_V1

    def __init__(self, name: str):
        super().__init__(name)
        self.cpu = CGROUP_ROOT / "cpu" / GROUP_PARENT / name
        self.cpuacct = CGROUP_ROOT / "cpuacct" / GROUP_PARENT / name
        self.memory = CGROUP_ROOT / "memory" / GROUP_PARENT / name

    def paths(self) -> list[Path]:
        # cpu and cpuacct are often one hierarchy mounted twice (cpu,cpuacct): count it once.
        unique: dict[Path, Path] = {}
        for path in (self.cpu, self.cpuacct, self.memory):
            unique.setdefault(path.parent.resolve(), path)
        return list(unique.values())

    def create(self, quota_cpus: float, memory_bytes: int) -> None:
        for path in self.paths():
            path.mkdir(parents=True)
        (self.cpu / "cpu.cfs_period_us").write_text(str(V1_PERIOD_US))
        (self.cpu / "cpu.cfs_quota_us").write_text(str(int(quota_cpus * V1_PERIOD_US)))
        (self.memory / "memory.limit_in_bytes").write_text(str(memory_bytes))

    def usage(self) -> Usage:
        cpu = _read_stat(self.cpu / "cpu.stat")
        return Usage(cpu_ns=_read_int(self.cpuacct / "cpuacct.usage"),
                     throttled_periods=cpu.get("nr_throttled", 0), throttled_ns=cpu.get("throttled_time", 0),
                     memory_bytes=_read_int(self.memory / "memory.usage_in_bytes"),
                     peak_memory_bytes=_read_int(self.memory / "memory.max_usage_in_bytes"))

    def reset_peak(self) -> None:
        (self.memory / "memory.max_usage_in_bytes").write_text("0")

    def quota_cpus(self) -> float | None:
        quota = _read_int(self.cpu / "cpu.cfs_quota_us")
        return None if quota < 0 else quota / _read_int(self.cpu / "cpu.cfs_period_us")

    def memory_limit(self) -> int | None:
        return _read_int(self.memory / "memory.limit_in_bytes")


def _v2_usable() -> bool:
    controllers = CGROUP_ROOT / "cgroup.controllers"
    return (controllers.exists() and {"cpu", "memory"} <= set(controllers.read_text().split())
            and os.access(CGROUP_ROOT, os.W_OK))


def _v1_usable() -> bool:
    return all(os.access(CGROUP_ROOT / c, os.W_OK) for c in ("cpu", "cpuacct", "memory"))


def create_cgroup(name: str, quota_cpus: float, memory_bytes: int) -> tuple[Cgroup, str | None]:
    """The best limiter this machine allows, created; plus a warning when it is taskset only."""
    errors = []
    for kind, usable in ((CgroupV2, _v2_usable), (CgroupV1, _v1_usable)):
        if not usable():
            continue
        group = kind(name)
        try:
            group.create(quota_cpus, memory_bytes)
            return group, None
        except OSError as error:
            errors.append(f"{kind.limiter}: {error}")
            try:
                group.remove()
            except OSError:
                pass
    reason = "; ".join(errors) or f"no writable cgroup v2 or v1 under {CGROUP_ROOT}"
    return Cgroup(name), (f"warning: no CPU quota or memory limit ({reason}); the server is pinned "
                          "with taskset only and results record limiter=taskset-only")
