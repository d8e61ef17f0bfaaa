"""`python -m bench report` on real saved runs: the report's figures are the rows' figures,
nothing flagged goes missing, the HTML stands alone, and damaged runs still report."""

import base64
import contextlib
import io
import json
import re
import shutil
import statistics
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest
from saved_runs import RUN_DIRS, read_rows

from bench.analysis import report
from bench.analysis.frames import load_run
from bench.schema import ENDPOINT_PATHS


def best_by_series(rows: list[dict]) -> dict[tuple[str, str, str], tuple[float, int]]:
    """(stack, endpoint, tool) -> (best median RPS over repeats, its concurrency), lowest level on a tie."""
    by_level = defaultdict(list)
    for row in rows:
        if row["status"] == "ok" and row["valid"] and row["rps"] is not None:
            by_level[(row["stack"], row["endpoint"], row["tool"], row["concurrency"])].append(row["rps"])
    best: dict[tuple[str, str, str], tuple[float, int]] = {}
    for (stack, endpoint, tool, level), values in sorted(by_level.items(), key=lambda item: item[0][3]):
        median = statistics.median(values)
        if (stack, endpoint, tool) not in best or median > best[(stack, endpoint, tool)][0]:
            best[(stack, endpoint, tool)] = (median, level)
    return best


def is_flagged(row: dict) -> bool:
    failed_requests = (row["error_count"] or 0) > 0
    return bool(row["flags"]) or not row["valid"] or row["status"] == "failed" or failed_requests


def title(endpoint: str) -> str:
    method, path = ENDPOINT_PATHS[endpoint]
    return f"{method} {path}"


def cells(line: str) -> list[str]:
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip()[1:-1])]


def tables_in_section(text: str, section: str) -> dict[str, list[dict[str, str]]]:
    """{### title: rows as dicts} for the tables under `## section`."""
    part = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    tables = {}
    for chunk in part.split("\n### ")[1:]:
        heading, _, body = chunk.partition("\n")
        lines = [line for line in body.splitlines() if line.startswith("|")]
        header = cells(lines[0])
        tables[heading.strip()] = [dict(zip(header, cells(line), strict=True)) for line in lines[2:]]
    return tables


