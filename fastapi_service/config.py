"""The service's settings. lab.config is the one reader of settings.env (validated; a bad
value prints one line and exits 2, here at import, before Granian serves anything); this
module only derives what FastAPI needs from it, for the engine DB_ENGINE names."""

from pathlib import Path

from lab.config import Settings, load_or_exit

SETTINGS = load_or_exit()
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
CONNECTION = "default"


def _mariadb(settings: Settings) -> dict:
    """`sql_mode: None` keeps the server's sql_mode, as Django and the sync path do (Tortoise
    would otherwise send `SET sql_mode` per connection). `connect_timeout` bounds aiomysql's
    TCP connect; reads, which aiomysql never times out, are bounded by the engine
    (aiomysql_read_timeout). Autocommit has no key here: Tortoise opens its pool with
    autocommit on and drops an `autocommit` key; the engine checks it (aiomysql_autocommit)."""
    return {"engine": "fastapi_service.aiomysql_engine",
            "credentials": {"charset": "utf8mb4", "sql_mode": None, "connect_timeout": settings.db_connect_timeout_s}}


def _postgresql(settings: Settings) -> dict:
    """`timeout` bounds asyncpg's whole connect (DB_CONNECT_TIMEOUT_S). DB_READ_TIMEOUT_S
    bounds statements twice: the server's statement_timeout, set once per connection at
    connect as on every psycopg connection of the lab, fails a statement that runs or waits
    too long; asyncpg's command_timeout (one loop timer per statement) fails one whose
    server fell silent, which statement_timeout cannot see."""
    return {"engine": "fastapi_service.asyncpg_engine",
            "credentials": {"timeout": settings.db_connect_timeout_s, "command_timeout": settings.db_read_timeout_s,
                            "server_settings": {"statement_timeout": str(settings.db_read_timeout_s * 1000)}}}


def tortoise_config(settings: Settings) -> dict:
    """Tortoise on the engine's driver (aiomysql or asyncpg) with a fixed-size pool of
    FASTAPI_POOL_SIZE connections: minsize == maxsize, so every connection is opened at
    startup and no connection set-up happens while a level is measured."""
    db = settings.database
    connection = {"mariadb": _mariadb, "postgresql": _postgresql}[db.engine](settings)
    connection["credentials"].update(host=db.host, port=db.port, user=db.user, password=db.password,
                                     database=db.name, minsize=settings.fastapi_pool_size,
                                     maxsize=settings.fastapi_pool_size)
    return {
        "connections": {CONNECTION: connection},
        "apps": {"models": {"models": ["fastapi_service.models"], "default_connection": CONNECTION}},
    }
