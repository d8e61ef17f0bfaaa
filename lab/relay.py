"""The database latency relay: a TCP relay between the apps and MariaDB that holds every
chunk the apps send for a set delay, so each round trip to the database takes that much
longer (the kernel here has no netem, and no packaged proxy is at hand).

One process serves several listeners, one per delay (`--listen PORT=DELAY_MS`), all to
one target, so every latency setting of a run has its own address and every server
stays up for the whole run. Only the app-to-database direction is delayed: a round trip
crosses it once, so the added round-trip time is the delay itself.

Timing: asyncio on select(2), whose timeout has microsecond resolution (epoll's is a
millisecond, which would turn 0.5 ms into 1 ms), with the process's timer slack cut to
1 us. Chunks keep their order: each is sent at its arrival time plus the delay, after
every earlier one. A sleeping process wakes late, so the relay aims early by its recent
wake-up lateness; how late each chunk really left against its due time is counted
(`lag_excess`): a relay that cannot keep up shows there, and the bench flags the level.

`--control PORT`: a client sends one line, `counters` or `hold PORT MS` (hold that
listener's chunks MS ms: its setting less the relay's own pass-through cost, which the
bench measures), and gets one JSON line of counters per listener. The counters are
cumulative, except the worst lateness, which is since the last report. SIGTERM or SIGINT
closes every connection and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import ctypes
import json
import selectors
import signal
import sys
from dataclasses import asdict, dataclass

MAX_CONNECTIONS = 400  # over every listener: select(2) handles descriptors below 1024, two per connection
PR_SET_TIMERSLACK = 29
EARLY_WEIGHT = 0.05  # of each new wake-up lateness in the running estimate


@dataclass
class Counters:
    delay_ms: float  # the setting: what the listener adds to a round trip
    hold_ms: float  # how long it holds a chunk: the setting less the relay's own pass-through cost
    early_ms: float = 0.0  # how early it currently aims, to land on time (its recent wake-up lateness)
    connections_total: int = 0
    connections_open: int = 0
    refused: int = 0
    chunks: int = 0
    bytes: int = 0
    lag_excess_sum_s: float = 0.0  # sum over chunks of (sent - (arrived + hold)), signed
    lag_excess_max_s: float = 0.0


class Listener:
    """One port, one delay: accepts the apps' connections and relays each to the target."""

    open_everywhere = 0  # relayed connections over every listener of the process

    def __init__(self, delay_ms: float, target: tuple[str, int]):
        self.hold_s = delay_ms / 1000
        self.early_s = 0.0
        self.target = target
        self.counters = Counters(delay_ms, delay_ms)
        self.connections: set[AppSide] = set()

    def set_hold(self, hold_ms: float) -> None:
        self.hold_s = max(0.0, hold_ms) / 1000
        self.counters.hold_ms = max(0.0, hold_ms)

    def sent(self, due: float, aim: float | None, now: float, size: int) -> None:
        """Account one chunk; `aim`: when it was to wake for it (None: it did not sleep for
        it), so it learns how late it wakes and aims early by that next time."""
        c = self.counters
        if aim is not None:
            self.early_s += EARLY_WEIGHT * (now - aim - self.early_s)
            c.early_ms = round(self.early_s * 1000, 4)
        late = now - due
        c.chunks += 1
        c.bytes += size
        c.lag_excess_sum_s += late
        c.lag_excess_max_s = max(c.lag_excess_max_s, late)


