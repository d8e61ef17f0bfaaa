"""Settings a run varies (`--vary KEY=v1,v2,...`, or a profile's axes): every value of
every axis (their cartesian product) is a variant, and each stack runs once per variant
of the settings it reads, its own server with those settings, up for the whole run like
every other. A round then measures every (stack, variant) unit at one level in a fresh
random order, so a curve along an axis is compared within rounds too.

A stack is not run again for a setting it does not read: with
`--vary DB_LATENCY_MS=0,5 --vary DJANGO_WSGI_BLOCKING_THREADS=8,32`, Django WSGI runs
four times and Django ASGI twice (`django-asgi@DB_LATENCY_MS=5`), and the analysis pairs
the ASGI unit with each WSGI unit at the same round trip (bench/analysis/frames.py).

A unit is named `stack` (the run varies nothing) or `stack@KEY=value[,KEY=value]`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from lab.config import ConfigError, Settings, load
from lab.errors import UsageError
from lab.stacks import STACKS

# Settings that change results and can be varied, with what each one is.
VARIABLE_SETTINGS: dict[str, str] = {
    "DB_LATENCY_MS": "round trip added to every database call by the lab's relay (ms)",
    "DJANGO_WSGI_BLOCKING_THREADS": "Django WSGI's threads, each holding a database connection",
    "DJANGO_WSGI_WORKERS": "Django WSGI's worker processes",
    "DJANGO_ASGI_WORKERS": "Django ASGI's worker processes",
    "FASTAPI_WORKERS": "FastAPI's worker processes",
    "FASTAPI_POOL_SIZE": "FastAPI's Tortoise pool on the async path",
    "FASTAPI_SYNC_THREADS": "FastAPI's threads (one database connection each) on the sync path",
    "DJANGO_DB_POOL": "Django ASGI's connection pool on PostgreSQL (0: a connection per request, 1: the pool)",
    "DB_ENGINE": "the database server: mariadb or postgresql (docs/databases.md)",
}
BOOLEAN_SETTINGS = ("DJANGO_DB_POOL",)  # varied as 0 and 1
NAME_SETTINGS = ("DB_ENGINE",)  # varied by name: not a number (a row's `varied` leaves it out)
UNIT_SEPARATOR = "@"
# Settings only some apps read (the others are read by the stack's own entry: its workers and
# threads keys); DB_LATENCY_MS is read by every app that talks to the database.
APP_SETTINGS: dict[str, tuple[str, ...]] = {
    "django": ("DB_LATENCY_MS", "DJANGO_DB_POOL", "DB_ENGINE"),
    "fastapi": ("DB_LATENCY_MS", "FASTAPI_POOL_SIZE", "FASTAPI_SYNC_THREADS", "DB_ENGINE"),
    "raw": (),
}


def reads(stack: str, key: str) -> bool:
    """Whether the stack's server changes with this setting (an unknown stack: assume it does)."""
    entry = STACKS.get(stack)
    if entry is None:
        return True
    if key == "DJANGO_DB_POOL" and entry.interface != "asgi":  # WSGI keeps its persistent connections
        return False
    return key in (entry.workers_key, entry.threads_key) or key in APP_SETTINGS.get(entry.app, (key,))


class VaryError(UsageError, ValueError):
    """A bad --vary; str() is the one-line message."""


@dataclass(frozen=True)
class Variant:
    values: tuple[tuple[str, str], ...] = ()  # (KEY, value) in axis order

    @property
    def label(self) -> str:
        return ",".join(f"{k}={v}" for k, v in self.values)

    @property
    def overrides(self) -> dict[str, str]:
        return dict(self.values)

    def numbers(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.values if k not in NAME_SETTINGS}

    def unit(self, stack: str) -> str:
        return f"{stack}{UNIT_SEPARATOR}{self.label}" if self.values else stack

    def for_stack(self, stack: str) -> Variant:
        """The part of this variant the stack reads: what its server is started with. Django's
        pool is PostgreSQL's: on MariaDB a Django ASGI unit reads no DJANGO_DB_POOL."""
        kept = tuple((k, v) for k, v in self.values if reads(stack, k))
        if "DJANGO_DB_POOL" in dict(kept) and self.engine() != "postgresql":
            kept = tuple((k, v) for k, v in kept if k != "DJANGO_DB_POOL")
        return Variant(kept)

    def engine(self) -> str:
        """The database engine this variant runs on: its DB_ENGINE, else the settings'."""
        return self.overrides.get("DB_ENGINE") or load().database.engine

    def settings(self) -> Settings:
        return load(self.overrides)


