"""The async path's connection pool: Tortoise's aiomysql pool, opened at startup and
inspected live for /info/ (the driver in use is read from the pool, not assumed)."""

from tortoise.connection import get_connection

from fastapi_service.config import CONNECTION


async def open_pool() -> None:
    """Open the fixed-size pool now rather than on the first request (Tortoise is lazy)."""
    await get_connection(CONNECTION).create_connection(with_db=True)


def pool_info() -> dict:
    """The live pool: its driver (the package its class comes from) and its size limits."""
    pool = get_connection(CONNECTION)._pool
    cls = type(pool)
    return {"driver": cls.__module__.partition(".")[0], "class": f"{cls.__module__}.{cls.__name__}",
            "minsize": pool.minsize, "maxsize": pool.maxsize}
