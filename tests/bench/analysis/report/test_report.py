"""`python -m bench report` on real saved runs: the report leads with verdicts that carry
their intervals, its figures are the counted rows' figures (recomputed here from the rows
with scipy), excluded rows are counted nowhere and listed with the reason, the HTML
stands alone, and damaged or old runs still report, loudly."""

import base64
import math
import re
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from saved_runs import RUN_DIRS, counted, most_rounds, read_info, read_rows, with_rounds, write_run
from scipy import stats as scipy_stats

from bench.analysis.frames import load_run
from bench.analysis.report import report
from bench.schema import ENDPOINT_PATHS, EXCLUDING_FLAGS
from lab.stacks import STACKS

SECTIONS = ("## Answers", "## Verdicts", "## Headline figures", "## Noise and validity", "## Methodology",
            "## Verification", "## Metadata and settings", "## Flagged rows", "## Charts")


def title(endpoint: str) -> str:
    method, path = ENDPOINT_PATHS[endpoint]
    return f"{method} {path}"


def number(cell: str) -> float:
    return float(cell.replace(",", ""))


def cells(line: str) -> list[str]:
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip()[1:-1])]


def section(text: str, name: str) -> str:
    return text.split(f"\n## {name}", 1)[1].split("\n## ", 1)[0]


def tables_in_section(text: str, name: str) -> dict[str, list[dict[str, str]]]:
    """{### title: rows as dicts} for the tables under `## name`."""
    tables = {}
    for chunk in section(text, name).split("\n### ")[1:]:
        heading, _, body = chunk.partition("\n")
        lines = [line for line in body.splitlines() if line.startswith("|")]
        header = cells(lines[0])
        tables[heading.strip()] = [dict(zip(header, cells(line), strict=True)) for line in lines[2:]]
    return tables


def copy_run(source: Path, target: Path, edit_rows: Callable[[list[dict]], list[dict]] = lambda r: r,
             edit_run: Callable[[dict], None] = lambda r: None) -> Path:
    """A copy of a real run with its rows and run.json edited, to make the cases the fixtures lack."""
    info = read_info(source)
    edit_run(info)
    return write_run(source, target, edit_rows(read_rows(source)), info)


def counted_by_level(rows: list[dict]) -> dict[tuple, dict[int, float]]:
    """(stack, endpoint, tool, concurrency) -> {round: rps} of the counted rows."""
    found: dict[tuple, dict[int, float]] = defaultdict(dict)
    for row in rows:
        if counted(row):
            found[(row["stack"], row["endpoint"], row["tool"], row["concurrency"])][row["repeat"]] = row["rps"]
    return found


def t_interval(logs: np.ndarray) -> tuple[float, float]:
    """The 95 % t-interval of the mean log, back-transformed, by scipy.stats.t directly."""
    low, high = scipy_stats.t.interval(0.95, len(logs) - 1, loc=logs.mean(),
                                       scale=logs.std(ddof=1) / math.sqrt(len(logs)))
    return math.exp(low), math.exp(high)


def test_report_files_exist_and_their_paths_are_printed(reported):
    run_dir, _, printed = reported
    for path in (run_dir / "report.md", run_dir / "report.html", run_dir / "charts"):
        assert path.exists()
        assert str(path) in printed
    [line] = [line for line in printed.splitlines() if line.startswith("report.png:")]
    assert str(run_dir / "report.png") in line or "not taken: " in line


def headline_level(levels: dict[tuple, dict[int, float]], endpoint: str, tool: str) -> int:
    """Where django-wsgi was counted in the most rounds and, among those, is fastest."""
    wsgi = {k[3]: v for k, v in levels.items() if k[:3] == ("django-wsgi", endpoint, tool)}
    return max(wsgi, key=lambda c: (len(wsgi[c]), scipy_stats.gmean(list(wsgi[c].values())), -c))


