"""The warm-up before each level: `concurrency` keep-alive connections sending the level's
request until every one of them has had a response, then each finishes the request it
has in flight (nothing is abandoned, so no leftover work is billed to the window).

It is discarded; what it leaves behind is a warm server (threads, connection pools,
caches at this concurrency) and a first estimate of the level's rate. A plain asyncio
client: it runs on the driver's CPUs (CLIENT_CPUS) and only has to be fast enough to
keep the connections busy, not to measure.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class WarmupResult:
    seconds: float
    requests: int
    connections_answered: int
    connections: int

    @property
    def complete(self) -> bool:
        return self.connections_answered == self.connections

    @property
    def rps(self) -> float | None:
        return self.requests / self.seconds if self.requests and self.seconds > 0 else None

    def record(self) -> dict:
        return asdict(self)


def request_bytes(url: str, method: str, path: str, body: bytes,
                  headers: tuple[tuple[str, str], ...] = ()) -> bytes:
    """The request, as the load tools send it: a body (when there is one) with its length,
    and the given headers (a POST of the lab's own endpoints: Content-Type JSON)."""
    host = urlsplit(url).netloc
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: asgi-wsgi-lab-warmup\r\n"
    head += "".join(f"{key}: {value}\r\n" for key, value in headers)
    if body or method not in ("GET", "HEAD"):
        head += f"Content-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    """Read one response, sized by Content-Length or sent in chunks; return its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length, chunked = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
        elif name.strip().lower() == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if not chunked:
        await reader.readexactly(length)
        return status
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
        await reader.readexactly(size + 2)  # the chunk and its CRLF (the last: no trailers, CRLF)
        if size == 0:
            return status


async def _warm(url: str, method: str, path: str, body: bytes, concurrency: int, timeout_s: float,
                headers: tuple[tuple[str, str], ...]) -> WarmupResult:
    parts = urlsplit(url)
    request = request_bytes(url, method, path, body, headers)
    answered = [0] * concurrency
    everyone = asyncio.Event()
    started = time.monotonic()
    deadline = started + timeout_s

    async def connection(index: int) -> None:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
        try:
            while not everyone.is_set() and time.monotonic() < deadline:
                writer.write(request)
                await writer.drain()
                await asyncio.wait_for(_read_response(reader), max(0.1, deadline - time.monotonic()))
                answered[index] += 1
                if all(answered):
                    everyone.set()
        finally:
            writer.close()

    results = await asyncio.gather(*(connection(i) for i in range(concurrency)), return_exceptions=True)
    del results  # a failed connection simply stays unanswered; the level's own checks judge it
    return WarmupResult(time.monotonic() - started, sum(answered), sum(1 for a in answered if a), concurrency)


def warm_up(url: str, method: str, path: str, body: bytes, concurrency: int, timeout_s: float,
            headers: tuple[tuple[str, str], ...] = ()) -> WarmupResult:
    """Run the warm-up; never raises for a slow or failing server (the result says so)."""
    return asyncio.run(_warm(url, method, path, body, concurrency, timeout_s, headers))
