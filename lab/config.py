"""The one reader of settings.env (django-environ), shared by Django, FastAPI and the tools.

Every value is validated here, once, so a bad value stops everything with one line that
names the key, the value and what is allowed (exit code 2) before any process starts.
The environment overrides settings.env, key by key.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import sys
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

import environ

from lab.errors import USAGE_ERROR, UsageError

ROOT = Path(__file__).resolve().parents[1]
SETTINGS_FILE = ROOT / "settings.env"
VAR_DIR = ROOT / "var"

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}
_SIZE_SUFFIXES = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


class ConfigError(UsageError, ValueError):
    """A bad settings value; str() is the one-line message shown to the user."""

    def __init__(self, key: str, value: str, allowed: str):
        self.allowed = allowed
        super().__init__(f"settings: {key}={value!r} is not allowed: {allowed}")


@dataclass(frozen=True)
class Database:
    host: str
    port: int
    name: str
    user: str
    password: str = field(repr=False)  # never in a repr, a log or Django's DEBUG page
    private: bool = False  # True: the lab's own server under var/ (lab/db.py)
    engine: str = "mariadb"  # one of ENGINES: which server and drivers

    def redacted(self) -> dict:
        return {**asdict(self), "password": "***"}


@dataclass(frozen=True)
class Settings:
    use_asgi: bool
    debug: bool
    secret_key: str = field(repr=False)
    database: Database
    db_max_connections: int
    db_latency_ms: float  # added to every round trip to the database by the bench's relay (0: direct)
    db_connect_timeout_s: int  # every database connection the apps and the driver open
    db_read_timeout_s: int
    server_host: str
    allow_public_bind: bool  # SERVER_HOST off loopback, said explicitly
    server_port: int
    django_wsgi_workers: int
    django_wsgi_blocking_threads: int
    django_asgi_workers: int
    fastapi_workers: int
    runtime_threads: int
    loop: str
    http: str
    backpressure: int
    max_concurrency: int
    conn_max_age_wsgi: int
    conn_max_age_asgi: int
    fastapi_pool_size: int
    fastapi_sync_threads: int
    io_dir: Path
    server_cpus: tuple[int, ...]
    server_cpu_quota: float
    server_memory: int
    client_cpus: tuple[int, ...]
    db_cpus: tuple[int, ...]
    openloop_slo_ms: float = 250.0  # the p99 an open-loop run's sustainable rate must stay under
    django_db_pool: bool = False  # Django under ASGI on PostgreSQL: psycopg's pool instead of a connection per request
    django_db_pool_size: int = 8  # the pool's fixed size (min = max) per ASGI worker

    def record(self) -> dict:
        """Everything, secrets redacted: what a run records about its configuration."""
        data = {k: v for k, v in asdict(self).items() if k != "secret_key"}
        data["database"] = self.database.redacted()
        data["io_dir"] = str(self.io_dir)
        return data


def available_cpus() -> set[int]:
    """The machine's online CPUs. Not this process's affinity: a server pinned by taskset
    still validates CLIENT_CPUS and DB_CPUS against the whole machine."""
    try:
        return set(parse_cpu_ranges(Path("/sys/devices/system/cpu/online").read_text()))
    except (OSError, ValueError):
        return set(range(os.cpu_count() or 1))


def parse_cpu_ranges(text: str) -> list[int]:
    """'0-2,4' -> [0, 1, 2, 4]; ValueError when malformed."""
    cpus: set[int] = set()
    for part in text.strip().split(","):
        low, _, high = part.strip().partition("-")
        first, last = int(low), int(high or low)
        if first > last or first < 0:
            raise ValueError(text)
        cpus.update(range(first, last + 1))
    return sorted(cpus)


def parse_cpu_list(key: str, raw: str) -> tuple[int, ...]:
    allowed_cpus = sorted(available_cpus())
    allowed = f"a CPU list like 1, 0,2 or 0-1 using this machine's CPUs {format_cpus(allowed_cpus)}"
    try:
        cpus = set(parse_cpu_ranges(raw))
    except ValueError:
        raise ConfigError(key, raw, allowed) from None
    if not cpus or not cpus <= set(allowed_cpus):
        raise ConfigError(key, raw, allowed)
    return tuple(sorted(cpus))


def format_cpus(cpus) -> str:
    return ",".join(str(c) for c in sorted(cpus))


def parse_size(key: str, raw: str) -> int:
    text = raw.strip().upper().removesuffix("B").removesuffix("I")
    suffix = text[-1:] if text[-1:] in _SIZE_SUFFIXES else ""
    try:
        value = float(text[: len(text) - len(suffix)]) * _SIZE_SUFFIXES[suffix]
    except ValueError:
        value = 0
    if value < 64 * 1024**2:
        raise ConfigError(key, raw, "a size of at least 64M, e.g. 2G, 512M or a number of bytes")
    return int(value)


DB_NAME_RE = re.compile(r"[A-Za-z0-9_]{1,64}")
# The database engines (lab/db.py ENGINE_MODULES), each with its URL schemes and default port.
ENGINES = ("mariadb", "postgresql")
URL_SCHEMES = {"mysql": "mariadb", "mariadb": "mariadb", "postgresql": "postgresql", "postgres": "postgresql"}
DEFAULT_PORTS = {"mariadb": 3306, "postgresql": 5432}


def redact_url(raw: str) -> str:
    """A DATABASE_URL fit to show: whatever stands between '://' and the last '@' (the user
    and password, even when the password holds an unencoded #, / or ?) becomes user:***."""
    scheme, sep, rest = raw.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not sep or not at:
        return raw
    return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{host}"


def parse_database_url(raw: str) -> Database:
    allowed = ("empty (the private server) or mysql://user:password@host:port/dbname or "
               "postgresql://user:password@host:port/dbname, the password percent-encoded and the database "
               "name letters, digits and _")
    bad = ConfigError("DATABASE_URL", redact_url(raw), allowed)
    try:
        url = urlsplit(raw)
        engine = URL_SCHEMES.get(url.scheme)
        port = url.port or DEFAULT_PORTS.get(engine or "", 0)
    except ValueError:
        raise bad from None
    name = unquote(url.path.lstrip("/"))
    if (engine is None or not url.hostname or not url.username
            or not DB_NAME_RE.fullmatch(name) or url.query or url.fragment):
        raise bad
    return Database(host=url.hostname, port=port, name=name, user=unquote(url.username),
                    password=unquote(url.password or ""), private=False, engine=engine)


def generated_secret(name: str) -> str:
    """A secret made on first use and kept in var/ (git-ignored), never in settings.env.

    Written whole to a temporary file, then linked into place: a second process creating it
    at the same moment loses the link and reads the winner's file, never a half-written one."""
    path = VAR_DIR / name
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        tmp = VAR_DIR / f".{name}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(40) + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    value = path.read_text().strip()
    if not value:
        raise ConfigError(f"var/{name}", "", "a non-empty secret: delete the empty file and the lab makes a new one")
    return value


class _Reader:
    """Typed, validated access to one key at a time; errors name the key and value.
    `overrides` win over the environment and settings.env (a bench variant's values)."""

    def __init__(self, overrides: dict[str, str] | None = None) -> None:
        self.env = environ.Env()
        self.overrides = overrides or {}
        if SETTINGS_FILE.exists():
            environ.Env.read_env(str(SETTINGS_FILE), overwrite=False)

    def raw(self, key: str, default: str | None = None) -> str:
        value = self.overrides[key] if key in self.overrides else self.env.str(key, default=default)
        if value is None:
            raise ConfigError(key, "", f"a value (missing from {SETTINGS_FILE.name} and the environment)")
        return value.strip()

    def bool(self, key: str) -> bool:
        raw = self.raw(key, "false")
        if raw.lower() not in _TRUE | _FALSE:
            raise ConfigError(key, raw, "true or false")
        return raw.lower() in _TRUE

    def int(self, key: str, low: int, high: int, default: str | None = None) -> int:
        raw = self.raw(key, default)
        try:
            value = int(raw)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise ConfigError(key, raw, f"a whole number from {low} to {high}")
        return value

    def number(self, key: str, low: float, high: float, default: str | None = None) -> float:
        raw = self.raw(key, default)
        try:
            value = float(raw)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:  # NaN fails too
            raise ConfigError(key, raw, f"a number from {low:g} to {high:g}")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str | None = None) -> str:
        raw = self.raw(key, default)
        if raw not in choices:
            raise ConfigError(key, raw, " or ".join(choices))
        return raw