def test_answers_are_the_three_questions_with_paired_ratios(reported):
    """Three bullets in order; every ratio shown is the geometric mean of the per-round ratios
    at that endpoint's headline level, over as many rounds as it says; the third answer
    names the database run.json records."""
    run_dir, text, _ = reported
    bullets = [line for line in section(text, "Answers").splitlines() if line.startswith("- ")]
    open_loop = ["- **How much traffic within the latency target, ASGI or WSGI"] if read_rows(run_dir, True) else []
    assert [b.split("?")[0] for b in bullets] == ["- **ASGI or WSGI for Django", "- **Is FastAPI worth it",
                                                  "- **Where does async pay off", *open_loop]
    levels = counted_by_level(read_rows(run_dir))
    paths = {path: endpoint for endpoint, (_, path) in ENDPOINT_PATHS.items()}
    checked = 0
    for bullet, a in zip(bullets, ("django-asgi", "fastapi"), strict=False):
        shown = re.findall(r"[A-Z]+ (/\S*/) \*\*([\d.]+)× \[[\d.]+–[\d.]+\]\*\* \((\d+) rounds", bullet)
        tool = re.search(r"throughput \((\w+)\)", bullet).group(1) if shown else None
        for path, estimate, n in shown:
            endpoint = paths[path]
            level = headline_level(levels, endpoint, tool)
            mine, base = levels[(a, endpoint, tool, level)], levels[("django-wsgi", endpoint, tool, level)]
            rounds = sorted(set(mine) & set(base))
            assert int(n) == len(rounds)
            assert float(estimate) == pytest.approx(scipy_stats.gmean([mine[r] / base[r] for r in rounds]),
                                                    rel=0.01, abs=0.006)
            checked += 1
    assert checked or all("No verdict" in b for b in bullets[:2])
    database = read_info(run_dir)["metadata"]["database"]
    # one round trip here: the answer is the newest latency run's, said as such, or no verdict
    assert re.match(r"- \*\*Where does async pay off\? (No verdict\*\*|.+, by the latency run `\S+-wrk-ab`\*\*)",
                    bullets[2]), bullets[2]
    assert f"{database['host']}:{database['port']}" in bullets[2]


def test_answers_and_verdicts_come_first_then_the_sections_in_order(reported):
    _, text, _ = reported
    positions = [text.index(f"\n{heading}") for heading in SECTIONS]
    assert positions == sorted(positions)
    before = text[:positions[0]]
    assert all(line.startswith(("# ", "> ")) or not line.strip() for line in before.splitlines())


def test_headline_figures_equal_the_counted_rows(reported):
    run_dir, text, _ = reported
    rows = read_rows(run_dir)
    levels = counted_by_level(rows)
    info = read_info(run_dir)
    tables = tables_in_section(text, "Headline figures")
    shown = 0
    for (stack, endpoint, tool, level), by_round in levels.items():
        [row] = [r for r in tables[title(endpoint)]
                 if (r["stack"], r["tool"], r["concurrency"]) == (stack, tool, str(level))]
        values = list(by_round.values())
        planned = sum((r["tool"], r["endpoint"], r["concurrency"]) == (tool, endpoint, level) for r in info["rounds"])
        assert row["rounds counted / planned"] == f"{len(values)} / {planned or info['profile'].get('repeats')}"
        assert number(row["throughput (RPS, geometric mean)"]) == pytest.approx(scipy_stats.gmean(values),
                                                                                rel=5e-3, abs=0.051)
        if len(values) >= 2 and np.ptp(values) > 0:
            low, high = t_interval(np.log(values))
            shown_low, shown_high = (number(x) for x in row["95 % interval (RPS)"].split("–"))
            assert (shown_low, shown_high) == (pytest.approx(low, rel=5e-3, abs=0.051),
                                               pytest.approx(high, rel=5e-3, abs=0.051))
        shown += 1
    assert shown


