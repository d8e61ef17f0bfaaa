"""bench/run_openloop.sh end to end: a short real run of Django WSGI and ASGI on Granian
under their limits, against the real MariaDB: wrk measures each stack's capacity, then the
lab's open-loop generator offers a rate well below it and one well above it. What counts
at a rate must count, a rate the server cannot take must be flagged saturated, and the
report must say so; nothing may be left behind. Bad options and a missing generator are
one line, exit 2, nothing started."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from test_driver_run import (
    DJANGO,
    driver_env,
    drop_database,
    marked_processes,
    read_run,
    run_cgroups,
    run_dirs,
)

from bench.analysis.frames import load_run
from bench.rawfile import read_raw
from bench.schema import RATE_KEYS, RATE_TOLERANCE, Flag, validate_row, validate_run
from lab.config import ROOT, Settings, format_cpus

SCRIPT = ROOT / "bench" / "run_openloop.sh"
LOW = 0.3  # of each stack's closed-loop capacity
HIGH = 4000  # requests per second: well above Django ASGI's /ping/ capacity, below WSGI's


@pytest.fixture(scope="module")
def finished(database: Settings, tmp_path_factory):
    """Two closed-loop rounds: one row flagged noisy on a busy machine must not leave a stack
    without a capacity to plan its rates from."""
    name = "lab_test_openloop_run"
    out = tmp_path_factory.mktemp("results")
    marker = uuid.uuid4().hex
    proc = subprocess.run([SCRIPT, "--stacks", DJANGO, "--endpoints", "ping", "--concurrency", "1",
                           "--profile", "smoke", "--duration", "1", "--repeats", "2", "--rates", f"{LOW}x {HIGH}",
                           "--seed", "3", "--out", str(out), "--report"],
                          env=driver_env(name, tmp_path_factory.mktemp("io-parent") / "io", marker),
                          capture_output=True, text=True, timeout=300)
    try:
        (run_dir,) = run_dirs(out)
        run, rows = read_run(run_dir)
        yield proc, run_dir, run, rows, marked_processes(marker), run_cgroups(run["run_id"])
    finally:
        drop_database(database, name)


def test_the_run_measures_capacity_with_wrk_then_rates_with_the_generator(finished, database):
    proc, run_dir, run, rows, processes, cgroups = finished
    assert proc.returncode == 0, proc.stderr
    assert validate_run(run) == [] and run["status"] == "complete"
    assert run["tools"] == ["wrk", "openloop"] and run["profile"]["name"] == "smoke"
    assert run["plan"]["rates"] == [f"{LOW:g}x", f"{HIGH:g}"] and run["plan"]["slo_ms"] == database.openloop_slo_ms
    assert "open loop:" in proc.stdout
    closed = [r for r in rows if r["tool"] == "wrk"]
    assert {(r["stack"], r["concurrency"]) for r in closed} == {(s, 1) for s in DJANGO.split()}
    planned = {(c["unit"], c["endpoint"]): c["rps"] for c in run["rate_plan"]["capacities"]}
    assert set(planned) == {(s, "ping") for s in DJANGO.split()}
    for row in rows:
        assert validate_row(row) == [], row
    assert processes == {} and cgroups == []


def test_each_rate_row_records_its_rate_and_the_exact_command(finished, database):
    _, run_dir, run, rows, _, _ = finished
    rated = [r for r in rows if r["tool"] == "openloop"]
    assert rated and all(set(r["rate"]) == set(RATE_KEYS) for r in rated)
    rounds = [r for r in run["rounds"] if r.get("rate") is not None]
    assert sum(len(r["order"]) for r in rounds) == len(rated)
    for row in rated:
        raw = read_raw(run_dir / row["raw"])
        words = raw.header["command"].split()
        assert words[:5] == ["taskset", "-c", format_cpus(database.client_cpus), sys.executable,
                             str(ROOT / "bench" / "openloop.py")]
        assert words[words.index("--rate") + 1] == f"{row['rate']['target_rps']:g}"
        assert row["concurrency"] == int(words[words.index("--connections") + 1]) == database.max_concurrency
        assert row["steady"] == {"littles_rps": None, "deviation": None}  # no closed loop, no Little's law
    seeds = {}
    for row in rated:  # the stacks of a round get the same arrival times
        seeds.setdefault((row["rate"]["target_rps"], row["repeat"]), set()).add(row["rate"]["seed"])
    assert all(len(s) == 1 for s in seeds.values())


def test_a_rate_well_below_capacity_counts_and_one_well_above_is_saturated(finished):
    _, _, _, rows, _, _ = finished
    for stack in DJANGO.split():
        own = sorted((r for r in rows if r["tool"] == "openloop" and r["stack"] == stack),
                     key=lambda r: r["rate"]["target_rps"])
        low = next(r for r in own if r["rate"]["fraction"] and r["rate"]["fraction"] <= LOW * 1.01)
        assert low["status"] == "ok", low["failure"]
        # a busy machine may make it noisy (not counted); it must not be saturated or late
        assert set(low["flags"]) <= {Flag.CLIENT_BOUND.value, Flag.NOISY.value}, low["flags"]
        assert low["rate"]["achieved_rps"] >= (1 - RATE_TOLERANCE) * low["rate"]["scheduled_rps"]
        assert low["latency_ms"]["p99"] > 0 and low["requests"] > 0
    at_high = {r["stack"]: r for r in rows if r["tool"] == "openloop" and r["rate"]["target_rps"] == HIGH}
    assert set(at_high) == set(DJANGO.split())  # an explicit rate is offered to every stack
    top = at_high["django-asgi"]
    assert top["rate"]["fraction"] == pytest.approx(HIGH / top["rate"]["capacity_rps"], rel=1e-3)
    assert Flag.SATURATED.value in top["flags"] or Flag.NOT_STEADY.value in top["flags"], top


def test_the_report_answers_at_a_rate_and_draws_the_curves(finished):
    _, run_dir, _, _, _, _ = finished
    text = (run_dir / "report.md").read_text()
    assert "How much traffic within the latency target, ASGI or WSGI?" in text
    assert "## Latency at a set arrival rate (open loop)" in text and "saturated" in text
    assert (run_dir / "charts" / "openloop-p99.png").stat().st_size > 10_000
    run = load_run(run_dir)  # the closed-loop figures read wrk's rows alone
    assert set(run.rows["tool"]) == {"wrk"} and set(run.rate_rows["tool"]) == {"openloop"}
    assert "| p99 < 50.0 ms (req/s) |" in text  # the other targets, read from the same rows
    again = subprocess.run(["make", "report", f"RUN={run_dir}", "SLO_MS=1000"], cwd=ROOT, capture_output=True,
                           text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "p99 under 1,000 ms (read at 1,000 ms; the run's own target was" in (run_dir / "report.md").read_text()


def _bench(args: list[str], tmp_path: Path, *, hide_uvloop: bool = False) -> subprocess.CompletedProcess:
    code = ("import sys, runpy\n" + ("sys.modules['uvloop'] = None\n" if hide_uvloop else "")
            + f"sys.argv = ['bench', 'run', *{args!r}]\nrunpy.run_module('bench', run_name='__main__')")
    marker = uuid.uuid4().hex
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env={**driver_env("lab_test_openloop_unused", tmp_path / "io", marker),
                               "BENCH_PROG": "bench/run_openloop.sh", "PYTHONPATH": str(ROOT)})
    assert marked_processes(marker) == {}
    return proc


def test_a_missing_generator_is_one_line_exit_2_and_nothing_started(tmp_path):
    out = tmp_path / "out"
    proc = _bench(["--tool", "openloop", "--profile", "smoke", "--rates", "0.5x", "--out", str(out)], tmp_path,
                  hide_uvloop=True)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [f"bench/run_openloop.sh: openloop needs uvloop, not installed in "
                                        f"{sys.executable} (scripts/setup.sh installs it)"]
    assert not out.exists()


@pytest.mark.parametrize("args, says", [
    (["--tool", "openloop", "--rates", "fast"], "--rates 'fast' is not allowed: requests per second"),
    (["--tool", "openloop", "--profile", "smoke"], "the smoke profile has no rates: give --rates"),
    (["--tool", "openloop", "--rates", "0.5x", "--slo-ms", "0"], "--slo-ms '0' is not allowed: milliseconds"),
    (["--tool", "wrk", "--rates", "0.5x"], "--rates '0.5x' is not allowed here: it is for the open-loop generator"),
    (["--tool", "openloop", "--rates", "50", "--url", "http://127.0.0.1:9"], "--url is not allowed with the "
                                                                               "open-loop generator yet"),
])
def test_bad_open_loop_options_are_one_line_exit_2_and_nothing_started(tmp_path, args, says):
    out = tmp_path / "out"
    proc = _bench([*args, "--out", str(out)], tmp_path)
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.splitlines()
    assert line.startswith("bench/run_openloop.sh: ") and says in line, line
    assert not out.exists()
