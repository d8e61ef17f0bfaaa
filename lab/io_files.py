"""The file half of the io-intensive workload and its fixed response, shared by every
stack so that this part is the same code everywhere (docs/design.md, The io workload)."""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from pathlib import Path

import aiofiles
import aiofiles.os

from lab.config import IO_DIR_MARK

FILE_ROUND_TRIPS = 2
DB_BLOCKS = 8
ROWS_PER_BLOCK = 10
UPDATES_PER_BLOCK = 5
SELECTS_PER_BLOCK = 2  # SELECT COUNT(*) inside the block's transaction, and once after it

# What every stack sends MariaDB on lab_records per request, by statement: the gate's
# statement audit and the tests count exactly this.
STATEMENTS_PER_REQUEST = {
    "insert": DB_BLOCKS * ROWS_PER_BLOCK,
    "update": DB_BLOCKS * UPDATES_PER_BLOCK,
    "delete": DB_BLOCKS * ROWS_PER_BLOCK,
    "commit": DB_BLOCKS,
    "select": DB_BLOCKS * SELECTS_PER_BLOCK,
}

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


# The only files the lab ever deletes in IO_DIR: the ones _new_path names.
IO_FILE_RE = re.compile(r"io-\d+-[0-9a-f]{32}\.json")


def _new_path(io_dir: Path) -> Path:
    return io_dir / f"io-{os.getpid()}-{uuid.uuid4().hex}.json"


def prepare_io_dir(io_dir: Path) -> None:
    """Make IO_DIR and mark it as the lab's (lab/config.py has already refused any folder
    that exists and is not the lab's, or the lab's default var/io of an older checkout)."""
    io_dir.mkdir(parents=True, exist_ok=True)
    (io_dir / IO_DIR_MARK).touch()


def io_files_left(io_dir: Path) -> list[Path]:
    """The workload's files still in IO_DIR (a request that died between write and unlink)."""
    if not (io_dir / IO_DIR_MARK).is_file():
        return []
    return sorted(p for p in io_dir.iterdir() if IO_FILE_RE.fullmatch(p.name) and p.is_file())


def remove_io_files(io_dir: Path) -> int:
    """Delete what the workload left in IO_DIR: only files named as it names them, only in a
    folder the lab marked as its own; nothing else there is touched."""
    left = io_files_left(io_dir)
    for path in left:
        path.unlink(missing_ok=True)
    return len(left)


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
