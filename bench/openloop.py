"""The lab's open-loop load generator: requests arrive at a set rate whatever the server does.

    python -m bench.openloop --url URL --rate RPS --duration S [--warmup S] [--connections N]
                             [--timeout S] [--seed N] [--method M] [--body-file F] [--header 'K: V']...

wrk and ab are closed loops: a connection sends its next request only when the last one
returned, so a stalled server is sent less and the requests that would have arrived
meanwhile are never timed (coordinated omission). Here arrivals are a Poisson process of
the given rate (seeded, its count fixed: see `arrivals`), fixed before the run; each
request is timed from the moment it was *meant* to be sent, so queueing anywhere (in the
server, in its accept backlog, or waiting here for a free connection) counts in its
latency. docs/openloop.md says why the lab carries its own generator (no installable tool
here is open-loop) and what it checks.

Requests go over keep-alive HTTP/1.1 connections, opened as needed up to --connections;
a request due while every connection is busy waits here for one, and is counted as such.
The first --warmup seconds of arrivals are sent and discarded; the next --duration seconds
are measured. After the last arrival it waits for the measured requests' responses up to
the drain limit; one still unanswered is `incomplete`.

It prints one JSON object (bench/parse_openloop.py reads it): the arrivals scheduled and
their realised rate, responses received inside the window (the achieved rate), latency
percentiles from the intended send times (and the mean of each half of the window, which
shows a queue growing or draining), and its own error: how late it dispatched each
request after its intended time (`lateness_ms`; waiting for a connection is counted
apart). Exit 0 with a report, 2 for bad options, 1 when no connection could be made.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import random
import socket
import sys
import time
from collections import deque
from pathlib import Path
from urllib.parse import urlsplit

VERSION = "1"
DRAIN_LIMIT_S = 3.0  # after the last arrival: how long unanswered measured requests are waited for
TIMEOUT_CHECK_S = 0.1
EARLY_S = 0.0002  # a request due this soon is sent now (the loop's timers tick in milliseconds)
PERCENTILES = {"p50": 50, "p75": 75, "p90": 90, "p99": 99, "p99_9": 99.9}


def identity() -> str:
    """What `--version` prints: the generator's version, its source's digest and the event loop's."""
    digest = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
    try:
        import uvloop
        loop = f"uvloop {uvloop.__version__}"
    except ImportError:
        loop = "uvloop missing"
    return f"openloop {VERSION} (bench/openloop.py sha256 {digest}, {loop}, Python {sys.version.split()[0]})"


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile, as HdrHistogram and wrk report them."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def summary(values: list[float]) -> dict[str, float | None]:
    ordered = sorted(values)
    n = len(ordered)
    mean = sum(ordered) / n if n else None
    stdev = math.sqrt(sum((v - mean) ** 2 for v in ordered) / n) if n and mean is not None else None
    out: dict[str, float | None] = {"mean": mean, "stdev": stdev}
    out.update({key: percentile(ordered, q) for key, q in PERCENTILES.items()})
    out["max"] = ordered[-1] if ordered else None
    return {k: (round(v, 4) if v is not None else None) for k, v in out.items()}


def arrivals(rate: float, warmup: float, duration: float, seed: int) -> list[float]:
    """Arrival times, seeded: round(rate x seconds) of them in the warm-up and in the window,
    each at an independent uniform time. That is a Poisson process given its count (the
    bursts and gaps of users arriving independently), with the count fixed, so the window
    is offered exactly the rate asked: a free Poisson count would scatter by its square
    root, 30 % below the target for a slow endpoint's 50 arrivals."""
    rng = random.Random(seed)
    warm = sorted(warmup * rng.random() for _ in range(round(rate * warmup)))
    window = sorted(warmup + duration * rng.random() for _ in range(round(rate * duration)))
    return warm + window


class Request:
    __slots__ = ("due", "sent", "done", "status", "measured", "waited")

    def __init__(self, due: float, measured: bool):
        self.due, self.measured = due, measured
        self.sent = self.done = None
        self.status = 0
        self.waited = False