def _database(r: _Reader) -> Database:
    """DATABASE_URL's server, else the private server of DB_ENGINE (its password generated
    on first use). An empty DB_ENGINE is DATABASE_URL's engine, or MariaDB."""
    engine = r.raw("DB_ENGINE", "")
    if engine and engine not in ENGINES:
        raise ConfigError("DB_ENGINE", engine, " or ".join(ENGINES) + " (empty: DATABASE_URL's, else mariadb)")
    db_url = r.raw("DATABASE_URL", "")
    if db_url:
        database = parse_database_url(db_url)
        if engine and engine != database.engine:
            raise ConfigError("DB_ENGINE", engine, f"{database.engine} (the engine of DATABASE_URL), or empty")
        return database
    engine = engine or "mariadb"
    name = r.raw("DB_NAME", "lab")
    user = r.raw("DB_USER", "lab")
    for key, value in (("DB_NAME", name), ("DB_USER", user)):
        if not DB_NAME_RE.fullmatch(value) or len(value) > 32:
            raise ConfigError(key, value, "letters, digits and _ (at most 32)")
    port_key = "DB_PORT" if engine == "mariadb" else "PG_PORT"
    return Database(host="127.0.0.1", port=r.int(port_key, 1024, 65535, "5433" if engine == "postgresql" else None),
                    name=name, user=user, password=generated_secret("db_password"), private=True, engine=engine)


