"""The service's settings. lab.config is the one reader of settings.env (validated; a bad
value prints one line and exits 2, here at import, before Granian serves anything); this
module only derives what FastAPI needs from it."""

from pathlib import Path

from lab.config import Settings, load_or_exit

SETTINGS = load_or_exit()
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
CONNECTION = "default"


def tortoise_config(settings: Settings) -> dict:
    """Tortoise on aiomysql with a fixed-size pool of FASTAPI_POOL_SIZE connections.

    minsize == maxsize: every connection is opened at startup, so no connection set-up
    happens while a level is measured. `sql_mode: None` keeps the server's sql_mode, as
    Django and the sync path do (Tortoise would otherwise send `SET sql_mode` per connection).
    `connect_timeout` bounds aiomysql's TCP connect (DB_CONNECT_TIMEOUT_S); reads, which
    aiomysql never times out, are bounded by the engine (aiomysql_read_timeout).
    Autocommit has no key here: Tortoise opens its pool with autocommit on and drops an
    `autocommit` key; async_db.open_pool checks it (see there why it matters).
    """
    db = settings.database
    credentials = {"host": db.host, "port": db.port, "user": db.user, "password": db.password,
                   "database": db.name, "charset": "utf8mb4", "minsize": settings.fastapi_pool_size,
                   "maxsize": settings.fastapi_pool_size, "sql_mode": None,
                   "connect_timeout": settings.db_connect_timeout_s}
    return {
        "connections": {
            CONNECTION: {"engine": "fastapi_service.aiomysql_engine", "credentials": credentials},
        },
        "apps": {"models": {"models": ["fastapi_service.models"], "default_connection": CONNECTION}},
    }
