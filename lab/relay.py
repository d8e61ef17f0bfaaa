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
import ctypes
import json
import selectors
import signal
import sys
from dataclasses import asdict, dataclass

CHUNK_BYTES = 65536
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
    open_everywhere = 0  # relayed connections over every listener of the process

    def __init__(self, delay_ms: float, target: tuple[str, int]):
        self.hold_s = delay_ms / 1000
        self.early_s = 0.0
        self.target = target
        self.counters = Counters(delay_ms, delay_ms)

    def set_hold(self, hold_ms: float) -> None:
        self.hold_s = max(0.0, hold_ms) / 1000
        self.counters.hold_ms = max(0.0, hold_ms)

    async def handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        c = self.counters
        if Listener.open_everywhere >= MAX_CONNECTIONS:
            c.refused += 1
            client_writer.close()
            return
        Listener.open_everywhere += 1  # before the await: connections arriving meanwhile count
        try:
            await self.relay(client_reader, client_writer)
        except asyncio.CancelledError:
            pass  # shutting down: the connection is closed below, the task ends normally
        finally:
            Listener.open_everywhere -= 1

    async def relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        c = self.counters
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.close()
            return
        c.connections_total += 1
        c.connections_open += 1
        queue: asyncio.Queue = asyncio.Queue()
        pumps = [asyncio.ensure_future(p) for p in (self.receive(client_reader, queue),
                                                     self.send_delayed(queue, server_writer),
                                                     self.pump(server_reader, client_writer))]
        try:
            done, _ = await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            if pumps[0] in done and pumps[2] not in done:  # the app closed: its last chunks still go out
                await asyncio.wait(pumps[1:], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pumps:
                task.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            for writer in (client_writer, server_writer):
                writer.close()
            c.connections_open -= 1

    async def receive(self, reader: asyncio.StreamReader, queue: asyncio.Queue) -> None:
        loop = asyncio.get_running_loop()
        try:
            while data := await reader.read(CHUNK_BYTES):
                queue.put_nowait((loop.time() + self.hold_s, data))
        finally:  # a reset too ends the delayed sender, which then closes the database side
            queue.put_nowait(None)

    async def send_delayed(self, queue: asyncio.Queue, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        c = self.counters
        while (item := await queue.get()) is not None:
            due, data = item
            aim = due - min(self.early_s, self.hold_s / 2)
            if aim - loop.time() > 0:
                await asyncio.sleep(aim - loop.time())
                # A sleeping process wakes late (on a VM an idle CPU wakes ~0.1-0.2 ms late): aim
                # that much early next time, as measured, so chunks leave on time on average.
                self.early_s += EARLY_WEIGHT * (loop.time() - aim - self.early_s)
                c.early_ms = round(self.early_s * 1000, 4)
            writer.write(data)
            late = loop.time() - due
            c.chunks += 1
            c.bytes += len(data)
            c.lag_excess_sum_s += late
            c.lag_excess_max_s = max(c.lag_excess_max_s, late)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()

    async def pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(CHUNK_BYTES):
            writer.write(data)
            await writer.drain()


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

    servers = [await asyncio.start_server(one.handle, host, port) for port, one in listeners.items()]
    servers.append(await asyncio.start_server(report, host, control_port))
    print(f"relay: ready, {' '.join(f'{p}={one.counters.delay_ms:g}ms' for p, one in listeners.items())} "
          f"-> {target[0]}:{target[1]}", flush=True)
    await stop.wait()
    for server in servers:
        server.close()
    pending = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in pending:
        task.cancel()
    if pending:  # every relayed connection closes on both sides before the process exits
        await asyncio.wait(pending, timeout=2)


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