def test_ratios_to_the_baseline_are_paired_by_round(reported):
    run_dir, text, _ = reported
    levels = counted_by_level(read_rows(run_dir))
    tables = tables_in_section(text, "Headline figures")
    checked = 0
    for (stack, endpoint, tool, level), mine in levels.items():
        baseline = levels.get(("django-wsgi", endpoint, tool, level))
        rounds = sorted(set(mine) & set(baseline or {}))
        if stack == "django-wsgi" or not rounds:
            continue
        ratios = [mine[r] / baseline[r] for r in rounds]
        [row] = [r for r in tables[title(endpoint)]
                 if (r["stack"], r["tool"], r["concurrency"]) == (stack, tool, str(level))]
        assert number(row["ratio to django-wsgi [95 %]"].split("×")[0]) == pytest.approx(
            scipy_stats.gmean(ratios), rel=0.01, abs=0.006)
        if len(rounds) < 3:
            assert row["verdict"] == f"no verdict ({len(rounds)} rounds)"
        else:
            assert row["verdict"] in ("ahead", "behind", "within noise")
        checked += 1
    assert checked


def test_precision_is_read_from_the_per_round_ratios(reported):
    """Each headline ratio's row: ± reached is its interval's half-width, one round's spread is
    the sd of the per-round log ratios (numpy), and the rounds for ±10 % are the first n whose
    t-interval at that spread (scipy.stats.t directly) is no wider; the standard profile's 5
    rounds give the width that t-interval has at n=5."""
    run_dir, text, _ = reported
    table = tables_in_section(text, "Noise and validity").get("Precision", [])
    levels = counted_by_level(read_rows(run_dir))
    by_short = {STACKS[s].short: s for s in STACKS}
    paths = {title(e): e for e in ENDPOINT_PATHS}

    def width(sd: float, n: int) -> float:
        return math.sinh(scipy_stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n))

    checked = 0
    for row in table:
        a, b = (by_short[name] for name in row["ratio"].split("/"))
        tool, level = row["level"].split(" c=")
        key = (paths[row["endpoint"]], tool, int(level))
        mine, base = levels[(a, *key)], levels[(b, *key)]
        rounds = sorted(set(mine) & set(base))
        assert int(row["rounds counted"]) == len(rounds)
        if len(rounds) < 2:
            continue
        logs = np.log([mine[r] / base[r] for r in rounds])
        sd = float(np.std(logs, ddof=1))
        low, high = t_interval(logs)
        assert number(row["± reached"].strip("±%")) == pytest.approx(
            100 * (high - low) / (2 * math.exp(logs.mean())), abs=0.051)
        assert float(row["one round's spread (sd of log ratio)"]) == pytest.approx(sd, abs=0.0006)
        needed = next(n for n in range(2, 100_000) if width(sd, n) <= 0.10)
        assert int(row["rounds for ±10%"]) == needed
        assert number(row["± with the standard profile's 5 rounds"].strip("±%")) == pytest.approx(
            100 * width(sd, 5), abs=0.051)
        checked += 1
    assert checked or not table


def test_every_verdict_sentence_carries_its_interval_and_the_right_word(reported):
    _, text, _ = reported
    verdicts = section(text, "Verdicts")
    clauses = re.findall(r"(\w+)/(\w+) = \*\*(\d[\d.]*)× \[([^\]]+)\]\*\* over (\d+) round\(s\): "
                         r"\*\*([^*]+)\*\*", verdicts)
    assert clauses or "no comparison" in verdicts or "No answer" in verdicts
    for a, b, estimate, interval, n, word in clauses:
        if int(n) < 2:
            assert (interval, word) == ("no interval", "no verdict")
            continue
        low, high = interval.split("–")
        assert float(low) <= float(estimate) <= float(high)
        if int(n) < 3:
            assert word == "no verdict"
        elif float(low) > 1.005:  # bounds are shown rounded to 0.01: leave the edge cases alone
            assert word == f"{a} ahead"
        elif float(high) < 0.995:
            assert word == f"{b} ahead"
        elif float(low) < 0.995 and float(high) > 1.005:
            assert word == "within noise"


