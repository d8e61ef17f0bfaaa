"""Settings a run varies (bench/driver/variants.py) and the relay's per-level arithmetic
(bench/driver/relay_process.py): pure logic, no server."""

from __future__ import annotations

import pytest

from bench.driver.relay_process import level_reading, relay_bound, tolerance_ms
from bench.driver.variants import (
    VARIABLE_SETTINGS,
    Variant,
    VaryError,
    build_variants,
    parse_vary,
    reads,
    split_unit,
    stack_units,
)


def test_values_are_checked_like_settings_env_and_written_one_way():
    assert parse_vary(["DB_LATENCY_MS=0,0.50,1.0,2,5"]) == {"DB_LATENCY_MS": ("0", "0.5", "1", "2", "5")}
    assert parse_vary(["DJANGO_WSGI_BLOCKING_THREADS=8, 32,8"]) == {"DJANGO_WSGI_BLOCKING_THREADS": ("8", "32")}


@pytest.mark.parametrize(("words", "message"), [
    (["NOT_A_SETTING=1"], "--vary 'NOT_A_SETTING=1' is not allowed: KEY=v1,v2 with KEY one of DB_LATENCY_MS"),
    (["DB_LATENCY_MS"], "--vary 'DB_LATENCY_MS' is not allowed"),
    (["DB_LATENCY_MS=-1"], "--vary DB_LATENCY_MS='-1' is not allowed: a number from 0 to 100"),
    (["DB_LATENCY_MS=nan"], "--vary DB_LATENCY_MS='nan' is not allowed: a number from 0 to 100"),
    (["DB_LATENCY_MS=1000"], "--vary DB_LATENCY_MS='1000' is not allowed: a number from 0 to 100"),
    (["FASTAPI_POOL_SIZE=0"], "--vary FASTAPI_POOL_SIZE='0' is not allowed: a whole number from 1 to 512"),
    (["DB_LATENCY_MS=,"], "at least one value"),
    (["DB_LATENCY_MS=1", "DB_LATENCY_MS=2"], "--vary DB_LATENCY_MS is given twice"),
])
def test_a_bad_vary_is_one_line_naming_value_and_what_is_allowed(words, message):
    with pytest.raises(VaryError) as error:
        parse_vary(words)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_every_variable_setting_is_a_settings_key_the_config_checks():
    for key in VARIABLE_SETTINGS:
        with pytest.raises(VaryError):
            parse_vary([f"{key}=-5"])


def test_variants_are_the_product_of_the_axes_and_name_their_units():
    variants = build_variants({"DB_LATENCY_MS": ("0", "2"), "FASTAPI_POOL_SIZE": ("8", "16")})
    assert [v.label for v in variants] == [f"DB_LATENCY_MS={ms},FASTAPI_POOL_SIZE={size}"
                                           for ms in ("0", "2") for size in ("8", "16")]
    unit = variants[2].unit("django-wsgi")
    assert unit == "django-wsgi@DB_LATENCY_MS=2,FASTAPI_POOL_SIZE=8"
    assert split_unit(unit) == ("django-wsgi", "DB_LATENCY_MS=2,FASTAPI_POOL_SIZE=8")
    assert variants[2].numbers() == {"DB_LATENCY_MS": 2.0, "FASTAPI_POOL_SIZE": 8.0}
    assert build_variants({}) == [Variant()] and Variant().unit("fastapi") == "fastapi"
    assert split_unit("fastapi") == ("fastapi", "")


def test_a_variant_settings_carry_its_values():
    settings = Variant((("DB_LATENCY_MS", "2.5"), ("DJANGO_WSGI_BLOCKING_THREADS", "32"))).settings()
    assert settings.db_latency_ms == 2.5 and settings.django_wsgi_blocking_threads == 32


def test_the_relay_tolerance_is_a_tenth_of_the_delay_at_least_a_tenth_of_a_millisecond():
    assert tolerance_ms(0) == tolerance_ms(0.5) == 0.1
    assert tolerance_ms(5) == pytest.approx(0.5)


def _counters(chunks: int, lag_s: float, worst_s: float, delay: float = 2.0) -> dict:
    return {"delay_ms": delay, "chunks": chunks, "lag_excess_sum_s": lag_s, "lag_excess_max_s": worst_s}


def test_a_level_reading_is_the_difference_of_two_counter_readings():
    reading = level_reading(_counters(100, 0.001, 0.0), _counters(1100, 0.051, 0.0004), 10.0, 2.5)
    assert reading == {"delay_ms": 2.0, "chunks": 1000, "lag_excess_mean_ms": 0.05, "lag_excess_max_ms": 0.4,
                       "cpu_share": 0.25}
    assert not relay_bound(reading)


