"""The latency relay (lab/relay.py) as the driver runs it: a process per delay the run
needs, for the whole run, pinned to DB_CPUS, always one at 0 ms (to measure the relay's
own cost against the direct path). Started before the servers that connect through it,
stopped after them; stopping never leaves one behind."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from bench.driver.sampling import process_cpu_s
from lab.config import ROOT, Settings, format_cpus
from lab.errors import LabError
from lab.log_tail import log_tail
from lab.net import free_port

READY_TIMEOUT_S = 10
STOP_TIMEOUT_S = 5


class RelayFailed(LabError, RuntimeError):
    """The relay did not start or stopped answering; the message says why, with its log."""


class RelayProcess:
    """One relay process per delay (each sleeps unless its setting is the one under load,
    and select(2) scans only its own connections), all on DB_CPUS, always one at 0 ms."""

    def __init__(self, settings: Settings, delays_ms: list[float], log_path: Path):
        self.settings = settings
        self.ports = {delay: free_port() for delay in sorted({0.0, *delays_ms})}
        self.control_ports = {delay: free_port() for delay in self.ports}
        self.log_path = log_path
        self.processes: dict[float, subprocess.Popen] = {}
        db = settings.database
        self.commands = {delay: ["taskset", "-c", format_cpus(settings.db_cpus), sys.executable, "-m", "lab.relay",
                                 "--target", f"{db.host}:{db.port}", "--control", str(self.control_ports[delay]),
                                 "--listen", f"{port}={delay:g}"] for delay, port in self.ports.items()}
        self.command = self.commands[max(self.ports)]  # one of them, as recorded

    def address(self, delay_ms: float) -> str:
        return f"127.0.0.1:{self.ports[delay_ms]}"

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            for delay, command in self.commands.items():
                self.processes[delay] = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log,
                                                         stderr=subprocess.STDOUT, start_new_session=True,
                                                         env={**os.environ, "PYTHONPATH": str(ROOT)})
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                self.counters()
                return
            except RelayFailed:
                if any(p.poll() is not None for p in self.processes.values()):
                    break
                time.sleep(0.05)
        self.stop()
        raise RelayFailed(f"the latency relay did not start; log: {log_tail(self.log_path, 5)}")

    def _ask(self, delay: float, command: str) -> dict:
        try:
            with socket.create_connection(("127.0.0.1", self.control_ports[delay]), timeout=5) as conn:
                conn.sendall(command.encode() + b"\n")
                data = b""
                while chunk := conn.recv(65536):
                    data += chunk
            return json.loads(data)[str(self.ports[delay])]
        except (OSError, ValueError, KeyError) as error:
            raise RelayFailed(f"the latency relay ({delay:g} ms) does not answer: {error}") from None

    def counters(self, delays: list[float] | None = None) -> dict[float, dict]:
        """Cumulative counters per delay (lab/relay.py Counters)."""
        return {delay: self._ask(delay, "counters") for delay in (delays or self.ports)}

    def hold(self, delay_ms: float, hold_ms: float) -> None:
        """Hold the chunks of the `delay_ms` listener `hold_ms` (the setting less the relay's own cost)."""
        self._ask(delay_ms, f"hold {self.ports[delay_ms]} {hold_ms:.4f}")

    def cpu_s(self) -> float:
        pids = self.pids()
        return process_cpu_s(pids) if pids else 0.0

    def pids(self) -> set[int]:
        return {p.pid for p in self.processes.values() if p.poll() is None}

    def stop(self) -> None:
        for process in self.processes.values():
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for process in self.processes.values():
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait()
        self.processes = {}


def level_reading(before: dict, after: dict, elapsed_s: float, cpu_s: float) -> dict:
    """One listener over one window: RELAY_KEYS (bench/schema.py)."""
    chunks = after["chunks"] - before["chunks"]
    lag = after["lag_excess_sum_s"] - before["lag_excess_sum_s"]
    return {"delay_ms": after["delay_ms"], "chunks": chunks,
            "lag_excess_mean_ms": round(lag / chunks * 1000, 4) if chunks else None,
            "lag_excess_max_ms": round(after["lag_excess_max_s"] * 1000, 3),
            "cpu_share": round(cpu_s / elapsed_s, 4) if elapsed_s > 0 else None}


def tolerance_ms(delay_ms: float) -> float:
    """How far a measured added round trip (or the relay's lateness under load) may be from
    the setting: 10 % of it, at least 0.1 ms (a round trip on this machine is ~0.05 ms)."""
    return max(0.1 * delay_ms, 0.1)


def relay_bound(reading: dict | None) -> bool:
    """The relay held chunks longer than its delay allows on average: it set the pace."""
    if not reading or reading["lag_excess_mean_ms"] is None:
        return False
    return reading["lag_excess_mean_ms"] > tolerance_ms(reading["delay_ms"])