def _django_db_pool(r: _Reader, database: Database) -> tuple[bool, int]:
    """DJANGO_DB_POOL and its size: psycopg's pool for Django under ASGI, PostgreSQL only."""
    pool = r.bool("DJANGO_DB_POOL")
    size = r.int("DJANGO_DB_POOL_SIZE", 1, 512, "8")
    if pool and database.engine != "postgresql":
        raise ConfigError("DJANGO_DB_POOL", "true",
                          "false on MariaDB (Django's pool is psycopg's: DB_ENGINE=postgresql)")
    return pool, size


def _via_relay(r: _Reader, database: Database) -> Database:
    """LAB_DB_VIA=host:port, set by the bench on the servers it puts behind its latency
    relay (lab/relay.py): the apps connect there; everything else stays the database's."""
    via = r.raw("LAB_DB_VIA", "")
    if not via:
        return database
    host, _, port = via.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError("LAB_DB_VIA", via, "host:port of the bench's latency relay")
    return replace(database, host=host, port=int(port))


def _server_quota(r: _Reader, server_cpus: tuple[int, ...]) -> float:
    """SERVER_CPU_QUOTA: a quota the server's own CPUs can give."""
    quota_raw = r.raw("SERVER_CPU_QUOTA")
    try:
        quota = float(quota_raw)
    except ValueError:
        quota = 0.0
    if not 0.01 <= quota <= len(server_cpus):
        raise ConfigError("SERVER_CPU_QUOTA", quota_raw,
                          f"a number of CPUs from 0.01 to {len(server_cpus)} (the CPUs in SERVER_CPUS)")
    return quota


def _db_max_connections(r: _Reader, needed: int) -> int:
    """DB_MAX_CONNECTIONS, or with "auto" what every stack can open at once plus a margin."""
    if r.raw("DB_MAX_CONNECTIONS", "auto") == "auto":
        return needed + 32
    return r.int("DB_MAX_CONNECTIONS", 10, 100000)


DB_LATENCY_MAX_MS = 100
IO_DIR_MARK = ".asgi-wsgi-lab-io"  # what says a folder is the lab's io folder (lab/io_files.py)
DEFAULT_IO_DIR = ROOT / "var" / "io"
IO_DIR_ALLOWED = ("a folder the lab makes and marks as its own: one that does not exist yet, or one the lab made "
                  f"before (it holds {IO_DIR_MARK}); never /, /tmp, a home folder, the repository or a folder "
                  "holding it (default var/io)")


