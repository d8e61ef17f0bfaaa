"""The FastAPI app (`granian --interface asgi fastapi_service.main:app`) and its lifespan.

The lifespan sizes the sync path's thread pool (anyio's default limiter, which FastAPI
uses for plain `def` endpoints) to FASTAPI_SYNC_THREADS, registers Tortoise and opens its
pool (aiomysql on MariaDB, asyncpg on PostgreSQL), and closes the pool on shutdown. Same
URLs as Django, trailing slash included: no redirects (Django without CommonMiddleware
answers 404 too), no docs or OpenAPI routes, no middleware beyond FastAPI's built-in error
handling.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI
from tortoise.contrib.fastapi import RegisterTortoise

from fastapi_service import async_db, routes_io, routes_meta, routes_users
from fastapi_service.config import SETTINGS, tortoise_config


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    to_thread.current_default_thread_limiter().total_tokens = SETTINGS.fastapi_sync_threads
    # Naive UTC datetimes, as Django with USE_TZ=False: the same cells on every stack.
    async with RegisterTortoise(app, config=tortoise_config(SETTINGS), use_tz=False, timezone="UTC"):
        await async_db.open_pool()
        yield


app = FastAPI(lifespan=lifespan, redirect_slashes=False, docs_url=None, redoc_url=None, openapi_url=None,
              debug=SETTINGS.debug)
for module in (routes_meta, routes_users, routes_io):
    app.include_router(module.router)