class Connection(asyncio.Protocol):
    """One keep-alive connection: one request in flight at a time; reads the status line,
    the headers and a Content-Length or chunked body."""

    def __init__(self, generator: Generator):
        self.generator = generator
        self.transport = None
        self.request: Request | None = None
        self.buffer = bytearray()
        self.closed = False

    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, request: Request) -> None:
        self.request = request
        request.sent = time.monotonic()
        self.transport.write(self.generator.payload)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self.generator.bytes += len(data)
        self._parse()

    def _parse(self) -> None:
        if self.request is None:
            return
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return
        head = bytes(self.buffer[:head_end]).decode("latin-1").split("\r\n")
        try:
            status = int(head[0].split(" ", 2)[1])
        except (IndexError, ValueError):
            return self.fail("read")
        headers = {}
        for line in head[1:]:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip().lower()
        body_start = head_end + 4
        if headers.get("transfer-encoding") == "chunked":
            end = self._chunked_end(body_start)
            if end is None:
                return
        else:
            end = body_start + int(headers.get("content-length", "0") or 0)
            if len(self.buffer) < end:
                return
        del self.buffer[:end]
        keep = headers.get("connection") != "close" and head[0].startswith("HTTP/1.1")
        request, self.request = self.request, None
        request.status = status
        self.generator.answered(self, request, keep)

    def _chunked_end(self, at: int) -> int | None:
        while True:
            line_end = self.buffer.find(b"\r\n", at)
            if line_end < 0:
                return None
            size = int(bytes(self.buffer[at:line_end]).split(b";")[0] or b"0", 16)
            at = line_end + 2
            if size == 0:
                trailer_end = self.buffer.find(b"\r\n\r\n", at - 2)
                return trailer_end + 4 if trailer_end >= 0 else None
            at += size + 2
            if len(self.buffer) < at:
                return None

    def fail(self, kind: str) -> None:
        """The request failed: recorded now; the connection is closed (connection_lost follows)."""
        request, self.request = self.request, None
        if request is not None:
            self.generator.failed(self, request, kind)
        self.close()

    def connection_lost(self, exc) -> None:
        """Called once per connection, however it closed: the one place it stops counting as open."""
        self.closed = True
        if self.request is not None:
            self.fail("read")
        self.generator.gone(self)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.transport.abort()


