"""MariaDB: Tortoise's MySQL backend, bound to aiomysql: the engine named in the Tortoise
config (config.tortoise_config) when DB_ENGINE is mariadb, never imported otherwise.

`tortoise.backends.mysql.client` chooses its driver when it is first imported: asyncmy
whenever asyncmy is importable, else aiomysql, with no setting to say which (docs/design.md,
Tortoise driver and pool defaults). The lab records aiomysql, so this engine makes asyncmy unimportable before
that import (a None entry in sys.modules makes `import asyncmy` raise ImportError) and
refuses to load if the backend still ended up on another driver, e.g. because something
imported it earlier. /info/ reports the driver of the live pool, not this intent.

aiomysql has a connect timeout (config.tortoise_config sets it) but no read timeout: loading
this engine puts every connection under aiomysql_read_timeout's watchdog (DB_READ_TIMEOUT_S).
Once reads can fail, BEGIN can: transactions are tortoise_transaction's, which give the
connection back when BEGIN fails. Opening the pool checks it (aiomysql_autocommit).
"""

import sys

sys.modules.setdefault("asyncmy", None)

import aiomysql  # noqa: E402
from tortoise.backends.base.client import TransactionContextPooled  # noqa: E402
from tortoise.backends.mysql import client  # noqa: E402

from fastapi_service import aiomysql_autocommit, aiomysql_read_timeout  # noqa: E402
from fastapi_service.config import SETTINGS  # noqa: E402
from fastapi_service.tortoise_transaction import ReleasingTransaction  # noqa: E402

if client.mysql is not aiomysql:
    raise ImportError(f"tortoise.backends.mysql is bound to {client.mysql.__name__}, not aiomysql: "
                      "it was imported before fastapi_service.aiomysql_engine")

aiomysql_read_timeout.install(SETTINGS.db_read_timeout_s)


class MySQLClient(client.MySQLClient):
    async def create_connection(self, with_db: bool) -> None:
        await super().create_connection(with_db)
        await aiomysql_autocommit.check(self._pool)

    def _in_transaction(self) -> TransactionContextPooled:
        return ReleasingTransaction(client.TransactionWrapper(self), self._pool_init_lock)

    def pool_sizes(self) -> dict:
        """The live pool's limits and how many connections it holds open now."""
        return {"minsize": self._pool.minsize, "maxsize": self._pool.maxsize, "open": self._pool.size}


client_class = MySQLClient
