"""The io-intensive workload (docs/design.md, The io workload), via the sync path (plain `def` in the
thread pool: sync_db, plain file I/O) and the async path (Tortoise, aiofiles).

Per request, on both paths: 2 file round trips, then 8 blocks of BEGIN, 10 INSERT,
SELECT COUNT(*), 5 UPDATE one by one, 10 DELETE one by one, COMMIT, each followed by a
SELECT COUNT(*) outside the transaction: 80 INSERT, 40 UPDATE, 80 DELETE, 8 COMMIT and
16 SELECT, as on Django, on either engine (on PostgreSQL an INSERT returns its new id,
which MariaDB's drivers read from the OK packet). The file part and the response are
lab.io_files, shared by all.
"""

import time
from datetime import datetime

from fastapi import APIRouter
from fastapi.responses import Response
from tortoise.transactions import in_transaction

from fastapi_service import sync_db
from fastapi_service.config import SETTINGS
from fastapi_service.models import BenchRecord
from lab import io_files

router = APIRouter()
_IO_DIR = SETTINGS.io_dir
_INSERT = "INSERT INTO lab_records (name, email, age, created_at, updated_at) VALUES (%s, %s, %s, %s, %s)"
_COUNT = "SELECT COUNT(*) FROM lab_records"
_UPDATE = "UPDATE lab_records SET age = %s, updated_at = %s WHERE id = %s"
_DELETE = "DELETE FROM lab_records WHERE id = %s"


def _io_response(started: float) -> Response:
    return Response(io_files.RESPONSE_BODY, media_type="application/json",
                    headers={"Server-Timing": io_files.server_timing(started)})


def _sync_block(block: int) -> None:
    """One transaction: insert 10, count, update 5 one by one, delete 10 one by one."""
    with sync_db.transaction() as cur:
        records = []
        for i, email in enumerate(io_files.new_record_emails(block)):
            now = datetime.now()
            record_id = sync_db.insert(cur, _INSERT, (f"record {i}", email, 20 + i, now, now))
            records.append((record_id, 20 + i))
        cur.execute(_COUNT)
        cur.fetchone()
        for record_id, age in records[: io_files.UPDATES_PER_BLOCK]:
            cur.execute(_UPDATE, (age + 1, datetime.now(), record_id))
        for record_id, _ in records:
            cur.execute(_DELETE, (record_id,))


@router.post("/sync/io/")
def io_sync() -> Response:
    started = time.perf_counter()
    for _ in range(io_files.FILE_ROUND_TRIPS):
        io_files.file_round_trip(_IO_DIR)
    for block in range(io_files.DB_BLOCKS):
        _sync_block(block)
        with sync_db.cursor() as cur:
            cur.execute(_COUNT)
            cur.fetchone()
    return _io_response(started)


async def _async_block(block: int) -> None:
    """One transaction: insert 10, count, update 5 one by one, delete 10 one by one."""
    async with in_transaction():
        records = [await BenchRecord.create(name=f"record {i}", email=email, age=20 + i)
                   for i, email in enumerate(io_files.new_record_emails(block))]
        await BenchRecord.all().count()
        for record in records[: io_files.UPDATES_PER_BLOCK]:
            record.age += 1
            await record.save(update_fields=["age", "updated_at"])
        for record in records:
            await record.delete()


@router.post("/async/io/")
async def io_async() -> Response:
    started = time.perf_counter()
    for _ in range(io_files.FILE_ROUND_TRIPS):
        await io_files.file_round_trip_async(_IO_DIR)
    for block in range(io_files.DB_BLOCKS):
        await _async_block(block)
        await BenchRecord.all().count()
    return _io_response(started)
