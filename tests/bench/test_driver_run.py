"""bench/run_wrk.sh and bench/run_ab.sh end to end: short real runs (smoke profile) of the
real stacks on Granian under their limits, against the real MariaDB, measured by the
real wrk and ab, run the way a user runs them. What they leave on disk must follow the
results contract (bench/schema.py), and nothing else may be left.

The driver runs on its own database (not the session's `lab_test`): it truncates
lab_records and switches MariaDB's general log, which other tests must not see.
The helpers here are shared with test_driver_faults.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import product
from pathlib import Path

import pytest
from conftest import bench_record_count

from bench.driver.schedule import build_rounds
from bench.profiles import PROFILES, ToolPlan
from bench.rawfile import read_raw
from bench.schema import (
    EXCLUDING_FLAGS,
    MIN_COMPLETIONS_PER_CONNECTION,
    STEADY_TOLERANCE,
    Endpoint,
    Flag,
    Tool,
    validate_row,
    validate_run,
)
from lab import mariadb
from lab.config import IO_DIR_MARK, ROOT, Settings, format_cpus
from lab.io_files import STATEMENTS_PER_REQUEST
from lab.limits import CGROUP_ROOT, GROUP_PARENT, Limiter

SCRIPTS = {"wrk": ROOT / "bench" / "run_wrk.sh", "ab": ROOT / "bench" / "run_ab.sh"}
DJANGO = "django-wsgi django-asgi"
WORKLOAD = STATEMENTS_PER_REQUEST
SMOKE = ["--profile", "smoke", "--duration", "1", "--repeats", "1"]
ROUNDS = 3
MARKER = "BENCH_TEST_MARKER"  # in the driver's environment, so inherited by all it starts


# --- helpers shared with test_driver_faults.py ----------------------------------------------
def driver_env(database_name: str, io_dir: Path, marker: str) -> dict[str, str]:
    return {**os.environ, "DB_NAME": database_name, "IO_DIR": str(io_dir), MARKER: marker}


def marked_processes(marker: str) -> dict[int, str]:
    """pid -> command line of every process whose environment carries the marker: what a
    driver started (servers, tools, manage.py) and anything those started in turn."""
    needle = f"{MARKER}={marker}".encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if needle in (entry / "environ").read_bytes().split(b"\0"):
                    found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                pass
    return found


def run_cgroups(run_id: str) -> list[Path]:
    """The run's server cgroups (v1: one per controller hierarchy; v2: one)."""
    pattern = f"bench-{run_id}-*"
    return sorted(CGROUP_ROOT.glob(f"*/{GROUP_PARENT}/{pattern}")) + sorted(
        CGROUP_ROOT.glob(f"{GROUP_PARENT}/{pattern}"))



def drop_database(settings: Settings, database_name: str) -> None:
    conn = mariadb.admin_connection(settings)
    try:
        conn.cursor().execute(f"DROP DATABASE IF EXISTS `{database_name}`")
    finally:
        conn.close()


def run_dirs(out: Path) -> list[Path]:
    return sorted(p.parent for p in out.glob("*/run.json") if not p.parent.is_symlink())


