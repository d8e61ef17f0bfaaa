"""The file half of the io-intensive workload and its fixed response, shared by every
stack so that this part is the same code everywhere (docs/design.md, The io workload)."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import aiofiles
import aiofiles.os

FILE_ROUND_TRIPS = 2
DB_BLOCKS = 8
ROWS_PER_BLOCK = 10
UPDATES_PER_BLOCK = 5

# Fixed length, so ab's length check stays meaningful.
RESPONSE_BODY = json.dumps(
    {
        "file_operations": FILE_ROUND_TRIPS,
        "db_operations": DB_BLOCKS,
        "rows_created": DB_BLOCKS * ROWS_PER_BLOCK,
        "rows_updated": DB_BLOCKS * UPDATES_PER_BLOCK,
        "rows_deleted": DB_BLOCKS * ROWS_PER_BLOCK,
    },
    separators=(",", ":"),
)


def _document() -> str:
    """About 1 KB of JSON, different per call so nothing is cached."""
    token = uuid.uuid4().hex
    items = [{"index": i, "token": token, "value": f"{token}-{i}"} for i in range(12)]
    return json.dumps({"id": token, "created": time.time(), "items": items})


def _new_path(io_dir: Path) -> Path:
    return io_dir / f"io-{os.getpid()}-{uuid.uuid4().hex}.json"


def file_round_trip(io_dir: Path) -> None:
    """Write a document to a new file, read it back, parse it; the file never stays."""
    path = _new_path(io_dir)
    try:
        path.write_text(_document())
        json.loads(path.read_text())
    finally:
        path.unlink(missing_ok=True)


async def file_round_trip_async(io_dir: Path) -> None:
    path = _new_path(io_dir)
    try:
        async with aiofiles.open(path, "w") as out:
            await out.write(_document())
        async with aiofiles.open(path) as source:
            json.loads(await source.read())
    finally:
        try:
            await aiofiles.os.remove(path)
        except FileNotFoundError:
            pass


def server_timing(started: float) -> str:
    """`Server-Timing` value for a request that began at time.perf_counter() == started."""
    return f"app;dur={(time.perf_counter() - started) * 1000:.1f}"


def new_record_emails(block: int) -> list[str]:
    """Unique emails for one DB block's rows (unique across processes and requests)."""
    tag = uuid.uuid4().hex
    return [f"{tag}-{block}-{i}@bench.invalid" for i in range(ROWS_PER_BLOCK)]
