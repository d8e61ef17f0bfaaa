"""Checked, not waited for: every lab server has finished its in-flight work.

wrk and ab stop at their deadline while the servers go on with what was queued (a WSGI
server cannot cancel a request), and every server shares SERVER_CPUS: leftover work
would be billed to whichever level comes next. A server is drained when, in one check,
no client connection to its port is still open on its side, its CPU use over a short
window is below IDLE_SHARE of its quota, and MariaDB runs no statement of the lab
database; the check repeats until that holds or the deadline passes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.driver.dbprobe import DbProbe

IDLE_SHARE = 0.05  # below 5 % of its quota a server is taken as idle
IDLE_WINDOW_S = 0.2
DRAIN_TIMEOUT_S = 60.0
# /proc/net/tcp states that are not a connection still held by the server.
_LISTEN, _TIME_WAIT, _CLOSE = "0A", "06", "07"


@dataclass(frozen=True)
class Watched:
    """What the drain check needs of one server."""

    port: int
    cpu_s: Callable[[], float | None]  # cumulative CPU seconds, None when unknown
    quota_cpus: float


def open_connections(port: int) -> int:
    """Connections on `port` the server side still holds (ESTABLISHED, CLOSE_WAIT, ...)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] not in (_LISTEN, _TIME_WAIT, _CLOSE):
                count += 1
    return count


def _busy(servers: list[Watched]) -> list[str]:
    """Why the servers are not drained right now (empty: drained)."""
    before = [s.cpu_s() for s in servers]
    time.sleep(IDLE_WINDOW_S)
    reasons = []
    for server, cpu0 in zip(servers, before, strict=True):
        cpu1 = server.cpu_s()
        if cpu0 is not None and cpu1 is not None and (cpu1 - cpu0) / IDLE_WINDOW_S > IDLE_SHARE * server.quota_cpus:
            reasons.append(f"port {server.port} busy")
        if open_connections(server.port):
            reasons.append(f"port {server.port} holds connections")
    return reasons


def wait_drained(servers: list[Watched], probes: list[DbProbe],
                 timeout_s: float = DRAIN_TIMEOUT_S) -> tuple[float, bool]:
    """Seconds until every server was drained, and whether it was before the timeout: every
    database of the run (no probe: an app file's run, whose database the lab does not read)."""
    started = time.monotonic()
    while True:
        reasons = _busy(servers)
        if not reasons and all(probe.running_statements() == 0 for probe in probes):
            return time.monotonic() - started, True
        if time.monotonic() - started > timeout_s:
            return time.monotonic() - started, False