def test_every_flagged_row_is_listed_and_excluded_ones_say_so(reported):
    run_dir, text, _ = reported
    rows = read_rows(run_dir)
    flagged = [r for r in rows if r["flags"] or not counted(r) or (r["error_count"] or 0) > 0]
    assert f"## Flagged rows ({len(flagged)})" in text
    for row in flagged:
        keys = (row["stack"], row["endpoint"], row["tool"], row["concurrency"], row["repeat"])
        prefix = "| " + " | ".join(str(k) for k in keys) + " |"
        [line] = [line for line in text.splitlines() if line.startswith(prefix)]
        for flag in row["flags"]:
            assert flag in line
        assert ("**no**" in line) == (not counted(row))
        if row["raw"]:
            assert row["raw"] in line


def test_exclusion_counts_per_flag_equal_the_rows(reported):
    run_dir, text, _ = reported
    rows = read_rows(run_dir)
    table = {r[0]: r for r in (cells(line) for line in section(text, "Noise and validity").splitlines()
                               if line.startswith("| `"))}
    for flag in EXCLUDING_FLAGS:
        expected = sum(flag in r["flags"] or (flag == "failed" and r["status"] == "failed")
                       or (flag == "invalid" and r["status"] == "ok" and not r["valid"]) for r in rows)
        assert int(table[f"`{flag}`"][1]) == expected, flag


def test_html_is_self_contained_with_every_chart_embedded(reported):
    run_dir, _, _ = reported
    page = (run_dir / "report.html").read_text()
    assert not re.search(r"""src=["'](?!data:)""", page)
    assert "<link" not in page and "<script" not in page and "url(" not in page
    uris = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    embedded = {base64.b64decode(uri) for uri in uris}
    charts = {p.read_bytes() for p in (run_dir / "charts").glob("*.png")}
    assert charts and embedded == charts


def test_report_states_the_method_the_machine_and_its_speed(reported):
    run_dir, text, _ = reported
    info = read_info(run_dir)
    assert "sync_to_async" in text and "Little's law" in text and "Welch" in text
    assert info["run_id"] in text.splitlines()[0]
    if info["metadata"].get("cpu_model"):
        assert str(info["metadata"]["cpu_model"]) in text
    for stack_info in info["stacks"].values():
        if stack_info.get("reason"):
            assert stack_info["reason"] in text
    speeds = [r["speed"] for r in info["rounds"] if r.get("speed") is not None]
    if speeds:
        assert f"median {np.median(speeds):,.1f}, min {min(speeds):,.1f}, max {max(speeds):,.1f}" in text


def test_rows_made_too_short_are_counted_nowhere(tmp_path):
    """Every row of one stack at one level marked too_short: the level shows 0 counted rounds."""
    source = RUN_DIRS[0]
    target = next(r for r in read_rows(source) if counted(r))
    key = (target["stack"], target["endpoint"], target["tool"], target["concurrency"])

    def edit_rows(rows):
        for row in rows:
            if (row["stack"], row["endpoint"], row["tool"], row["concurrency"]) == key:
                row["flags"] = sorted(set(row["flags"]) | {"too_short"})
        return rows

    run_dir = copy_run(source, tmp_path / source.name, edit_rows)
    text = report.render_markdown(load_run(run_dir))
    [row] = [r for r in tables_in_section(text, "Headline figures")[title(key[1])]
             if (r["stack"], r["tool"], r["concurrency"]) == (key[0], key[2], str(key[3]))]
    assert row["rounds counted / planned"].startswith("0 / ")
    assert row["throughput (RPS, geometric mean)"] == "none counted"
    assert "too short:" in section(text, "Flagged rows")


def test_a_skipped_stack_and_invalid_rows_still_report(tmp_path):
    source = RUN_DIRS[0]
    skipped = read_rows(source)[0]["stack"]
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
    text = report.render_markdown(load_run(run_dir))
    assert f"stack {skipped} SKIPPED" in text and reason in text
    assert "ab: 7 Length failures (test)" in text
    headline = tables_in_section(text, "Headline figures")
    assert all(r["stack"] != skipped for rows in headline.values() for r in rows)


