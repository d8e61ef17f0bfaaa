"""PostgreSQL: Tortoise's asyncpg backend (tortoise.backends.asyncpg), the engine named in
the Tortoise config (config.tortoise_config) when DB_ENGINE is postgresql.

Three asyncpg pool defaults would change what is measured, so they are overridden here:
- Each time a connection goes back to the pool, asyncpg sends `SELECT
  pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL;`, and Tortoise gives a
  connection back after every transaction and every statement outside one: 16 more round
  trips per io request than on MariaDB. The service takes no advisory locks, opens no
  cursors, listens to nothing and sets nothing, so there is nothing to undo and the reset
  is skipped. asyncpg still rolls back a transaction left open before any reset, so a
  connection never goes back to the pool inside one.
- A connection is closed and replaced after 50,000 queries (some 220 io requests on it),
  and every release re-arms a 300 s idle timer: here connections live as long as the
  service, as aiomysql's do, with no timer per release.
Transactions are tortoise_transaction's, which give the connection back when BEGIN fails.
"""

import asyncpg
from tortoise.backends.asyncpg import client
from tortoise.backends.base.client import TransactionContextPooled

from fastapi_service.tortoise_transaction import ReleasingTransaction


async def _nothing_to_reset(connection: asyncpg.Connection) -> None:
    pass


class AsyncpgClient(client.AsyncpgDBClient):
    async def create_pool(self, **kwargs) -> asyncpg.Pool:
        return await super().create_pool(reset=_nothing_to_reset, max_queries=float("inf"),
                                         max_inactive_connection_lifetime=0, **kwargs)

    def _in_transaction(self) -> TransactionContextPooled:
        return ReleasingTransaction(client.TransactionWrapper(self), self._pool_init_lock)

    def pool_sizes(self) -> dict:
        """The live pool's limits and how many connections it holds open now."""
        return {"minsize": self._pool.get_min_size(), "maxsize": self._pool.get_max_size(),
                "open": self._pool.get_size()}


client_class = AsyncpgClient
