"""Capacity along a sweep (bench/analysis/report/capacity.py): each stack at its best measured
setting, levels the client's connections bound never read as capacity, and the first-screen
answer "where does async pay off" drawn from those capacities. Pure logic on made-up rows,
then the saved real latency runs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bench.analysis import stats
from bench.analysis.frames import Run, load_run
from bench.analysis.report import answers, capacity, sweep
from lab.config import ROOT

SETTINGS = {"django_wsgi_blocking_threads": 8, "django_wsgi_workers": 1, "django_asgi_workers": 1}
VARY = {"DB_LATENCY_MS": ["0", "5"], "DJANGO_WSGI_BLOCKING_THREADS": ["8", "32"]}
FIXTURES = ROOT / "fixtures" / "runs"


def row(stack: str, variant: str, concurrency: int, repeat: int, rps: float, cpu: float, flags=()) -> dict:
    return {"stack": stack, "variant": variant, "endpoint": "sync-io", "tool": "wrk", "concurrency": concurrency,
            "repeat": repeat, "rps": rps, "counted": True, "latency_ms_p99": 1000.0, "server_cpu_share": cpu,
            "flags": tuple(flags)}


def made_up_run(levels: list[tuple[str, str, int, float, float, tuple]]) -> Run:
    """Three rounds per level, each a little off its rate (so intervals exist)."""
    rows = [row(stack, variant, c, repeat, rps * (1 + 0.01 * repeat), cpu, flags)
            for stack, variant, c, rps, cpu, flags in levels for repeat in (1, 2, 3)]
    return Run(Path("."), {"metadata": {"settings": SETTINGS}, "plan": {"vary": VARY}}, pd.DataFrame(rows), ())


W8, W32 = "DJANGO_WSGI_BLOCKING_THREADS=8", "DJANGO_WSGI_BLOCKING_THREADS=32"


def test_each_stack_is_read_at_its_best_counted_level_and_client_bound_levels_are_not_capacity():
    run = made_up_run([
        # 0 ms: both CPU-bound; WSGI serves more
        ("django-wsgi", f"DB_LATENCY_MS=0,{W8}", 16, 20.0, 0.95, ()),
        ("django-wsgi", f"DB_LATENCY_MS=0,{W32}", 16, 19.0, 0.95, ()),
        ("django-asgi", "DB_LATENCY_MS=0", 16, 15.0, 0.97, ()),
        # 5 ms: WSGI's 8 threads bind at 16 connections; with 32 threads at 16 connections every request is in
        # flight and its server idles: the client bound it (its 12 RPS is no capacity, though the highest)
        ("django-wsgi", f"DB_LATENCY_MS=5,{W8}", 16, 6.0, 0.30, ()),
        ("django-wsgi", f"DB_LATENCY_MS=5,{W32}", 16, 12.0, 0.45, ()),
        ("django-asgi", "DB_LATENCY_MS=5", 16, 10.0, 0.90, ()),
    ])
    frame = sweep.table(run, "DB_LATENCY_MS")
    found = {(p.x, s): b for p in capacity.points(run, "DB_LATENCY_MS", frame) for s, b in p.best.items()}
    assert found[(0.0, "django-wsgi")].variant.endswith(W8) and found[(0.0, "django-wsgi")].setting == \
        "8 blocking threads"
    assert found[(5.0, "django-wsgi")].variant.endswith(W8)  # 32 threads at 16 connections: client-bound
    assert found[(5.0, "django-wsgi")].measured == "8, 32 blocking threads"
    assert found[(5.0, "django-asgi")].setting == "" and found[(5.0, "django-asgi")].binds.startswith("CPU")
    word, body = capacity.answer_parts(run, "DB_LATENCY_MS", frame)
    assert word == "From 5 ms" and "0 ms 0.75×" in body and "5 ms **1.67×" in body


def test_a_stack_whose_every_level_was_client_bound_has_no_capacity_and_no_verdict():
    run = made_up_run([
        ("django-wsgi", f"DB_LATENCY_MS=5,{W32}", 16, 12.0, 0.45, ()),
        ("django-asgi", "DB_LATENCY_MS=5", 16, 10.0, 0.90, ()),
    ])
    frame = sweep.table(run, "DB_LATENCY_MS")
    (point,) = capacity.points(run, "DB_LATENCY_MS", frame)
    assert "django-wsgi" not in point.best and point.missing["django-wsgi"].startswith("capacity not reached")
    word, body = capacity.answer_parts(run, "DB_LATENCY_MS", frame)
    assert word == "No verdict" and "capacity not measured" in body


def test_more_threads_at_more_connections_can_take_the_lead_back_and_a_shared_cpu_limit_is_said():
    run = made_up_run([
        ("django-wsgi", f"DB_LATENCY_MS=5,{W8}", 64, 6.0, 0.30, ()),
        ("django-wsgi", f"DB_LATENCY_MS=5,{W32}", 64, 18.6, 0.70, ("shared_cpus_bound",)),
        ("django-asgi", "DB_LATENCY_MS=5", 64, 16.0, 0.72, ("shared_cpus_bound",)),
    ])
    frame = sweep.table(run, "DB_LATENCY_MS")
    word, body = capacity.answer_parts(run, "DB_LATENCY_MS", frame)
    assert word == "Not up to 5 ms" and "5 ms 0.86×" in body
    assert "with 32 blocking threads at 64 connections, bound by the database side's CPU" in body
    assert "the database side's CPU bound a best level" in body


@pytest.mark.parametrize("run_id", sorted(p.name for p in FIXTURES.iterdir()) if FIXTURES.is_dir() else [])
def test_a_saved_run_answers_where_async_pays_off_with_figures(run_id):
    """A latency run answers from its own capacities; every other run cites the newest latency run."""
    run = load_run(FIXTURES / run_id)
    line = capacity.async_answer(run) or answers.async_answer(run)
    assert line.startswith("**Where does async pay off? ")
    if sweep.axis(run) is None:
        cited = answers.latency_run(run)
        assert cited is not None and f"by the latency run `{cited.run_id}`" in line
    assert "×" in line and "No verdict" not in line.split("**")[1]


def test_the_weak_verdicts_of_a_quick_run_are_named_and_left_out_of_the_one_word_answer():
    """The published quick run: /async/ was ASGI ahead in 4 rounds, against WSGI ahead on /ping/ in 24."""
    run = load_run(FIXTURES / "20261201T163434Z-wrk-ab")
    from bench.analysis.frames import aggregate

    line = answers.pair_answer(run, aggregate(run.rows), answers.ASGI_OR_WSGI, "django-asgi", "django-wsgi")
    head, _, weak = line.partition("Weak, left out of the answer")
    assert head.startswith("**ASGI or WSGI for Django? WSGI**") and "GET /async/" not in head
    assert "GET /async/ 1.20×" in weak and "(4 rounds, ASGI ahead)" in weak
    assert stats.TARGET_HALF_WIDTH == 0.10 and "±10 % interval" in weak
