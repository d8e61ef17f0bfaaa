"""The main job end to end, as a user runs it: `make bench` on the smoke profile ends
with a report and charts covering every stack, endpoint and tool."""

import json
import subprocess

from bench.schema import Endpoint, Tool
from lab.config import ROOT
from lab.stacks import DEFAULT_STACKS


def test_make_bench_smoke_writes_report_and_charts(database, tmp_path):
    result = subprocess.run(["make", "bench", "PROFILE=smoke", f"OUT={tmp_path}"], cwd=ROOT,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run_dir = (tmp_path / "latest").resolve()
    for line in ("report.md:", "report.html:", "charts:"):
        assert line in result.stdout
    assert (run_dir / "report.md").stat().st_size > 0
    assert (run_dir / "report.html").stat().st_size > 0
    assert len(list((run_dir / "charts").glob("*.png"))) >= len(Endpoint)
    run = json.loads((run_dir / "run.json").read_text())
    assert run["status"] == "complete"
    assert {s: info["status"] for s, info in run["stacks"].items()} == {s: "measured" for s in DEFAULT_STACKS}
    rows = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    covered = {(r["stack"], r["endpoint"], r["tool"]) for r in rows}
    assert covered == {(s, e.value, t.value) for s in DEFAULT_STACKS for e in Endpoint for t in Tool}
