"""The sweep analysis (bench/analysis/report/sweep.py): what binds a stack at a setting, from
its CPU and its in-flight limit (pure logic), and the report section on a saved real run
of the latency profile."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from bench.analysis.frames import Run, load_run
from bench.analysis.report import capacity, sweep
from lab.config import ROOT

LATENCY_RUN = ROOT / "fixtures" / "runs" / "20261201T140323Z-wrk-ab"
SETTINGS = {"django_wsgi_blocking_threads": 8, "django_wsgi_workers": 1, "fastapi_pool_size": 8,
            "fastapi_sync_threads": 8, "fastapi_workers": 1}


def bare_run() -> Run:
    return Run(Path("."), {"metadata": {"settings": SETTINGS}, "plan": {"vary": {"DB_LATENCY_MS": ["0", "5"]}}},
               pd.DataFrame(), ())


def level(stack: str, endpoint: str, cpu_share: float, variant: str = "DB_LATENCY_MS=5") -> pd.Series:
    return pd.Series({"stack": stack, "endpoint": endpoint, "cpu_share": cpu_share, "concurrency": 16,
                      "variant": variant})


@pytest.mark.parametrize(("stack", "endpoint", "cpu", "expected"), [
    ("django-wsgi", "sync-io", 0.99, "CPU (99% of quota)"),
    ("django-wsgi", "sync-io", 0.40, "its 8 blocking threads (DJANGO_WSGI_BLOCKING_THREADS)"),
    ("fastapi", "sync-io", 0.30, "its 8 sync threads (FASTAPI_SYNC_THREADS)"),
    ("fastapi", "async-io", 0.30, "its 8 pool connections (FASTAPI_POOL_SIZE)"),
    ("django-asgi", "async-io", 0.50, "the client's 16 connections (all in flight, the server had headroom)"),
    ("django-wsgi", "sync-io", math.nan, "unknown (nothing counted)"),
])
def test_what_binds_comes_from_cpu_and_the_stacks_own_limit(stack, endpoint, cpu, expected):
    assert sweep.binds(bare_run(), level(stack, endpoint, cpu)) == expected


def test_a_db_bound_level_is_bound_by_mariadb_unless_the_server_cpu_was():
    row = level("fastapi", "sync-io", 0.57)
    row["flags"] = ("db_bound",)
    assert sweep.binds(bare_run(), row).startswith("the database's CPU (db_bound")
    row["cpu_share"] = 0.95
    assert sweep.binds(bare_run(), row) == "CPU (95% of quota)"


def test_a_varied_limit_is_read_from_the_variant_and_scaled_by_workers():
    run = bare_run()
    variant = "DB_LATENCY_MS=5,DJANGO_WSGI_BLOCKING_THREADS=32"
    most, limit = sweep.in_flight_limit(run, "django-wsgi", "sync-io", variant)
    assert (most, limit.setting) == (32, "DJANGO_WSGI_BLOCKING_THREADS")
    # 32 threads are more than the 16 connections: the client's concurrency binds, not the threads
    assert sweep.binds(run, level("django-wsgi", "sync-io", 0.4, "DB_LATENCY_MS=5,DJANGO_WSGI_BLOCKING_THREADS=32")) \
        == "the client's 16 connections (all in flight, the server had headroom)"
    assert sweep.in_flight_limit(run, "django-asgi", "sync-io", "")[0] == math.inf


def test_a_run_without_an_axis_has_no_sweep_section():
    run = load_run(ROOT / "fixtures" / "runs" / "20261201T163434Z-wrk-ab")
    assert sweep.axis(run) is None and sweep.section(run) == "" and capacity.async_answer(run) is None


@pytest.mark.skipif(not LATENCY_RUN.exists(), reason="the saved latency run")
def test_the_saved_latency_run_reads_as_a_finding():
    run = load_run(LATENCY_RUN)
    assert sweep.axis(run) == "DB_LATENCY_MS"
    frame = sweep.table(run, "DB_LATENCY_MS")
    assert set(frame["x"]) == {0, 0.5, 1, 2, 5} and set(frame["stack"]) == {"django-wsgi", "django-asgi", "fastapi"}
    assert len(frame) == 5 * 3 * 2 and (frame["rounds"] <= 3).all()
    text = sweep.section(run)
    assert text.startswith("## Where async pays off: the database round trip")
    for line in ("### What binds where", "### Ratios within rounds", "ASGI/WSGI, POST /sync/io/",
                 "FastAPI/WSGI, POST /async/io/", "added round trip, mysqlclient / aiomysql"):
        assert line in text
    assert capacity.async_answer(run).startswith("**Where does async pay off? ")


@pytest.mark.skipif(not LATENCY_RUN.exists(), reason="the saved latency run")
def test_round_ratios_never_pair_two_settings():
    from bench.analysis.frames import round_ratios

    run = load_run(LATENCY_RUN)
    pairs = round_ratios(run.rows, "django-asgi", "django-wsgi")
    assert len(pairs) == 5 * 2 * 3  # settings x endpoints x rounds, each its own pair
    counted = run.rows[run.rows["counted"]].set_index(["stack", "endpoint", "variant", "repeat"])["rps"]
    for pair in pairs.itertuples():
        assert pair.a_rps == counted[("django-asgi", pair.endpoint, pair.variant, pair.repeat)]
        assert pair.b_rps == counted[("django-wsgi", pair.endpoint, pair.variant, pair.repeat)]
