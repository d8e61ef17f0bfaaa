"""`python -m bench compare` on real saved runs: the ratio table holds the rows' ratios, and
runs from different machines, limits or versions are called out loudly, key by key."""

import json
import re
import shutil
import statistics
from collections import defaultdict
from pathlib import Path

import pytest
from PIL import Image
from saved_runs import RUN_DIRS, read_rows

from bench.analysis import compare
from bench.schema import ENDPOINT_PATHS

DJANGO = {"django-wsgi", "django-asgi"}



def best_rps(rows: list[dict], stack: str, endpoint: str, tool: str) -> float | None:
    """Best median RPS over repeats of one series, from the rows alone."""
    by_level = defaultdict(list)
    for r in rows:
        if (r["stack"], r["endpoint"], r["tool"]) == (stack, endpoint, tool) and r["status"] == "ok" \
                and r["valid"] and r["rps"] is not None:
            by_level[r["concurrency"]].append(r["rps"])
    return max((statistics.median(v) for v in by_level.values()), default=None)


def write_run(source: Path, target: Path, keep_stack: str | None = None, rps_factor: float = 1.0,
              metadata: dict | None = None) -> Path:
    """A copy of a real run, optionally cut down to one stack (as a --url run is), RPS scaled,
    metadata overridden."""
    shutil.copytree(source, target)
    rows = [r for r in read_rows(target) if keep_stack in (None, r["stack"])]
    for row in rows:
        if row["rps"] is not None:
            row["rps"] *= rps_factor
    (target / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    info = json.loads((target / "run.json").read_text())
    if keep_stack:
        info["stacks"] = {s: v for s, v in info["stacks"].items() if s == keep_stack}
    for key, value in (metadata or {}).items():
        info["metadata"][key] = value
    (target / "run.json").write_text(json.dumps(info))
    return target


def ratio_rows(text: str) -> list[dict[str, str]]:
    """Every row of every ratio table in compare.md, with its endpoint heading."""
    section = text.split("## Best throughput per run and stack", 1)[1].split("\n## ", 1)[0]
    rows = []
    for chunk in section.split("\n### ")[1:]:
        heading, _, body = chunk.partition("\n")
        lines = [line for line in body.splitlines() if line.startswith("|")]
        header = [c.strip() for c in lines[0].strip("|").split("|")]
        rows += [dict(zip(header, [c.strip() for c in line.strip("|").split("|")], strict=True),
                      endpoint=heading.strip()) for line in lines[2:]]
    return rows


def title(endpoint: str) -> str:
    method, path = ENDPOINT_PATHS[endpoint]
    return f"{method} {path}"


def test_identical_runs_give_ratio_one_and_no_warning(tmp_path, capsys):
    a = write_run(RUN_DIRS[0], tmp_path / "a")
    b = write_run(RUN_DIRS[0], tmp_path / "b")
    assert compare.main([str(a), str(b), "--out", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    text = (tmp_path / "out" / "compare.md").read_text()
    info = json.loads((a / "run.json").read_text())
    if info["status"] == "complete":
        assert "WARNING" not in captured.err and "WARNING" not in text
    rows = ratio_rows(text)
    assert rows
    for row in rows:
        baseline_run, baseline_stack = row["baseline"].split(" · ")
        if row["stack"] == baseline_stack:
            assert row["ratio"] == "1.00×", row
    assert "| run | stack |" in captured.out  # the ratio table is printed too


def test_differing_metadata_is_warned_loudly_key_by_key(tmp_path, capsys):
    a = write_run(RUN_DIRS[0], tmp_path / "a")
    info = json.loads((a / "run.json").read_text())
    placement = dict(info["metadata"].get("placement") or {}, server_cpu_quota=0.25)
    b = write_run(RUN_DIRS[0], tmp_path / "b",
                  metadata={"placement": placement, "cpu_model": "Imaginary CPU 9000"})
    assert compare.main([str(a), str(b), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    head = (tmp_path / "out" / "compare.md").read_text().split("## Runs")[0]
    for where in (err, head):
        assert "WARNING" in where and "DIFFER" in where
        assert "placement.server_cpu_quota" in where and "0.25" in where
        assert "cpu_model" in where and "Imaginary CPU 9000" in where
        assert str(info["metadata"].get("cpu_model", "unknown")) in where


def test_manual_flow_ratio_is_asgi_over_wsgi(tmp_path, capsys):
    """Two runs of one stack each, as `run_wrk.sh --url` makes them; the ratio is computed from the rows."""
    source = next((d for d in RUN_DIRS if {r["stack"] for r in read_rows(d)} >= DJANGO), None)
    if source is None:
        pytest.skip("no saved run has both Django stacks")
    wsgi = write_run(source, tmp_path / "wsgi", keep_stack="django-wsgi")
    asgi = write_run(source, tmp_path / "asgi", keep_stack="django-asgi")
    assert compare.main([str(wsgi), str(asgi), "--out", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    rows = read_rows(source)
    checked = 0
    for row in ratio_rows((tmp_path / "out" / "compare.md").read_text()):
        assert row["baseline"] == "A · django-wsgi"
        endpoint = next(e for e in ENDPOINT_PATHS if title(e) == row["endpoint"])
        w = best_rps(rows, "django-wsgi", endpoint, row["tool"])
        mine = best_rps(rows, row["stack"], endpoint, row["tool"])
        assert row["ratio"] == f"{mine / w:.2f}×"
        checked += row["stack"] == "django-asgi"
    assert checked


def test_a_slower_copy_shows_half_the_rate(tmp_path, capsys):
    a = write_run(RUN_DIRS[0], tmp_path / "a")
    b = write_run(RUN_DIRS[0], tmp_path / "b", rps_factor=0.5)
    assert compare.main([str(a), str(b), "--out", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    rows = ratio_rows((tmp_path / "out" / "compare.md").read_text())
    halves = [r for r in rows if r["run"] == "B" and r["baseline"] == f"A · {r['stack']}"]
    assert halves and all(r["ratio"] == "0.50×" for r in halves)


def test_overlay_charts_exist_at_the_fixed_size(tmp_path, capsys):
    a = write_run(RUN_DIRS[0], tmp_path / "a")
    b = write_run(RUN_DIRS[-1], tmp_path / "b")
    assert compare.main([str(a), str(b), "--out", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    endpoints = {r["endpoint"] for r in read_rows(a) + read_rows(b)}
    expected = {f"{e}-{m}.png" for e in endpoints for m in ("throughput", "latency-p99")}
    charts = tmp_path / "out" / "charts"
    assert {p.name for p in charts.iterdir()} == expected
    for name in expected:
        with Image.open(charts / name) as image:
            assert (image.format, image.size) == ("PNG", (1200, 700))
    text = (tmp_path / "out" / "compare.md").read_text()
    assert set(re.findall(r"\]\(charts/([^)]+)\)", text)) == expected


def test_default_out_is_next_to_the_first_run(tmp_path, capsys):
    a = write_run(RUN_DIRS[0], tmp_path / "a")
    b = write_run(RUN_DIRS[0], tmp_path / "b")
    assert compare.main([str(a), str(b)]) == 0
    assert "compare.md: " + str(tmp_path) in capsys.readouterr().out
    [out] = tmp_path.glob("compare-*")
    assert (out / "compare.md").exists()


def test_bad_arguments_exit_2(tmp_path, capsys):
    assert compare.main([str(tmp_path)]) == 2
    assert compare.main([str(tmp_path / "nope"), str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("bench compare: ") for line in err)