def _io_dir(r: _Reader) -> Path:
    """IO_DIR, refused unless it is or will be the lab's own folder: a run deletes the io
    workload's files there, so it must never be a folder that holds anything else."""
    raw = r.raw("IO_DIR", "var/io")
    if not raw:
        raise ConfigError("IO_DIR", raw, IO_DIR_ALLOWED)
    path = (Path(raw) if Path(raw).is_absolute() else ROOT / raw).resolve()
    home = Path.home().resolve()
    shared = {Path("/"), Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"), home, home.parent}
    if path in shared or ROOT.is_relative_to(path) or home.is_relative_to(path):
        raise ConfigError("IO_DIR", raw, IO_DIR_ALLOWED)
    if path.exists() and path != DEFAULT_IO_DIR and not (path.is_dir() and (path / IO_DIR_MARK).is_file()):
        raise ConfigError("IO_DIR", raw, IO_DIR_ALLOWED)
    return path


def _server_host(r: _Reader) -> tuple[str, bool]:
    """SERVER_HOST, loopback unless ALLOW_PUBLIC_BIND=true says the user means it: the apps
    serve an unauthenticated POST that writes to the database, and /info/."""
    host = r.raw("SERVER_HOST", "127.0.0.1")
    allow = r.bool("ALLOW_PUBLIC_BIND")
    if not allow and not is_loopback(host):
        raise ConfigError("SERVER_HOST", host, "a loopback address (127.0.0.1, ::1 or localhost); another address "
                          "serves the lab's endpoints to the network: set ALLOW_PUBLIC_BIND=true if you mean it")
    return host, allow


def is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1, exactly (no name that merely starts like one)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def load(overrides: dict[str, str] | None = None) -> Settings:
    """Read and validate settings.env plus environment overrides (and `overrides` over
    both); raises ConfigError."""
    r = _Reader(overrides)
    database = _via_relay(r, _database(r))
    server_cpus = parse_cpu_list("SERVER_CPUS", r.raw("SERVER_CPUS"))
    quota = _server_quota(r, server_cpus)

    wsgi_workers = r.int("DJANGO_WSGI_WORKERS", 1, 64)
    wsgi_threads = r.int("DJANGO_WSGI_BLOCKING_THREADS", 1, 512)
    fastapi_workers = r.int("FASTAPI_WORKERS", 1, 64)
    pool = r.int("FASTAPI_POOL_SIZE", 1, 512)
    sync_threads = r.int("FASTAPI_SYNC_THREADS", 1, 512)
    max_concurrency = r.int("MAX_CONCURRENCY", 1, 10000, "256")
    max_connections = _db_max_connections(
        r, wsgi_workers * wsgi_threads + fastapi_workers * (pool + sync_threads) + max_concurrency)

    django_pool, django_pool_size = _django_db_pool(r, database)
    conn_max_age_asgi_raw = r.raw("DJANGO_CONN_MAX_AGE_ASGI", "0")
    if conn_max_age_asgi_raw != "0":
        why = ("Django's pool takes no persistent connections" if django_pool else
               "persistent connections leak one per request thread under ASGI; DJANGO_DB_POOL=true on PostgreSQL "
               "is the pooled alternative")
        raise ConfigError("DJANGO_CONN_MAX_AGE_ASGI", conn_max_age_asgi_raw, f"0 only ({why})")
    secret_key = r.raw("SECRET_KEY", "") or generated_secret("secret_key")
    server_host, allow_public_bind = _server_host(r)
    return Settings(
        use_asgi=r.bool("USE_ASGI"),
        debug=r.bool("DEBUG"),
        secret_key=secret_key,
        database=database,
        db_max_connections=max_connections,
        db_latency_ms=r.number("DB_LATENCY_MS", 0, DB_LATENCY_MAX_MS, "0"),
        db_connect_timeout_s=r.int("DB_CONNECT_TIMEOUT_S", 1, 600, "10"),
        db_read_timeout_s=r.int("DB_READ_TIMEOUT_S", 1, 3600, "60"),
        server_host=server_host,
        allow_public_bind=allow_public_bind,
        server_port=r.int("SERVER_PORT", 1024, 65535),
        django_wsgi_workers=wsgi_workers,
        django_wsgi_blocking_threads=wsgi_threads,
        django_asgi_workers=r.int("DJANGO_ASGI_WORKERS", 1, 64),
        fastapi_workers=fastapi_workers,
        runtime_threads=r.int("SERVER_RUNTIME_THREADS", 1, 64),
        loop=r.choice("SERVER_LOOP", ("asyncio", "uvloop")),
        http=r.choice("SERVER_HTTP", ("1",)),
        backpressure=r.int("SERVER_BACKPRESSURE", 1, 100000),
        max_concurrency=max_concurrency,
        conn_max_age_wsgi=r.int("DJANGO_CONN_MAX_AGE_WSGI", 0, 86400),
        conn_max_age_asgi=0,
        fastapi_pool_size=pool,
        fastapi_sync_threads=sync_threads,
        io_dir=_io_dir(r),
        server_cpus=server_cpus,
        server_cpu_quota=quota,
        server_memory=parse_size("SERVER_MEMORY", r.raw("SERVER_MEMORY")),
        client_cpus=parse_cpu_list("CLIENT_CPUS", r.raw("CLIENT_CPUS")),
        db_cpus=parse_cpu_list("DB_CPUS", r.raw("DB_CPUS")),
        openloop_slo_ms=r.number("OPENLOOP_SLO_MS", 0.1, 600000, "250"),
        django_db_pool=django_pool,
        django_db_pool_size=django_pool_size,
    )


def load_or_exit() -> Settings:
    """load() for entry points: a bad value prints one line and exits 2."""
    try:
        return load()
    except ConfigError as error:
        print(error, file=sys.stderr)
        raise SystemExit(USAGE_ERROR) from None
