"""Tortoise's MySQL backend, bound to aiomysql: the engine named in the Tortoise config.

`tortoise.backends.mysql.client` chooses its driver when it is first imported: asyncmy
whenever asyncmy is importable, else aiomysql, with no setting to say which (docs/design.md,
Tortoise driver and pool defaults). The lab records aiomysql, so this engine makes asyncmy unimportable before
that import (a None entry in sys.modules makes `import asyncmy` raise ImportError) and
refuses to load if the backend still ended up on another driver, e.g. because something
imported it earlier. /info/ reports the driver of the live pool, not this intent.

aiomysql has a connect timeout (config.tortoise_config sets it) but no read timeout: loading
this engine puts every connection under aiomysql_read_timeout's watchdog (DB_READ_TIMEOUT_S).
Once reads can fail, BEGIN can, and Tortoise then loses the connection: see MySQLClient.
"""

import sys

sys.modules.setdefault("asyncmy", None)

import aiomysql  # noqa: E402
from tortoise.backends.base.client import TransactionContextPooled  # noqa: E402
from tortoise.backends.mysql import client  # noqa: E402
from tortoise.connection import get_connections  # noqa: E402

from fastapi_service import aiomysql_read_timeout  # noqa: E402
from fastapi_service.config import SETTINGS  # noqa: E402

if client.mysql is not aiomysql:
    raise ImportError(f"tortoise.backends.mysql is bound to {client.mysql.__name__}, not aiomysql: "
                      "it was imported before fastapi_service.aiomysql_engine")

aiomysql_read_timeout.install(SETTINGS.db_read_timeout_s)


class _ReleasingTransaction(TransactionContextPooled):
    __slots__ = ()

    async def __aenter__(self) -> client.TransactionWrapper:
        try:
            return await super().__aenter__()
        except BaseException:
            if hasattr(self, "token"):  # the connection was acquired, then BEGIN failed
                get_connections().reset(self.token)
                await self.client._parent._pool.release(self.client._connection)
            raise


class MySQLClient(client.MySQLClient):
    """Tortoise's client, but a transaction whose BEGIN fails gives its connection back.

    Tortoise 1.1.9 takes the connection from the pool, sends BEGIN, and returns it only on
    leaving the block, which a failed BEGIN never enters: every BEGIN lost to a stall
    would take a pool slot for good, and after FASTAPI_POOL_SIZE of them every async
    request would wait for a connection for ever (and shutdown for the pool to drain).
    """

    def _in_transaction(self) -> TransactionContextPooled:
        return _ReleasingTransaction(client.TransactionWrapper(self), self._pool_init_lock)


client_class = MySQLClient