class Generator:
    def __init__(self, options: argparse.Namespace):
        self.options = options
        parts = urlsplit(options.url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        body = Path(options.body_file).read_bytes() if options.body_file else b""
        lines = [f"{options.method} {path} HTTP/1.1", f"Host: {parts.netloc}"]
        lines += options.header
        if body or options.method not in ("GET", "HEAD", "DELETE"):
            lines.append(f"Content-Length: {len(body)}")
        self.payload = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        self.idle: list[Connection] = []
        self.open = 0
        self.peak = 0
        self.opened = 0
        self.waiting: deque[Request] = deque()
        self.in_flight: set[Connection] = set()
        self.requests: list[Request] = []
        self.errors = {"connect": 0, "read": 0, "write": 0, "timeout": 0, "non_2xx": 0, "incomplete": 0}
        self.lateness: list[float] = []
        self.bytes = 0
        self.waited = 0
        self.window: tuple[float, float] = (0.0, 0.0)
        self.answered_in_window = 0
        self.ever_connected = False
        self.connect_error: str | None = None

    # --- sending ------------------------------------------------------------------------
    def dispatch(self, request: Request, fresh: bool = True) -> None:
        """Send a request on an idle connection, else on a new one, else queue it for the next
        free one. `fresh`: it is being sent at its due time (not from the queue), so how late
        that is, is the generator's own error (a new connection's set-up is the server's)."""
        if fresh:
            self.lateness.append(time.monotonic() - request.due)
        while self.idle:
            connection = self.idle.pop()
            if not connection.closed:
                return self._send(connection, request)
        if self.open < self.options.connections:
            self.open += 1
            self.peak = max(self.peak, self.open)
            asyncio.get_running_loop().create_task(self._connect(request))
        elif fresh:
            request.waited = True
            self.waited += request.measured
            self.waiting.append(request)
        else:  # back from the queue with nothing free after all: first in line again
            self.waiting.appendleft(request)

    def _send(self, connection: Connection, request: Request) -> None:
        self.in_flight.add(connection)
        connection.send(request)

    async def _connect(self, request: Request) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, connection = await loop.create_connection(lambda: Connection(self), self.host, self.port)
        except OSError as error:
            self.open -= 1
            self.connect_error = str(error)
            self._record(request, "connect")
            self._next_waiting()
            return
        self.opened += 1
        self.ever_connected = True
        self._send(connection, request)

    def _next_waiting(self) -> None:
        if self.waiting and (self.idle or self.open < self.options.connections):
            self.dispatch(self.waiting.popleft(), fresh=False)

    # --- receiving ----------------------------------------------------------------------
    def answered(self, connection: Connection, request: Request, keep: bool) -> None:
        request.done = time.monotonic()
        self.in_flight.discard(connection)
        if self.window[0] <= request.done < self.window[1]:
            self.answered_in_window += 1
        if request.measured and not 200 <= request.status < 400:
            self.errors["non_2xx"] += 1
        if not keep:
            connection.close()  # connection_lost sends the next waiting request
        elif self.waiting:
            self._send(connection, self.waiting.popleft())
        else:
            self.idle.append(connection)

    def failed(self, connection: Connection, request: Request, kind: str) -> None:
        self.in_flight.discard(connection)
        self._record(request, kind)

    def gone(self, connection: Connection) -> None:
        self.open -= 1
        self.in_flight.discard(connection)
        self._next_waiting()

    def _record(self, request: Request, kind: str) -> None:
        request.status = -1
        request.done = time.monotonic()
        if request.measured:
            self.errors[kind] += 1

    async def _watch_timeouts(self) -> None:
        while True:
            await asyncio.sleep(TIMEOUT_CHECK_S)
            limit = time.monotonic() - self.options.timeout
            for connection in [c for c in self.in_flight if c.request and c.request.sent < limit]:
                connection.fail("timeout")

    # --- the run ------------------------------------------------------------------------
    async def run(self) -> dict:
        options = self.options
        schedule = arrivals(options.rate, options.warmup, options.duration, options.seed)
        watcher = asyncio.get_running_loop().create_task(self._watch_timeouts())
        start = time.monotonic() + 0.05
        self.window = (start + options.warmup, start + options.warmup + options.duration)
        for offset in schedule:
            due = start + offset
            delay = due - time.monotonic()
            while delay > EARLY_S:
                await asyncio.sleep(delay)
                delay = due - time.monotonic()
            request = Request(due, offset >= options.warmup)
            self.requests.append(request)
            self.dispatch(request)
            if not self.ever_connected and self.connect_error and offset > 1.0:
                break  # a second of arrivals and no connection ever made: the server is not there
        now = time.monotonic()
        if now < self.window[1]:
            await asyncio.sleep(self.window[1] - now)
        drain_until = self.window[1] + min(DRAIN_LIMIT_S, options.timeout)
        while any(r.done is None for r in self.requests if r.measured) and time.monotonic() < drain_until:
            await asyncio.sleep(0.01)
        watcher.cancel()
        return self.report(schedule)

    def report(self, schedule: list[float]) -> dict:
        options = self.options
        measured = [r for r in self.requests if r.measured]
        answered = [r for r in measured if r.done is not None and r.status > 0]
        self.errors["incomplete"] = sum(1 for r in measured if r.done is None)
        warm = [r for r in self.requests if not r.measured]
        # From the intended time; a request the loop's millisecond timer let leave a little early, from its send.
        latency = [(r.done - min(r.due, r.sent)) * 1000 for r in answered]
        service = [(r.done - r.sent) * 1000 for r in answered]
        scheduled = sum(1 for t in schedule if t >= options.warmup)
        middle = self.window[0] + options.duration / 2
        halves = [[(r.done - min(r.due, r.sent)) * 1000 for r in answered if (r.due < middle) == first]
                  for first in (True, False)]
        return {
            "tool": "openloop", "version": identity(), "url": options.url, "method": options.method,
            "arrivals": "poisson", "seed": options.seed, "target_rps": options.rate,
            "warmup_s": options.warmup, "duration_s": options.duration, "connections_limit": options.connections,
            "scheduled": scheduled, "scheduled_rps": scheduled / options.duration, "sent": sum(
                1 for r in measured if r.sent is not None),
            "answered": len(answered), "answered_in_window": self.answered_in_window,
            "achieved_rps": self.answered_in_window / options.duration,
            "warmup": {"requests": len(warm), "answered": sum(1 for r in warm if r.status > 0)},
            "errors": self.errors, "bytes": self.bytes,
            "latency_ms": summary(latency), "service_ms": summary(service),
            "lateness_ms": summary([x * 1000 for x in self.lateness]),
            # mean latency of the window's first and second half of arrivals: a queue growing or draining shows
            "halves_mean_ms": [round(sum(h) / len(h), 4) if h else None for h in halves],
            "waited_for_connection": self.waited, "connections_opened": self.opened, "connections_peak": self.peak,
            "connect_error": None if self.ever_connected else self.connect_error,
        }


def _positive_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.openloop", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=identity())
    parser.add_argument("--url", required=True)
    parser.add_argument("--rate", type=_positive_float, required=True, help="arrivals per second (Poisson)")
    parser.add_argument("--duration", type=_positive_float, required=True, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of arrivals sent first, not measured")
    parser.add_argument("--connections", type=int, default=256, help="keep-alive connections at most")
    parser.add_argument("--timeout", type=_positive_float, default=30.0, help="per request, seconds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--method", default="GET")
    parser.add_argument("--body-file")
    parser.add_argument("--header", action="append", default=[], help="'Name: value', repeatable")
    return parser


def main(argv: list[str] | None = None) -> int:
    options = build_parser().parse_args(argv)
    if urlsplit(options.url).scheme != "http" or options.connections < 1 or options.warmup < 0:
        print("python -m bench.openloop: --url must be http://..., --connections at least 1, --warmup not negative",
              file=sys.stderr)
        return 2
    try:
        import uvloop
    except ImportError:
        print("python -m bench.openloop: uvloop is not installed (scripts/setup.sh installs it)", file=sys.stderr)
        return 2
    report = uvloop.run(Generator(options).run())
    print(json.dumps(report))
    if report["connect_error"]:
        print(f"openloop: no connection to {options.url}: {report['connect_error']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
