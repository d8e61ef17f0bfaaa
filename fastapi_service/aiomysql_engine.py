"""Tortoise's MySQL backend, bound to aiomysql: the engine named in the Tortoise config.

`tortoise.backends.mysql.client` chooses its driver when it is first imported: asyncmy
whenever asyncmy is importable, else aiomysql, with no setting to say which (docs/design.md,
Tortoise driver and pool defaults). The lab records aiomysql, so this engine makes asyncmy unimportable before
that import (a None entry in sys.modules makes `import asyncmy` raise ImportError) and
refuses to load if the backend still ended up on another driver, e.g. because something
imported it earlier. /info/ reports the driver of the live pool, not this intent.
"""

import sys

sys.modules.setdefault("asyncmy", None)

import aiomysql  # noqa: E402
from tortoise.backends.mysql import client  # noqa: E402

if client.mysql is not aiomysql:
    raise ImportError(f"tortoise.backends.mysql is bound to {client.mysql.__name__}, not aiomysql: "
                      "it was imported before fastapi_service.aiomysql_engine")

client_class = client.MySQLClient
