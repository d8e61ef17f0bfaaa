"""The async path's connection pool, whichever engine: opened at startup (Tortoise is
lazy), and read live for /info/ (the driver in use comes from the pool, not from intent).
What differs by driver is in the engine's client: aiomysql_engine, asyncpg_engine."""

from tortoise.connection import get_connection

from fastapi_service.config import CONNECTION


async def open_pool() -> None:
    """Open the fixed-size pool now, every connection of it (the engine checks what it must)."""
    await get_connection(CONNECTION).create_connection(with_db=True)


def pool_info() -> dict:
    """The live pool: its driver (the package its class comes from), size limits and open connections."""
    client = get_connection(CONNECTION)
    cls = type(client._pool)
    return {"driver": cls.__module__.partition(".")[0], "class": f"{cls.__module__}.{cls.__name__}",
            **client.pool_sizes()}
