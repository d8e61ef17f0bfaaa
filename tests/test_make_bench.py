"""The main job end to end, as a user runs it: `make bench` on the smoke profile ends
with a report and charts covering every stack, endpoint and tool."""

import json
import os
import subprocess

from bench.profiles import PROFILES
from bench.schema import Endpoint, Tool
from lab.config import ROOT
from lab.stacks import DEFAULT_STACKS


def test_make_bench_smoke_writes_report_and_charts(database, tmp_path):
    smoke_run_covers_every_stack_endpoint_and_tool(tmp_path, {}, "mariadb")


def test_make_bench_on_postgresql_writes_report_and_charts(pg_database, tmp_path):
    """`DB_ENGINE=postgresql make bench`, on the smoke profile: the same job on PostgreSQL."""
    smoke_run_covers_every_stack_endpoint_and_tool(tmp_path, {"DB_ENGINE": "postgresql"}, "postgresql")


def smoke_run_covers_every_stack_endpoint_and_tool(tmp_path, env: dict[str, str], engine: str) -> None:
    result = subprocess.run(["make", "bench", "PROFILE=smoke", f"OUT={tmp_path}"], cwd=ROOT,
                            env={**os.environ, **env}, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run_dir = (tmp_path / "latest").resolve()
    for line in ("report.md:", "report.html:", "charts:"):
        assert line in result.stdout
    assert (run_dir / "report.md").stat().st_size > 0
    assert (run_dir / "report.html").stat().st_size > 0
    assert len(list((run_dir / "charts").glob("*.png"))) >= len(Endpoint)
    run = json.loads((run_dir / "run.json").read_text())
    assert run["status"] == "complete" and run["metadata"]["database"]["engine"] == engine
    assert {s: info["status"] for s, info in run["stacks"].items()} == {s: "measured" for s in DEFAULT_STACKS}
    rows = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    covered = {(r["stack"], r["endpoint"], r["tool"]) for r in rows}
    with_ab = PROFILES["smoke"].ab_endpoints  # ab cross-checks wrk there, as in quick
    assert covered == {(s, e.value, Tool.WRK.value) for s in DEFAULT_STACKS for e in Endpoint} | {
        (s, e, Tool.AB.value) for s in DEFAULT_STACKS for e in with_ab}


def test_make_bench_profile_openloop_measures_with_wrk_and_the_open_loop_generator():
    """The Makefile hands the openloop profile the generator (the driver adds wrk before it:
    tests/bench/test_openloop_run.py runs it); every other profile gets wrk and ab."""
    for profile, tools in (("openloop", "--tool openloop"), ("quick", "--tool wrk --tool ab"),
                           ("pool", "--tool wrk --tool ab"), ("databases", "--tool wrk --tool ab")):
        result = subprocess.run(["make", "-n", "bench", f"PROFILE={profile}"], cwd=ROOT, capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        (line,) = [line for line in result.stdout.splitlines() if "-m bench run" in line]
        assert f"-m bench run {tools} --profile {profile} --out results --report" in line