def read_run(run_dir: Path) -> tuple[dict, list[dict]]:
    run = json.loads((run_dir / "run.json").read_text())
    results = run_dir / "results.jsonl"
    rows = [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []
    return run, rows


def row_key(row: dict) -> tuple:
    return row["stack"], row["tool"], row["endpoint"], row["concurrency"], row["repeat"]


def expected_keys(stacks: list[str], tools: list[str], endpoints: list[str], levels: list[int],
                  repeats: int = 1) -> set[tuple]:
    return set(product(stacks, tools, endpoints, levels, range(1, repeats + 1)))


def assert_rows_follow_contract(run_dir: Path, rows: list[dict]) -> None:
    """Every row passes the schema; every raw file is the tool's, read back intact."""
    for row in rows:
        assert validate_row(row) == [], row
        raw = read_raw(run_dir / row["raw"])
        pinned_to = format_cpus(row["client"]["cpus"])
        assert raw.header["command"].split()[:4] == ["taskset", "-c", pinned_to, row["tool"]], raw.header
        assert raw.header["exit_code"] == "0" or row["status"] == "failed", raw.stderr
        if row["tool"] == "ab":
            assert (run_dir / row["raw"]).with_suffix(".csv").exists(), row["raw"]
    assert len({row_key(row) for row in rows}) == len(rows), "a level was recorded twice"


# --- the runs -------------------------------------------------------------------------------
@dataclass
class Finished:
    """One finished driver run, with what was left behind checked at once after it exited."""

    proc: subprocess.CompletedProcess
    run_dir: Path
    run: dict
    rows: list[dict]
    latest: str  # where <out>/latest pointed right after the run
    processes_left: dict[int, str]
    cgroups_left: list[Path]
    lab_records_left: int
    io_files_left: list[Path]


@pytest.fixture(scope="module")
def run_db(database: Settings) -> Iterator[str]:
    name = "lab_test_driver_run"
    yield name
    drop_database(database, name)


@pytest.fixture(scope="module")
def runs(database: Settings, run_db: str, tmp_path_factory) -> dict[str, Finished]:
    """run_wrk.sh (seed 7, 3 rounds) then run_ab.sh (random seed, 1 round) into the same --out."""
    out = tmp_path_factory.mktemp("results")
    io_dir = tmp_path_factory.mktemp("io-parent") / "io"
    finished = {}
    for tool, extra in (("wrk", ["--seed", "7", "--repeats", str(ROUNDS)]), ("ab", [])):
        marker = uuid.uuid4().hex
        before = set(run_dirs(out))
        proc = subprocess.run([SCRIPTS[tool], "--stacks", DJANGO, "--endpoints", "ping sync-io",
                               "--concurrency", "4", *SMOKE, "--out", str(out), *extra],
                              env=driver_env(run_db, io_dir, marker), capture_output=True, text=True, timeout=240)
        (run_dir,) = set(run_dirs(out)) - before
        run, rows = read_run(run_dir)
        finished[tool] = Finished(proc, run_dir, run, rows, os.readlink(out / "latest"), marked_processes(marker),
                                  run_cgroups(run["run_id"]), bench_record_count(database, run_db),
                                  [p for p in sorted(io_dir.iterdir()) if p.name != IO_DIR_MARK])
    return finished


@pytest.mark.parametrize("tool", ["wrk", "ab"])
def test_run_completes_with_a_valid_run_json(runs, tool, database):
    done = runs[tool]
    assert done.proc.returncode == 0, done.proc.stderr
    assert "Traceback" not in done.proc.stderr
    run = done.run
    assert validate_run(run) == []
    assert run["status"] == "complete" and run["ended_at"]
    assert run["tools"] == [tool]
    assert run["profile"]["name"] == "smoke"
    assert run["profile"]["levels"] == {"*": [4]} and run["profile"]["duration_s"] == 1
    assert sorted(run["stack_order"]) == sorted(DJANGO.split())
    if tool == "wrk":
        assert run["shuffle_seed"] == 7
    assert run["failure"] is None
    assert run["metadata"]["measuring"]["min_completions_per_connection"] == MIN_COMPLETIONS_PER_CONNECTION
    placement = run["metadata"]["placement"]
    assert placement["server_cpus"] == format_cpus(database.server_cpus)
    assert placement["client_cpus"] == format_cpus(database.client_cpus)
    assert placement["server_cpu_quota"] == database.server_cpu_quota
    assert run["metadata"]["limiter"] in {str(limiter) for limiter in Limiter}
    assert run["metadata"]["settings"]["database"]["password"] == "***"


@pytest.mark.parametrize("tool", ["wrk", "ab"])
def test_each_stack_records_its_command_and_a_passed_verification(runs, tool):
    stacks = runs[tool].run["stacks"]
    assert set(stacks) == set(DJANGO.split())
    for stack, interface in (("django-wsgi", "wsgi"), ("django-asgi", "asginl")):
        info = stacks[stack]
        assert info["status"] == "measured" and info["reason"] is None and info["restarts"] == 0
        command = info["server_command"]
        assert command[0] == "taskset" and command[3].endswith("/granian")
        assert command[command.index("--interface") + 1] == interface
        verification = info["verification"]
        assert verification["passed"], verification["failed"]
        assert verification["failed"] == [] and all(check["passed"] for check in verification["checks"])
        for endpoint in ("sync-io", "async-io"):
            assert verification["statements_per_request"][endpoint]["workload"] == WORKLOAD
    # Django ASGI (CONN_MAX_AGE=0) opens a connection per request, and the gate says so.
    # (Django WSGI's persistent connections are opened by whichever of its blocking threads
    # serves a request first, so its count during the gate is not a fixed number.)
    asgi = stacks["django-asgi"]["verification"]
    for endpoint in ("sync-io", "async-io"):
        assert asgi["statements_per_request"][endpoint]["connections"] == 1
        assert asgi["statements_per_request"][endpoint]["connection_setup"]["connect"] == 1
    assert "django-asgi: sync-io: 1 connection, " in asgi["summary"]


@pytest.mark.parametrize("tool", ["wrk", "ab"])
def test_one_valid_row_per_level_with_its_raw_output(runs, tool, database):
    done = runs[tool]
    rounds = ROUNDS if tool == "wrk" else 1
    assert {row_key(row) for row in done.rows} == expected_keys(DJANGO.split(), [tool], ["ping", "sync-io"], [4],
                                                                rounds)
    assert len(done.rows) == 4 * rounds
    assert_rows_follow_contract(done.run_dir, done.rows)
    for row in done.rows:
        assert row["run_id"] == done.run["run_id"]
        assert row["status"] == "ok" and row["valid"], row["invalid_reason"]
        assert row["rps"] > 0 and row["requests"] > 0 and row["error_count"] == 0
        assert row["server"]["cpu_pct"] > 0 and row["server"]["peak_memory_bytes"] > 0
        assert row["client"]["cpus"] == list(database.client_cpus)
    raw_files = {p.relative_to(done.run_dir) for p in (done.run_dir / "raw").rglob("*.txt")}
    assert raw_files == {Path(row["raw"]) for row in done.rows}  # none lost, none from discarded warm-ups


def test_rounds_interleave_every_stack_in_a_recorded_random_order(runs):
    """One round measures every stack at one level, one right after the other, in the order
    run.json records, which the recorded seed reproduces; round 1 of every level comes
    before round 2 of any."""
    done = runs["wrk"]
    recorded = done.run["rounds"]
    plan = ToolPlan(PROFILES["smoke"].with_levels((4,)), (Tool.WRK,))
    rebuilt = build_rounds(tuple(DJANGO.split()), (Tool.WRK,), (Endpoint.PING, Endpoint.SYNC_IO), plan.levels,
                           lambda tool, endpoint: ROUNDS, 7)
    assert [r.record() for r in rebuilt] == [{k: v for k, v in r.items() if k not in ("speed", "started_at")}
                                             for r in recorded]
    assert all(isinstance(r["speed"], float) and r["speed"] > 0 for r in recorded)  # the machine-speed probe
    by_time = sorted(done.rows, key=lambda row: row["started_at"])
    expected = [(r["endpoint"], r["repeat"], stack) for r in recorded for stack in r["order"]]
    assert [(row["endpoint"], row["repeat"], row["stack"]) for row in by_time] == expected
    for row in done.rows:
        (rnd,) = [r for r in recorded if (r["endpoint"], r["repeat"]) == (row["endpoint"], row["repeat"])]
        assert rnd["order"][row["position"]] == row["stack"] and row["speed"] == rnd["speed"]
    assert len({tuple(r["order"]) for r in recorded}) > 1 or len(recorded) < 3  # orders are drawn afresh


@pytest.mark.parametrize("tool", ["wrk", "ab"])
def test_every_level_is_warmed_up_drained_and_checked_before_it_counts(runs, tool):
    """Each row carries the checks that decide whether it counts, and the flags follow them."""
    for row in runs[tool].rows:
        warmup, window, drain, steady = row["warmup"], row["window"], row["drain"], row["steady"]
        assert warmup["connections"] == row["concurrency"] == warmup["connections_answered"]
        assert warmup["requests"] >= row["concurrency"]
        assert drain["drained"] and drain["before_s"] >= 0 and drain["after_s"] >= 0
        assert window["min_requests"] == MIN_COMPLETIONS_PER_CONNECTION * row["concurrency"]
        assert row["duration_s"] == window["planned_s"] >= 1
        assert (row["requests"] < window["min_requests"]) == (Flag.TOO_SHORT in row["flags"])
        if tool == "wrk":  # ab's measured mean is whole milliseconds: too coarse at ping's latency
            assert steady["littles_rps"] == pytest.approx(row["concurrency"] / row["latency_ms"]["mean"] * 1000)
        if steady["deviation"] is not None:
            assert (abs(steady["deviation"]) > STEADY_TOLERANCE) == (Flag.NOT_STEADY in row["flags"])
        noise = row["noise"]
        assert 0 <= noise["foreign_cpu_share"] <= 1 and 0 <= noise["steal_share"] <= 1
        assert (Flag.NOISY in row["flags"]) == (max(noise["foreign_cpu_share"], noise["steal_share"]) > 0.05)
    counted = [row for row in runs[tool].rows if not set(row["flags"]) & EXCLUDING_FLAGS]
    assert counted, "no level of a quiet smoke run counted"


def test_latest_points_at_the_newest_run(runs):
    assert runs["wrk"].latest == runs["wrk"].run_dir.name
    assert runs["ab"].latest == runs["ab"].run_dir.name
    assert (runs["ab"].run_dir.parent / "latest" / "run.json").exists()


@pytest.mark.parametrize("tool", ["wrk", "ab"])
def test_nothing_is_left_behind(runs, tool):
    done = runs[tool]
    assert done.processes_left == {}
    assert done.cgroups_left == []
    assert done.lab_records_left == 0
    assert done.io_files_left == []


@pytest.mark.skipif(not (ROOT / "fastapi_service" / "main.py").exists(),
                    reason="the fastapi stack (fastapi_service/main.py) is not written yet")
def test_fastapi_stack_is_verified_and_measured(database, run_db, tmp_path):
    marker = uuid.uuid4().hex
    proc = subprocess.run([SCRIPTS["wrk"], "--stacks", "fastapi", "--endpoints", "ping sync-io",
                           "--concurrency", "2", *SMOKE, "--out", str(tmp_path / "out")],
                          env=driver_env(run_db, tmp_path / "io", marker), capture_output=True, text=True,
                          timeout=120)
    (run_dir,) = run_dirs(tmp_path / "out")
    run, rows = read_run(run_dir)
    info = run["stacks"]["fastapi"]
    assert info["verification"]["passed"], info["verification"]["failed"]
    assert proc.returncode == 0, proc.stderr
    assert info["verification"]["statements_per_request"]["async-io"]["workload"] == WORKLOAD
    assert {row_key(row) for row in rows} == expected_keys(["fastapi"], ["wrk"], ["ping", "sync-io"], [2])
    assert_rows_follow_contract(run_dir, rows)
    assert all(row["status"] == "ok" and row["valid"] for row in rows)
    assert marked_processes(marker) == {} and run_cgroups(run["run_id"]) == []


def test_a_stack_added_to_the_registry_alone_is_served_verified_and_measured(database, run_db, tmp_path, monkeypatch):
    """One registry entry is all a new stack needs: a throw-away copy of the raw ASGI app
    under a new id, registered in this process only, goes through the driver (in-process,
    so it sees the entry) like any other stack."""
    from dataclasses import replace

    from bench.driver import cli
    from lab import stacks

    throwaway = replace(stacks.STACKS["raw-asgi"], id="throwaway-asgi", label="throw-away", default=False)
    monkeypatch.setitem(stacks.STACKS, throwaway.id, throwaway)
    for key, value in driver_env(run_db, tmp_path / "io", uuid.uuid4().hex).items():
        monkeypatch.setenv(key, value)
    affinity = os.sched_getaffinity(0)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = cli.main(["--stacks", "throwaway-asgi django-wsgi", "--endpoints", "ping sync-io",
                         "--concurrency", "2", *SMOKE, "--out", str(tmp_path / "out")])
    finally:
        os.sched_setaffinity(0, affinity)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    assert code == 0
    (run_dir,) = run_dirs(tmp_path / "out")
    run, rows = read_run(run_dir)
    info = run["stacks"]["throwaway-asgi"]
    assert info["status"] == "measured" and info["verification"]["passed"], info
    assert [c["name"].split(":")[0] for c in info["verification"]["checks"]][:3] == ["ping"] * 3
    assert {(r["stack"], r["endpoint"]) for r in rows} == {
        ("throwaway-asgi", "ping"), ("django-wsgi", "ping"), ("django-wsgi", "sync-io")}
    assert all(r["status"] == "ok" for r in rows)
    assert run_cgroups(run["run_id"]) == []


def test_rounds_past_the_round_budget_are_skipped_and_said(database, run_db, tmp_path):
    """A round not started within the budget is recorded as skipped, not measured and not
    failed; the run completes, and the report says what the budget left out."""
    marker = uuid.uuid4().hex
    proc = subprocess.run([SCRIPTS["wrk"], "--stacks", "django-wsgi", "--endpoints", "ping", "--concurrency", "2",
                           *SMOKE[:-1], "3", "--round-budget", "1", "--report", "--out", str(tmp_path / "out")],
                          env=driver_env(run_db, tmp_path / "io", marker), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = run_dirs(tmp_path / "out")
    run, rows = read_run(run_dir)
    assert run["status"] == "complete" and run["profile"]["round_budget_s"] == 1
    assert [row["repeat"] for row in rows] == [1]  # one round takes more than a second: the rest never start
    assert [bool(r.get("skipped")) for r in run["rounds"]] == [False, True, True]
    assert run["round_budget"] == {"seconds": 1, "skipped_rounds": 2, "skipped_rows": 2}
    assert "the round budget (1 s) ran out: 2 round(s), 2 row(s) not measured (2 wrk ping)" in proc.stdout
    report = (run_dir / "report.md").read_text()
    assert "**The round budget ran out**" in report and "2 planned round(s) were not measured" in report
    assert "INCOMPLETE" not in report
    assert marked_processes(marker) == {} and run_cgroups(run["run_id"]) == []


def test_the_quick_profile_budget_gives_way_to_a_plan_of_ones_own():
    from bench.driver.cli import build_parser, make_plan
    parser = build_parser("bench")
    assert make_plan(parser.parse_args([]), "bench", 256).profile.round_budget_s > 0
    for own in (["--repeats", "40"], ["--duration", "5"], ["--concurrency", "8"]):
        assert make_plan(parser.parse_args(own), "bench", 256).profile.round_budget_s == 0, own
    assert make_plan(parser.parse_args(["--repeats", "40", "--round-budget", "90"]), "bench", 256
                     ).profile.round_budget_s == 90
