"""/ping/ (the framework floor) and /info/ (what this server really runs, read live: the
async path's driver from its pool, the sync path's from sync_db)."""

import asyncio
import json
import os
import platform
from importlib.metadata import version

from anyio import to_thread
from fastapi import APIRouter
from fastapi.responses import Response

from fastapi_service import async_db, sync_db
from fastapi_service.config import SETTINGS

router = APIRouter()

# Django's /ping/ says text/plain without a charset; Starlette would append one.
_PING_HEADERS = {"content-type": "text/plain"}
_PACKAGES = ("fastapi", "starlette", "tortoise-orm", "jinja2", "anyio")
# The engine's drivers: the async path's (with aiomysql, the PyMySQL it is built on) and the sync path's.
_DRIVERS = {"mariadb": ("aiomysql", "pymysql", "mysqlclient"), "postgresql": ("asyncpg", "psycopg")}


@router.get("/ping/")
async def ping() -> Response:
    return Response(b"pong", headers=_PING_HEADERS)


@router.get("/info/")
async def info() -> Response:
    pool = async_db.pool_info()
    loop = type(asyncio.get_running_loop())
    body = {
        # Which stack and server this is, the starter says (lab/serve.py): the app never names its own server.
        "stack": os.environ.get("LAB_STACK", "unknown"),
        "framework": "fastapi",
        "interface": "asgi",
        "server": os.environ.get("LAB_SERVER", "unknown"),
        "versions": {"python": platform.python_version(),
                     **{name: version(name) for name in (*_PACKAGES, *_DRIVERS[SETTINGS.database.engine])}},
        "db_engine": SETTINGS.database.engine,
        "db_driver": pool["driver"],
        "sync_db_driver": sync_db.DRIVER,
        "settings": {
            "debug": SETTINGS.debug,
            "pool": pool,
            "pool_size": SETTINGS.fastapi_pool_size,
            "sync_threads": int(to_thread.current_default_thread_limiter().total_tokens),
            "workers": SETTINGS.fastapi_workers,
            "loop": SETTINGS.loop,
            "running_loop": f"{loop.__module__}.{loop.__name__}",
            "io_dir": str(SETTINGS.io_dir),
            "ping_view": "async",
            "middleware": [],
        },
    }
    return Response(json.dumps(body), media_type="application/json")