def split_unit(unit: str) -> tuple[str, str]:
    """'django-wsgi@DB_LATENCY_MS=1' -> ('django-wsgi', 'DB_LATENCY_MS=1'); 'fastapi' -> ('fastapi', '')."""
    stack, _, label = unit.partition(UNIT_SEPARATOR)
    return stack, label


def unit_settings(unit: str, settings: Settings) -> Settings:
    """A unit's settings: the run's, with its variant's values over them."""
    _, label = split_unit(unit)
    return variant_of(label).settings() if label else settings


def variant_of(label: str) -> Variant:
    return Variant(tuple(tuple(part.split("=", 1)) for part in label.split(",") if part))  # type: ignore[misc]


def _normal(key: str, raw: str) -> str:
    """One value checked as settings.env would check it, written one way (1.0 -> 1, true -> 1).
    Django's pool is checked on PostgreSQL here, and against the run's engines in parse_vary."""
    try:
        checked = load({key: raw, **({"DB_ENGINE": "postgresql"} if key in BOOLEAN_SETTINGS else {})})
    except ConfigError as error:
        raise VaryError(f"--vary {key}={raw!r} is not allowed: {error.allowed}") from None
    if key in BOOLEAN_SETTINGS:
        return "1" if checked.django_db_pool else "0"
    if key in NAME_SETTINGS:
        return raw
    number = float(raw)
    return f"{number:g}" if key == "DB_LATENCY_MS" else str(int(number))


def parse_vary(words: list[str]) -> dict[str, tuple[str, ...]]:
    """['DB_LATENCY_MS=0,1,2'] -> {'DB_LATENCY_MS': ('0', '1', '2')}; VaryError when a key
    cannot be varied, a value is not allowed, or a key comes twice."""
    axes: dict[str, tuple[str, ...]] = {}
    for word in words:
        key, sep, values = word.partition("=")
        key = key.strip()
        if not sep or key not in VARIABLE_SETTINGS:
            raise VaryError(f"--vary {word!r} is not allowed: KEY=v1,v2 with KEY one of {', '.join(VARIABLE_SETTINGS)}")
        if key in axes:
            raise VaryError(f"--vary {key} is given twice: one --vary per setting")
        raw_values = [v.strip() for v in values.split(",") if v.strip()]
        if not raw_values:
            raise VaryError(f"--vary {word!r} is not allowed: at least one value, e.g. {key}=1,2")
        axes[key] = tuple(dict.fromkeys(_normal(key, v) for v in raw_values))
    return check_axes(axes)


def check_axes(axes: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """The axes, refused when they cannot mean what they say: Django's pool is PostgreSQL's."""
    if "1" in axes.get("DJANGO_DB_POOL", ()) and "postgresql" not in axes.get("DB_ENGINE", (load().database.engine,)):
        raise VaryError("DJANGO_DB_POOL=1 is not allowed on MariaDB: Django's pool is psycopg's (set "
                        "DB_ENGINE=postgresql, or vary DB_ENGINE=mariadb,postgresql)")
    return axes


def engine_settings(units: tuple[str, ...], settings: Settings) -> dict[str, Settings]:
    """The run's database engines, each with its settings (the run's, on that engine)."""
    engines = dict.fromkeys(unit_settings(unit, settings).database.engine for unit in units)
    return {engine: settings if engine == settings.database.engine else load({"DB_ENGINE": engine})
            for engine in engines}


def build_variants(axes: dict[str, tuple[str, ...]]) -> list[Variant]:
    """Every combination of the axes' values, in the order given; [Variant()] for none."""
    if not axes:
        return [Variant()]
    keys = list(axes)
    return [Variant(tuple(zip(keys, combo, strict=True))) for combo in itertools.product(*(axes[k] for k in keys))]


def stack_units(variants: list[Variant], stacks: tuple[str, ...]) -> tuple[str, ...]:
    """Every (stack, variant of the settings it reads) once, variant by variant."""
    return tuple(dict.fromkeys(v.for_stack(s).unit(s) for v in variants for s in stacks))
