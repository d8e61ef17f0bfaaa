"""Sweeps (`--vary`) end to end on real servers, relay, MariaDB and wrk: every stack at
every setting, each its own server behind the gate and the statement audit; the relay's
round trips checked before anything is measured; rows that carry their setting and the
relay's reading; a report with the sweep section and chart; nothing left behind. Bad
values stop the run before anything starts."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
from test_driver_run import SCRIPTS, SMOKE, driver_env, drop_database, marked_processes, read_run, run_cgroups, run_dirs

from bench.schema import validate_row, validate_run
from lab.config import ROOT, Settings

STACKS = ["django-wsgi", "fastapi"]


@pytest.fixture(scope="module")
def sweep_db(database: Settings) -> Iterator[str]:
    name = "lab_test_sweep"
    yield name
    drop_database(database, name)


@pytest.fixture(scope="module")
def latency_run(database: Settings, sweep_db: str, tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    marker = uuid.uuid4().hex
    proc = subprocess.run([SCRIPTS["wrk"], "--stacks", " ".join(STACKS), "--endpoints", "sync-io async-io",
                           "--concurrency", "4", *SMOKE, "--vary", "DB_LATENCY_MS=0,2", "--out", str(out)],
                          env=driver_env(sweep_db, tmp_path_factory.mktemp("io-parent") / "io", marker),
                          capture_output=True, text=True, timeout=400)
    (run_dir,) = run_dirs(out)
    run, rows = read_run(run_dir)
    return proc, run_dir, run, rows, marked_processes(marker), run_cgroups(run["run_id"])


def test_every_stack_runs_at_every_latency_behind_the_gate(latency_run):
    proc, _, run, rows, _, _ = latency_run
    assert proc.returncode == 0, proc.stderr
    assert validate_run(run) == []
    units = [f"{stack}@DB_LATENCY_MS={latency}" for latency in ("0", "2") for stack in STACKS]
    assert sorted(run["stacks"]) == sorted(units)
    for unit in units:
        info = run["stacks"][unit]
        assert info["status"] == "measured" and info["verification"]["passed"], (unit, info)
    assert {(r["stack"], r["variant"], r["endpoint"]) for r in rows} == {
        (s, f"DB_LATENCY_MS={v}", e) for s in STACKS for v in ("0", "2") for e in ("sync-io", "async-io")}
    assert run["rounds"] and all(sorted(r["order"]) == sorted(units) for r in run["rounds"])


def test_the_relay_round_trips_are_checked_before_measuring(latency_run):
    _, _, run, _, _, _ = latency_run
    relay = run["metadata"]["relay"]
    delays = {entry["delay_ms"]: entry for entry in relay["listeners"]}
    assert set(delays) == {0.0, 2.0} and delays[2.0]["passed"] and delays[0.0]["passed"] is None
    assert abs(delays[2.0]["added_ms"]["aiomysql"] - 2.0) <= 0.2
    assert 0 <= relay["relay_cost_ms"]["mysqlclient"] < 0.5  # its own cost, subtracted from its hold


def test_rows_carry_their_setting_and_the_relay_reading(latency_run):
    _, _, _, rows, _, _ = latency_run
    for row in rows:
        assert validate_row(row) == [], row
        latency = 2.0 if row["variant"] == "DB_LATENCY_MS=2" else 0.0
        assert row["db_latency_ms"] == latency and row["varied"] == {"DB_LATENCY_MS": latency}
        if latency:
            assert row["relay"]["delay_ms"] == 2.0 and row["relay"]["chunks"] > 0, row["relay"]
            assert "relay_bound" not in row["flags"] or row["relay"]["lag_excess_mean_ms"] > 0.2
        else:
            assert row["relay"] is None


def test_the_database_round_trip_slows_the_io_endpoints(latency_run):
    _, _, _, rows, _, _ = latency_run
    rps = {(r["stack"], r["endpoint"], r["db_latency_ms"]): r["rps"] for r in rows if r["status"] == "ok"}
    for stack in STACKS:  # ~230 round trips per request: +2 ms each is ~0.46 s per request, far beyond noise
        for endpoint in ("sync-io", "async-io"):
            assert rps[(stack, endpoint, 2.0)] < 0.8 * rps[(stack, endpoint, 0.0)], (stack, endpoint, rps)


def test_nothing_is_left_behind(latency_run):
    _, _, _, _, processes, cgroups = latency_run
    assert processes == {} and cgroups == []


def test_the_report_has_the_sweep_section_and_chart(latency_run):
    _, run_dir, _, _, _, _ = latency_run
    proc = subprocess.run([sys.executable, "-m", "bench", "report", str(run_dir)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    text = (run_dir / "report.md").read_text()
    assert "## Where async pays off: the database round trip" in text
    assert "charts/sweep.png" in text and (run_dir / "charts" / "sweep.png").stat().st_size > 10_000
    assert "The sections below read DB_LATENCY_MS=0 alone" in text
    assert "**Where does async pay off?" in text


def test_a_sweep_over_a_server_setting_starts_a_server_per_value_for_the_stacks_that_read_it(database, sweep_db,
                                                                                              tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([SCRIPTS["wrk"], "--stacks", "django-wsgi django-asgi", "--endpoints", "ping",
                           "--concurrency", "2", *SMOKE, "--vary", "DJANGO_WSGI_BLOCKING_THREADS=2,4", "--out",
                           str(out)],
                          env=driver_env(sweep_db, tmp_path / "io", uuid.uuid4().hex), capture_output=True,
                          text=True, timeout=200)
    assert proc.returncode == 0, proc.stderr
    run_dir = run_dirs(out)[0]
    run, rows = read_run(run_dir)
    for threads in (2, 4):
        info = run["stacks"][f"django-wsgi@DJANGO_WSGI_BLOCKING_THREADS={threads}"]
        command = info["server_command"]
        assert command[command.index("--blocking-threads") + 1] == str(threads)
        assert info["verification"]["passed"]
    assert sorted(run["stacks"]) == ["django-asgi", "django-wsgi@DJANGO_WSGI_BLOCKING_THREADS=2",
                                     "django-wsgi@DJANGO_WSGI_BLOCKING_THREADS=4"]  # ASGI reads no thread setting
    wsgi = [r for r in rows if r["stack"] == "django-wsgi"]
    assert sorted(r["varied"]["DJANGO_WSGI_BLOCKING_THREADS"] for r in wsgi) == [2.0, 4.0]
    assert [r["variant"] for r in rows if r["stack"] == "django-asgi"] == [""]
    # the analysis pairs the one ASGI server with each WSGI one
    from bench.analysis.frames import load_run, round_ratios

    whole = load_run(run_dir)
    assert whole.variants == ["DJANGO_WSGI_BLOCKING_THREADS=2", "DJANGO_WSGI_BLOCKING_THREADS=4"]
    for variant in whole.variants:
        alone = whole.only_variant(variant)
        assert set(alone.rows["stack"]) == {"django-wsgi", "django-asgi"} and set(alone.stacks) >= {
            "django-wsgi", "django-asgi"}
        assert len(round_ratios(alone.rows, "django-asgi", "django-wsgi")) == 1 or not alone.rows["counted"].all()


@pytest.mark.parametrize(("args", "env", "message"), [
    (["--vary", "NOT_A_SETTING=1"], {}, "--vary 'NOT_A_SETTING=1' is not allowed: KEY=v1,v2 with KEY one of"),
    (["--vary", "DB_LATENCY_MS=-1"], {}, "--vary DB_LATENCY_MS='-1' is not allowed: a number from 0 to 100"),
    ([], {"DB_LATENCY_MS": "-1"}, "settings: DB_LATENCY_MS='-1' is not allowed: a number from 0 to 100"),
    (["--url", "http://127.0.0.1:9", "--vary", "DB_LATENCY_MS=1"], {}, "is not allowed with --vary"),
])
def test_bad_values_stop_before_anything_starts(sweep_db, tmp_path, args, env, message):
    marker = uuid.uuid4().hex
    out = tmp_path / "out"
    proc = subprocess.run([SCRIPTS["wrk"], *args, "--out", str(out)],
                          env={**driver_env(sweep_db, tmp_path / "io", marker), **env}, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not out.exists() and marked_processes(marker) == {}