class AppSide(asyncio.Protocol):
    """The app's connection: every chunk it sends leaves for the database `hold` later, in
    order (one timer per connection, for its oldest chunk); answers come straight back."""

    def __init__(self, listener: Listener):
        self.listener = listener
        self.loop = asyncio.get_running_loop()
        self.pending: collections.deque[tuple[float, bytes]] = collections.deque()
        self.timer: asyncio.TimerHandle | None = None
        self.transport: asyncio.Transport | None = None
        self.database: asyncio.Transport | None = None
        self.app_done = False

    def connection_made(self, transport) -> None:
        self.transport = transport
        listener = self.listener
        if Listener.open_everywhere >= MAX_CONNECTIONS:
            listener.counters.refused += 1
            transport.close()
            return
        Listener.open_everywhere += 1
        listener.connections.add(self)
        listener.counters.connections_total += 1
        listener.counters.connections_open += 1
        transport.pause_reading()  # until the database side is connected
        self.loop.create_task(self.connect())

    async def connect(self) -> None:
        try:
            self.database, _ = await self.loop.create_connection(lambda: DatabaseSide(self), *self.listener.target)
        except OSError:
            self.close()
            return
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        self.pending.append((self.loop.time() + self.listener.hold_s, data))
        self.schedule()

    def schedule(self) -> None:
        if self.timer is None and self.pending:
            due = self.pending[0][0]
            aim = due - min(self.listener.early_s, self.listener.hold_s / 2)
            slept = aim > self.loop.time()
            self.timer = self.loop.call_at(aim, self.forward, due, aim if slept else None)

    def forward(self, due: float, aim: float | None) -> None:
        self.timer = None
        now = self.loop.time()
        while self.pending and self.pending[0][0] - min(self.listener.early_s, self.listener.hold_s / 2) <= now:
            chunk_due, data = self.pending.popleft()
            if self.database is not None:
                self.database.write(data)
            self.listener.sent(chunk_due, aim if chunk_due == due else None, now, len(data))
        if self.pending:
            self.schedule()
        elif self.app_done and self.database is not None and self.database.can_write_eof():
            self.database.write_eof()

    def eof_received(self) -> bool:
        self.app_done = True  # its last chunks still leave on time; then the database sees the end
        if not self.pending and self.database is not None and self.database.can_write_eof():
            self.database.write_eof()
        return True

    def connection_lost(self, exc) -> None:
        self.close()

    def close(self) -> None:
        if self in self.listener.connections:
            self.listener.connections.discard(self)
            self.listener.counters.connections_open -= 1
            Listener.open_everywhere -= 1
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        for transport in (self.transport, self.database):
            if transport is not None:
                transport.close()


class DatabaseSide(asyncio.Protocol):
    def __init__(self, app: AppSide):
        self.app = app

    def data_received(self, data: bytes) -> None:
        if self.app.transport is not None:
            self.app.transport.write(data)

    def connection_lost(self, exc) -> None:
        self.app.close()


def parse_listen(value: str) -> tuple[int, float]:
    port, _, delay = value.partition("=")
    try:
        port_number, delay_ms = int(port), float(delay)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--listen {value!r}: PORT=DELAY_MS, e.g. 3400=1.5") from None
    if not 1 <= port_number <= 65535 or not 0 <= delay_ms <= 1000:
        raise argparse.ArgumentTypeError(f"--listen {value!r}: a port 1-65535 and a delay of 0 to 1000 ms")
    return port_number, delay_ms


def parse_target(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"--target {value!r}: HOST:PORT")
    return host, int(port)


def _fine_timer_slack() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_TIMERSLACK, 1000, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: timers keep the default slack


async def serve(listen: list[tuple[int, float]], target: tuple[str, int], control_port: int,
                host: str = "127.0.0.1") -> None:
    listeners = {port: Listener(delay, target) for port, delay in listen}
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def report(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        words = (await reader.readline()).decode().split()
        if len(words) == 3 and words[0] == "hold" and int(words[1]) in listeners:
            listeners[int(words[1])].set_hold(float(words[2]))
        writer.write((json.dumps({str(p): asdict(one.counters) for p, one in listeners.items()}) + "\n").encode())
        for listener in listeners.values():  # the maximum is per report: since the one before
            listener.counters.lag_excess_max_s = 0.0
        await writer.drain()
        writer.close()

    servers = [await loop.create_server(lambda one=one: AppSide(one), host, port) for port, one in listeners.items()]
    servers.append(await asyncio.start_server(report, host, control_port))
    print(f"relay: ready, {' '.join(f'{p}={one.counters.delay_ms:g}ms' for p, one in listeners.items())} "
          f"-> {target[0]}:{target[1]}", flush=True)
    await stop.wait()
    for server in servers:
        server.close()
    for listener in listeners.values():  # every relayed connection closes on both sides
        for connection in list(listener.connections):
            connection.close()
    await asyncio.sleep(0.05)  # let the transports send their FINs


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.relay", description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", type=parse_listen, action="append", required=True, metavar="PORT=DELAY_MS")
    parser.add_argument("--target", type=parse_target, required=True, metavar="HOST:PORT")
    parser.add_argument("--control", type=int, required=True, metavar="PORT")
    args = parser.parse_args(argv)
    _fine_timer_slack()
    loop = asyncio.SelectorEventLoop(selectors.SelectSelector())
    try:
        loop.run_until_complete(serve(args.listen, args.target, args.control))
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
