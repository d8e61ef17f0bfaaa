"""The lab's endpoints: users page and io workload, each via a sync and an async path."""

import json
import os
import platform
import time

import django
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from lab import io_files
from lab.limit_param import LimitError, parse_limit

from .models import BenchRecord, User


def _bad_limit(error: LimitError) -> HttpResponse:
    return HttpResponseBadRequest(str(error), content_type="text/plain; charset=utf-8")


@require_GET
def ping_sync(request):
    return HttpResponse("pong", content_type="text/plain")


@require_GET
async def ping_async(request):
    return HttpResponse("pong", content_type="text/plain")


@require_GET
def users_sync(request):
    try:
        limit = parse_limit(request.GET.get("limit"))
    except LimitError as error:
        return _bad_limit(error)
    users = list(User.objects.order_by("id")[:limit])
    return render(request, "workload/users.html", {"users": users})


@require_GET
async def users_async(request):
    try:
        limit = parse_limit(request.GET.get("limit"))
    except LimitError as error:
        return _bad_limit(error)
    users = [user async for user in User.objects.order_by("id")[:limit]]
    return render(request, "workload/users.html", {"users": users})


def _db_block(block: int) -> None:
    """One transaction: insert 10, count, update 5 one by one, delete 10 one by one."""
    with transaction.atomic():
        records = [BenchRecord.objects.create(name=f"record {i}", email=email, age=20 + i)
                   for i, email in enumerate(io_files.new_record_emails(block))]
        BenchRecord.objects.count()
        for record in records[: io_files.UPDATES_PER_BLOCK]:
            record.age += 1
            record.save(update_fields=["age", "updated_at"])
        for record in records:
            record.delete()


def _io_response(started: float) -> HttpResponse:
    response = HttpResponse(io_files.RESPONSE_BODY, content_type="application/json")
    response["Server-Timing"] = io_files.server_timing(started)
    return response


@require_POST
def io_sync(request):
    started = time.perf_counter()
    for _ in range(io_files.FILE_ROUND_TRIPS):
        io_files.file_round_trip(settings.IO_DIR)
    for block in range(io_files.DB_BLOCKS):
        _db_block(block)
        BenchRecord.objects.count()
    return _io_response(started)


@require_POST
async def io_async(request):
    """Django has no async transaction API: each DB block runs through sync_to_async."""
    started = time.perf_counter()
    for _ in range(io_files.FILE_ROUND_TRIPS):
        await io_files.file_round_trip_async(settings.IO_DIR)
    db_block = sync_to_async(_db_block)
    for block in range(io_files.DB_BLOCKS):
        await db_block(block)
        await BenchRecord.objects.acount()
    return _io_response(started)


DB_DRIVER = {"mariadb": "mysqlclient", "postgresql": "psycopg"}[settings.LAB.database.engine]


def _driver_version() -> str:
    if DB_DRIVER == "psycopg":
        import psycopg
        return psycopg.__version__
    import MySQLdb
    return ".".join(map(str, MySQLdb.version_info[:3]))


@require_GET
def info(request):
    lab = settings.LAB
    body = {
        # Which stack and server this is, the starter says (lab/serve.py): the app never names its own server.
        "stack": os.environ.get("LAB_STACK", "unknown"),
        "framework": "django",
        "interface": "asgi" if settings.USE_ASGI else "wsgi",
        "server": os.environ.get("LAB_SERVER", "unknown"),
        "versions": {"python": platform.python_version(), "django": django.__version__,
                     DB_DRIVER: _driver_version()},
        "db_driver": DB_DRIVER,
        "db_engine": lab.database.engine,
        "settings": {
            "debug": settings.DEBUG,
            "conn_max_age": settings.DATABASES["default"]["CONN_MAX_AGE"],
            "db_pool": settings.DATABASES["default"]["OPTIONS"].get("pool"),
            "workers": lab.django_asgi_workers if settings.USE_ASGI else lab.django_wsgi_workers,
            "blocking_threads": None if settings.USE_ASGI else lab.django_wsgi_blocking_threads,
            "loop": lab.loop,
            "io_dir": str(settings.IO_DIR),
            "ping_view": "async" if settings.USE_ASGI else "sync",
            "middleware": settings.MIDDLEWARE,
        },
    }
    return HttpResponse(json.dumps(body), content_type="application/json")