def test_an_interrupted_run_says_so_loudly(tmp_path):
    def edit_run(info):
        info.update(status="interrupted", ended_at=None, failure="SIGTERM from the test")

    run_dir = copy_run(RUN_DIRS[0], tmp_path / "run", lambda rows: rows[: len(rows) // 2], edit_run)
    with open(run_dir / "results.jsonl", "a") as f:
        f.write('{"schema_version": 2, "run_id": "cut sh')
    text = report.render_markdown(load_run(run_dir))
    head = text.split("## Verdicts")[0]
    assert "WARNING: RUN INTERRUPTED" in head and "SIGTERM from the test" in head
    assert "WARNING: INCOMPLETE" in head
    assert "not JSON" in head


def test_rows_of_the_old_schema_are_refused_in_one_line(tmp_path, capsys):
    def edit_rows(rows):
        return [dict(r, schema_version=1) for r in rows]

    run_dir = copy_run(RUN_DIRS[0], tmp_path / "run", edit_rows)
    assert report.main([str(run_dir)]) == 0
    err = capsys.readouterr().err
    text = (run_dir / "report.md").read_text()
    head = text.split("## Verdicts")[0]
    line = f"results.jsonl: {len(read_rows(run_dir))} row(s) of another schema_version refused"
    assert line in head and line in err
    assert "line 1:" not in head  # one line for all of them, not one per row


def test_missing_metadata_reads_unknown(tmp_path):
    def edit_run(info):
        info["metadata"] = {}

    run_dir = copy_run(RUN_DIRS[0], tmp_path / "run", edit_run=edit_run)
    text = report.render_markdown(load_run(run_dir))
    assert "| machine | unknown: unknown, unknown CPUs |" in section(text, "Metadata and settings")


def django_twins(tmp_path: Path, factor: float) -> list[str]:
    """A run (at least 3 rounds) whose django-asgi rows are django-wsgi's, RPS times `factor`;
    returns the ASGI bullets of the verdicts."""
    source = most_rounds()

    def edit_rows(rows):
        wsgi = [r for r in with_rounds(rows) if r["stack"] == "django-wsgi"]
        twins = [dict(r, stack="django-asgi", rps=None if r["rps"] is None else r["rps"] * factor)
                 for r in wsgi]
        return wsgi + twins

    run_dir = copy_run(source, tmp_path / source.name, edit_rows)
    text = report.render_markdown(load_run(run_dir))
    prose = text.split("### ASGI or WSGI for Django?")[1].split("###")[0]
    return [line for line in prose.splitlines() if line.startswith("- **")]


def test_identical_stacks_are_within_noise(tmp_path):
    lines = django_twins(tmp_path, 1.0)
    assert lines
    for line in lines:
        assert "ASGI/WSGI = **1.00× [1.00–1.00]**" in line and "**within noise**" in line, line


def test_a_clear_gap_is_named_with_its_ratio_and_interval(tmp_path):
    lines = django_twins(tmp_path, 0.5)
    assert lines
    for line in lines:
        assert "ASGI/WSGI = **0.50× [0.50–0.50]**" in line and "**WSGI ahead**" in line, line
        assert "within noise" not in line, line


def test_a_verdict_from_a_db_bound_level_says_so(tmp_path):
    source = next((d for d in RUN_DIRS if "fastapi" in {r["stack"] for r in read_rows(d)}), None)
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
    lines = [line for line in prose.splitlines() if line.startswith("- **") and "FastAPI/" in line]
    assert lines
    for line in lines:
        assert "db-bound" in line and "not the stack" in line, line


def test_a_missing_or_old_folder_is_one_line_and_exit_2(tmp_path, capsys):
    old = copy_run(RUN_DIRS[0], tmp_path / "old", edit_run=lambda info: info.update(schema_version=1))
    assert report.main([str(tmp_path / "nope")]) == 2
    assert report.main([str(tmp_path)]) == 2
    assert report.main([str(old)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("bench report: ") for line in err)
    assert "schema_version 1" in err[2]