def copy_run(source: Path, target: Path, edit_rows: Callable[[list[dict]], list[dict]] = lambda r: r,
             edit_run: Callable[[dict], None] = lambda r: None) -> Path:
    """A copy of a real run with its rows and run.json edited, to make the cases the fixtures lack."""
    shutil.copytree(source, target)
    rows = edit_rows(read_rows(target))
    (target / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    info = json.loads((target / "run.json").read_text())
    edit_run(info)
    (target / "run.json").write_text(json.dumps(info))
    return target


@pytest.fixture(scope="module", params=RUN_DIRS, ids=[p.name for p in RUN_DIRS])
def reported(request, tmp_path_factory) -> tuple[Path, str, str]:
    """A real run copied to tmp and reported on: the copy, its report.md, what main printed."""
    run_dir = tmp_path_factory.mktemp("run") / request.param.name
    shutil.copytree(request.param, run_dir)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert report.main([str(run_dir)]) == 0
    return run_dir, (run_dir / "report.md").read_text(), printed.getvalue()


def test_report_files_exist_and_their_paths_are_printed(reported):
    run_dir, _, printed = reported
    for path in (run_dir / "report.md", run_dir / "report.html", run_dir / "charts"):
        assert path.exists()
        assert str(path) in printed


def test_headline_figures_equal_the_rows(reported):
    run_dir, text, _ = reported
    best = best_by_series(read_rows(run_dir))
    tables = tables_in_section(text, "Headline figures")
    for (stack, endpoint, tool), (rps, level) in best.items():
        [row] = [r for r in tables[title(endpoint)] if (r["stack"], r["tool"]) == (stack, tool)]
        assert float(row["best median RPS"].replace(",", "")) == pytest.approx(rps, abs=0.051)
        assert int(row["at concurrency"]) == level
        baseline = best.get(("django-wsgi", endpoint, tool))
        if baseline:
            assert row["ratio to django-wsgi"] == f"{rps / baseline[0]:.2f}×"
    shown = {(r["stack"], t, r["tool"]) for t, rows in tables.items() for r in rows
             if r["best median RPS"] != "no valid measurement"}
    assert shown == {(s, title(e), t) for s, e, t in best}


def test_every_flagged_row_is_listed(reported):
    run_dir, text, _ = reported
    flagged = [r for r in read_rows(run_dir) if is_flagged(r)]
    assert f"## Flagged rows ({len(flagged)})" in text
    for row in flagged:
        keys = (row["stack"], row["endpoint"], row["tool"], row["concurrency"], row["repeat"])
        prefix = "| " + " | ".join(str(k) for k in keys) + " |"
        [line] = [line for line in text.splitlines() if line.startswith(prefix)]
        for flag in row["flags"]:
            assert flag in line
        if row["raw"]:
            assert row["raw"] in line


def test_html_is_self_contained_with_every_chart_embedded(reported):
    run_dir, _, _ = reported
    page = (run_dir / "report.html").read_text()
    assert not re.search(r"""src=["'](?!data:)""", page)
    assert "<link" not in page and "<script" not in page and "url(" not in page
    uris = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    embedded = {base64.b64decode(uri) for uri in uris}
    charts = {p.read_bytes() for p in (run_dir / "charts").glob("*.png")}
    assert charts and embedded == charts


def test_report_states_the_method_and_the_machine(reported):
    run_dir, text, _ = reported
    info = json.loads((run_dir / "run.json").read_text())
    assert "sync_to_async" in text
    assert info["run_id"] in text.splitlines()[0]
    if info["metadata"].get("cpu_model"):
        assert str(info["metadata"]["cpu_model"]) in text
    for stack_info in info["stacks"].values():
        if stack_info.get("reason"):
            assert stack_info["reason"] in text


def first_stack_with_rows(run_dir: Path) -> str:
    return read_rows(run_dir)[0]["stack"]


def stacks_in(run_dir: Path) -> set[str]:
    return {r["stack"] for r in read_rows(run_dir)}


def test_a_skipped_stack_and_invalid_rows_still_report(tmp_path):
    source = RUN_DIRS[0]
    skipped = first_stack_with_rows(source)
    reason = "verification failed: made up by the test"

    def edit_rows(rows):
        kept = [r for r in rows if r["stack"] != skipped]
        for row in kept:
            if row["status"] == "ok":
                row.update(valid=False, invalid_reason="ab: 7 Length failures (test)")
                row["flags"] = sorted(set(row["flags"]) | {"invalid"})
                break
        return kept

    def edit_run(info):
        info["stacks"][skipped].update(status="skipped", reason=reason)

    run_dir = copy_run(source, tmp_path / source.name, edit_rows, edit_run)
    assert report.main([str(run_dir)]) == 0
    text = (run_dir / "report.md").read_text()
    assert f"stack {skipped} SKIPPED" in text and reason in text
    assert "ab: 7 Length failures (test)" in text
    headline = tables_in_section(text, "Headline figures")
    assert all(r["stack"] != skipped for rows in headline.values() for r in rows)


def test_an_interrupted_run_says_so_loudly(tmp_path):
    source = RUN_DIRS[0]

    def edit_run(info):
        info.update(status="interrupted", ended_at=None)

    run_dir = copy_run(source, tmp_path / source.name, lambda rows: rows[: len(rows) // 2], edit_run)
    with open(run_dir / "results.jsonl", "a") as f:
        f.write('{"schema_version": 1, "run_id": "cut sh')
    text = report.render_markdown(load_run(run_dir))
    head = text.split("## Methodology")[0]
    assert "WARNING: RUN INTERRUPTED" in head
    assert "WARNING: INCOMPLETE" in head
    assert "not JSON" in head


def test_missing_metadata_reads_unknown(tmp_path):
    def edit_run(info):
        info["metadata"] = {}

    run_dir = copy_run(RUN_DIRS[0], tmp_path / "run", edit_run=edit_run)
    text = report.render_markdown(load_run(run_dir))
    assert "| machine | unknown: unknown, unknown CPUs |" in text


def django_twins(tmp_path: Path, factor: float) -> str:
    """A run whose django-asgi rows are django-wsgi's, RPS times `factor`; returns the ASGI prose."""
    source = next((d for d in RUN_DIRS if {"django-wsgi", "django-asgi"} <= stacks_in(d)), None)
    if source is None:
        pytest.skip("no saved run has both Django stacks")

    def edit_rows(rows):
        wsgi = [r for r in rows if r["stack"] == "django-wsgi"]
        twins = [dict(r, stack="django-asgi", rps=None if r["rps"] is None else r["rps"] * factor)
                 for r in wsgi]
        return wsgi + twins

    run_dir = copy_run(source, tmp_path / source.name, edit_rows)
    text = report.render_markdown(load_run(run_dir))
    return text.split("### ASGI or WSGI for Django?")[1].split("###")[0]


def endpoint_lines(prose: str) -> list[str]:
    return [line for line in prose.splitlines() if line.startswith("- **")]


def test_identical_stacks_are_within_noise(tmp_path):
    lines = endpoint_lines(django_twins(tmp_path, 1.0))
    assert lines
    for line in lines:
        assert "within noise" in line or "noise is unknown" in line, line


def test_a_clear_gap_is_named_with_its_ratio(tmp_path):
    lines = endpoint_lines(django_twins(tmp_path, 0.5))
    assert lines
    for line in lines:
        assert "Django WSGI is ahead at 2.00× Django ASGI's throughput" in line, line
        assert "within noise" not in line, line


def test_a_conclusion_from_a_db_bound_level_says_so(tmp_path):
    source = next((d for d in RUN_DIRS if "fastapi" in stacks_in(d)), None)
    if source is None:
        pytest.skip("no saved run has fastapi")

    def edit_rows(rows):
        for row in rows:
            if row["stack"] == "fastapi" and "db_bound" not in row["flags"]:
                row["flags"].append("db_bound")
        return rows

    run_dir = copy_run(source, tmp_path / source.name, edit_rows)
    text = report.render_markdown(load_run(run_dir))
    prose = text.split("### Where does FastAPI stand?")[1].split("\n## ")[0]
    lines = [line for line in endpoint_lines(prose) if "peaks at" in line]
    assert lines
    for line in lines:
        assert "db-bound" in line and "not the stack" in line, line


def test_a_missing_folder_is_one_line_and_exit_2(tmp_path, capsys):
    assert report.main([str(tmp_path / "nope")]) == 2
    assert report.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("bench report: ") for line in err)
