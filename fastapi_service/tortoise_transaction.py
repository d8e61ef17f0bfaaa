"""A Tortoise transaction whose BEGIN fails gives its connection back to the pool; both
engines' clients (aiomysql_engine, asyncpg_engine) open their transactions with it.

Tortoise 1.1.9 takes the connection from the pool, sends BEGIN, and returns it only on
leaving the block, which a failed BEGIN (a read timeout, a lost connection) never enters:
every BEGIN lost to a stall would take a pool slot for good, and after FASTAPI_POOL_SIZE
of them every async request would wait for a connection for ever (and shutdown for the
pool to drain).
"""

from tortoise.backends.base.client import TransactionalDBClient, TransactionContextPooled
from tortoise.connection import get_connections


class ReleasingTransaction(TransactionContextPooled):
    __slots__ = ()

    async def __aenter__(self) -> TransactionalDBClient:
        try:
            return await super().__aenter__()
        except BaseException:
            if hasattr(self, "token"):  # the connection was acquired, then BEGIN failed
                get_connections().reset(self.token)
                await self.client._parent._pool.release(self.client._connection)
            raise
