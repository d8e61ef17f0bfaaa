"""The noise guard: who else used the lab's CPUs during a level, and how fast the machine
was in each round.

Foreign CPU = the busy time (user, nice, system) of the lab's CPUs (SERVER_CPUS,
CLIENT_CPUS and DB_CPUS) less the CPU time of the lab's own processes (every server's
cgroup or processes, MariaDB, the load generator and this driver). Interrupt time is
left out: with the kernel's IRQ time accounting it is reported apart from any process,
and on loopback it is mostly the lab's own traffic. Steal = time the hypervisor gave
the lab's vCPUs to someone else. A level above NOISY_SHARE of either is flagged noisy:
such a disturbance can move a figure by as much as the round-to-round noise of an
interleaved ratio (about 9 % at 4 s measured here), so the level would weigh an
outsider, not the stack.

The speed probe: a fixed loop of pure Python on SERVER_CPUS between levels, timed by the
wall clock: the same work, so its rate moves with the machine (frequency, neighbours,
steal). It is a figure for comparing rounds and runs, not a benchmark.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass

NOISY_SHARE = 0.05
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PROBE_STEPS = 1_000_000
PROBE_REPEATS = 3  # the median of three ~0.1-0.2 s loops
_PROBE = (f"import time\nr=[]\nfor k in range({PROBE_REPEATS}):\n t=time.perf_counter()\n x=0\n"
          f" for i in range({PROBE_STEPS}): x+=i&7\n r.append({PROBE_STEPS}/(time.perf_counter()-t)/1e6)\n"
          f"print(sorted(r)[{PROBE_REPEATS} // 2])")


@dataclass(frozen=True)
class CpuTimes:
    busy_s: float  # user + nice + system
    steal_s: float


def cpu_times(cpus: tuple[int, ...]) -> CpuTimes:
    """Cumulative busy and steal seconds of these CPUs from /proc/stat."""
    busy = steal = 0
    wanted = {f"cpu{c}" for c in cpus}
    with open("/proc/stat") as stat:
        for line in stat:
            fields = line.split()
            if fields and fields[0] in wanted:
                user, nice, system = (int(v) for v in fields[1:4])
                busy += user + nice + system
                steal += int(fields[8]) if len(fields) > 8 else 0
    return CpuTimes(busy / CLOCK_TICKS, steal / CLOCK_TICKS)


def own_cpu_s() -> float:
    """CPU seconds of this driver (all its threads) and of its finished children (wrk, ab)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


@dataclass(frozen=True)
class Noise:
    foreign_cpu_share: float
    steal_share: float
    cpus: list[int]

    @property
    def noisy(self) -> bool:
        return self.foreign_cpu_share > NOISY_SHARE or self.steal_share > NOISY_SHARE

    def record(self) -> dict:
        return asdict(self)


class NoiseSample:
    """Readings at the start of a level; `finish` gives the level's Noise."""

    def __init__(self, cpus: tuple[int, ...], lab_cpu_s: Callable[[], float]):
        self.cpus = tuple(sorted(cpus))
        self.lab_cpu_s = lab_cpu_s
        self.times0 = cpu_times(self.cpus)
        self.lab0 = lab_cpu_s() + own_cpu_s()

    def finish(self, elapsed_s: float) -> Noise:
        times = cpu_times(self.cpus)
        lab = self.lab_cpu_s() + own_cpu_s() - self.lab0
        capacity = max(elapsed_s, 1e-9) * len(self.cpus)
        foreign = max(0.0, times.busy_s - self.times0.busy_s - lab)
        return Noise(round(foreign / capacity, 4), round((times.steal_s - self.times0.steal_s) / capacity, 4),
                     list(self.cpus))


def speed_probe(cpus: str) -> float | None:
    """Million loop steps per second of the fixed probe on these CPUs (None if it failed)."""
    result = subprocess.run(["taskset", "-c", cpus, sys.executable, "-S", "-c", _PROBE],
                            capture_output=True, text=True, timeout=60)
    try:
        return round(float(result.stdout.strip()), 3)
    except ValueError:
        return None