def test_a_relay_that_sends_late_on_average_bound_the_level():
    late = level_reading(_counters(0, 0.0, 0.0), _counters(1000, 0.3, 0.002), 10.0, 9.9)  # 0.3 ms late on 2 ms
    assert late["lag_excess_mean_ms"] == pytest.approx(0.3) and relay_bound(late)
    idle = level_reading(_counters(5, 0.0, 0.0), _counters(5, 0.0, 0.0), 10.0, 0.0)
    assert idle["lag_excess_mean_ms"] is None and not relay_bound(idle) and not relay_bound(None)


def test_a_stack_runs_once_per_value_of_the_settings_it_reads():
    variants = build_variants({"DB_LATENCY_MS": ("0", "5"), "DJANGO_WSGI_BLOCKING_THREADS": ("8", "32")})
    units = stack_units(variants, ("django-wsgi", "django-asgi", "fastapi", "raw-wsgi"))
    assert units == ("django-wsgi@DB_LATENCY_MS=0,DJANGO_WSGI_BLOCKING_THREADS=8", "django-asgi@DB_LATENCY_MS=0",
                     "fastapi@DB_LATENCY_MS=0", "raw-wsgi@DJANGO_WSGI_BLOCKING_THREADS=8",
                     "django-wsgi@DB_LATENCY_MS=0,DJANGO_WSGI_BLOCKING_THREADS=32",
                     "raw-wsgi@DJANGO_WSGI_BLOCKING_THREADS=32",
                     "django-wsgi@DB_LATENCY_MS=5,DJANGO_WSGI_BLOCKING_THREADS=8", "django-asgi@DB_LATENCY_MS=5",
                     "fastapi@DB_LATENCY_MS=5", "django-wsgi@DB_LATENCY_MS=5,DJANGO_WSGI_BLOCKING_THREADS=32")
    assert reads("fastapi", "FASTAPI_POOL_SIZE") and not reads("django-asgi", "FASTAPI_POOL_SIZE")
    assert not reads("raw-asgi", "DB_LATENCY_MS") and reads("an-unknown-stack", "DB_LATENCY_MS")


def test_the_database_engine_and_djangos_pool_are_axes():
    axes = parse_vary(["DB_ENGINE=mariadb,postgresql", "DJANGO_DB_POOL=false,true,0"])
    assert axes == {"DB_ENGINE": ("mariadb", "postgresql"), "DJANGO_DB_POOL": ("0", "1")}
    units = stack_units(build_variants(axes), ("django-wsgi", "django-asgi", "fastapi", "raw-wsgi"))
    # Django's pool is PostgreSQL's: on MariaDB, Django ASGI reads no DJANGO_DB_POOL (one unit, not two);
    # WSGI never reads it; the framework-free app reads no database setting at all.
    assert units == ("django-wsgi@DB_ENGINE=mariadb", "django-asgi@DB_ENGINE=mariadb", "fastapi@DB_ENGINE=mariadb",
                     "raw-wsgi", "django-wsgi@DB_ENGINE=postgresql",
                     "django-asgi@DB_ENGINE=postgresql,DJANGO_DB_POOL=0", "fastapi@DB_ENGINE=postgresql",
                     "django-asgi@DB_ENGINE=postgresql,DJANGO_DB_POOL=1")
    assert Variant((("DB_ENGINE", "postgresql"), ("DB_LATENCY_MS", "2"))).numbers() == {"DB_LATENCY_MS": 2.0}
    settings = Variant((("DB_ENGINE", "postgresql"), ("DJANGO_DB_POOL", "1"))).settings()
    assert settings.database.engine == "postgresql" and settings.django_db_pool


@pytest.mark.parametrize(("words", "message"), [
    (["DB_ENGINE=oracle"], "--vary DB_ENGINE='oracle' is not allowed: mariadb or postgresql"),
    (["DJANGO_DB_POOL=maybe"], "--vary DJANGO_DB_POOL='maybe' is not allowed: true or false"),
    (["DJANGO_DB_POOL=false,true"], "DJANGO_DB_POOL=1 is not allowed on MariaDB"),
    (["DJANGO_DB_POOL=true", "DB_ENGINE=mariadb"], "DJANGO_DB_POOL=1 is not allowed on MariaDB"),
])
def test_a_pool_without_postgresql_or_an_unknown_engine_is_refused(words, message):
    with pytest.raises(VaryError) as error:
        parse_vary(words)
    assert message in str(error.value) and "\n" not in str(error.value)
