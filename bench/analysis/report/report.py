"""`python -m bench report RUN_DIR`: rebuild charts/, report.md and a self-contained
report.html from run.json and results.jsonl alone, so a report can be remade anywhere,
at any time, from a run folder (no server, database or load generator needed); one
section also pools the earlier runs like it found beside it (bench/analysis/report/earlier.py).
Where Chromium is installed, report.png keeps the page's first screen as a reader sees it."""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bench.analysis import markdown, sentences, stats, validity, verdicts
from bench.analysis.charts.plots import METRICS, SUMMARY_CHART, chart_footer, chart_name, draw_run_charts
from bench.analysis.frames import Run, RunError, aggregate, flagged_rows, load_run, ordered
from bench.analysis.report import (
    answers,
    browser,
    capacity,
    context,
    databases,
    earlier,
    openloop,
    precision,
    run_paths,
    servers,
    sweep,
)
from bench.analysis.stacks import BASELINE, endpoint_sort_key, endpoint_title
from bench.schema import (
    ERROR_KEYS,
    EXCLUDING_FLAGS,
    MIN_COMPLETIONS_PER_CONNECTION,
    STEADY_TOLERANCE,
    Flag,
    parse_slo_ms,
)

HEADLINE_HEADERS = ("tool", "concurrency", "stack", "rounds counted / planned", "throughput (RPS, geometric mean)",
                    "95 % interval (RPS)", "p99 (ms, median)", "server CPU (ms/req, median)",
                    "database CPU (ms/req, median)", f"ratio to {BASELINE} [95 %]", "verdict",
                    "flags (counted rows)")
EXCLUDED_NAMES = ", ".join(f.value for f in Flag if f in EXCLUDING_FLAGS)
FLAGGED_HEADERS = ("stack", "endpoint", "tool", "concurrency", "round", "flags", "counted", "why", "raw output")


@dataclass(frozen=True)
class ReportPaths:
    markdown: Path
    html: Path
    charts: Path
    problems: tuple[str, ...]  # the run's contract problems, repeated on stderr
    screenshot: Path | None  # report.png, None when it could not be taken
    screenshot_note: str  # why not, when it was not
    pooled_with: tuple[str, ...]  # the earlier runs like it that the report pools, by id


def build_report(run_dir: Path, slo_ms: float | None = None) -> ReportPaths:
    """Charts first (the report embeds them), then report.md, report.html and its screenshot.
    `slo_ms`: read an open-loop run at this p99 target instead of its own (openloop.read_at)."""
    run = openloop.read_at(load_run(run_dir), slo_ms)
    charts_dir = run_paths.own_output(run.path, "charts")
    for chart in charts_dir.glob("*.png") if charts_dir.is_dir() else ():  # the names the charts are written to
        run_paths.own_output(charts_dir, chart.name)
    draw_run_charts(run.only_variant(run.variants[0]), charts_dir)
    sweep.draw(run, charts_dir / sweep.CHART, chart_footer(run))
    openloop.draw_all(run, charts_dir, chart_footer(run))
    alike = earlier.like_this(run.only_variant(run.variants[0]))
    text = render_markdown(run, alike)
    md_path, html_path = run_paths.own_output(run.path, "report.md"), run_paths.own_output(run.path, "report.html")
    md_path.write_text(text, encoding="utf-8")
    page = run_paths.to_html(run.path, text, f"Benchmark report {run.run_id}")
    html_path.write_text(page, encoding="utf-8")
    png_path = run_paths.own_output(run.path, "report.png")
    png_path.unlink(missing_ok=True)  # never a screenshot of an older page
    pooled_with = tuple(r.run_id for r in alike)
    try:
        return ReportPaths(md_path, html_path, charts_dir, run.problems, browser.screenshot(html_path, png_path), "",
                           pooled_with)
    except browser.BrowserError as exc:
        return ReportPaths(md_path, html_path, charts_dir, run.problems, None, str(exc), pooled_with)


def render_markdown(whole: Run, alike: list[Run] | None = None) -> str:
    """The report's text, answers and verdicts first. It links the charts by name; build_report draws them first.
    A run that varied a setting gets its sweep section after the answers; the sections after it read
    the axis's first value alone (for the database round trip: the direct connection). `alike`: the earlier
    runs like it to pool (bench/analysis/report/earlier.py), found beside the run when not given."""
    run = whole.only_variant(whole.variants[0])
    levels = aggregate(run.rows)
    along = capacity.sweep_section(whole)
    pooled = earlier.pool(run, earlier.like_this(run) if alike is None else alike)
    parts = [
        context.title(whole),
        answers.section(run, levels, capacity.async_answer(whole), pooled, openloop.answer_lines(whole),
                        databases.answer(whole)),
        *([along, f"*The sections below read {whole.variants[0] or 'the direct connection'} alone; "
                  "every flagged row of the run is listed under Flagged rows.*"] if along else []),
        openloop.section(whole),
        earlier.section(pooled),
        _verdicts(run, levels),
        servers.section(run, levels),
        _headlines(run, levels),
        validity.section(run),
        precision.section(run, levels),
        context.methodology(run),
        context.verification(run),
        context.settings(run),
        _flagged(whole),
        _charts(),
    ]
    return "\n\n".join(p for p in parts if p) + "\n"


def _verdicts(run: Run, levels: pd.DataFrame) -> str:
    stacks = run.stacks
    return "\n\n".join([
        "## Verdicts",
        ("Each ratio is the geometric mean of per-round ratios (both stacks measured in the same round, both "
         "rows counted), with its 95 % confidence interval in brackets. *Within noise*: the interval contains "
         f"1; fewer than {stats.MIN_ROUNDS} counted rounds give *no verdict*. Each endpoint is read at its "
         f"headline level (where {BASELINE} was counted in the most rounds and, among those, is fastest); its "
         "other levels follow in short."),
        f"### ASGI or WSGI for {'this app' if run.app else 'Django'}?",
        _bullets(sentences.asgi_vs_wsgi(run.rows, levels, stacks)),
        *([] if run.app else ["### Where does FastAPI stand?",  # an app file's run has no FastAPI mirror
                              _bullets(sentences.fastapi_stands(run.rows, levels, stacks))]),
    ])


def _bullets(lines: list[str]) -> str:
    return "\n".join(f"- {line}" for line in lines) or "- Nothing to say: no stack was measured."


def _ratios_to_baseline(run: Run, levels: pd.DataFrame) -> dict:
    """(stack, endpoint, tool, concurrency) -> that stack's LevelVerdict against the baseline."""
    found = {}
    for stack in levels["stack"].unique():
        if stack != BASELINE:
            for key, level in verdicts.pair_verdicts(run.rows, levels, stack, BASELINE).items():
                found[(stack, *key)] = level
    return found


def _verdict_cells(row: pd.Series, ratios: dict) -> tuple[str, str]:
    if row["stack"] == BASELINE:
        return "1 (baseline)", "baseline"
    level = ratios.get((row["stack"], row["endpoint"], row["tool"], int(row["concurrency"])))
    if level is None or level.b_level is None:
        return "n/a", f"no {BASELINE} rows here"
    verdict = level.verdict
    if verdict.n == 0:
        return "n/a", "no round counted both"
    kind = f"{verdict.kind} ({verdict.n} rounds)" if verdict.kind is stats.Kind.NO_VERDICT else str(verdict.kind)
    return sentences.fmt_interval(verdict), kind


def _headline_row(row: pd.Series, planned: int | None, ratios: dict) -> tuple:
    """One table row; `planned` is the rounds run.json planned at this level."""
    interval = ("n/a" if math.isnan(row["rps_low"])
                else f"{sentences.fmt_rps(row['rps_low'])}–{sentences.fmt_rps(row['rps_high'])}")
    ratio, verdict = _verdict_cells(row, ratios)
    flags = ", ".join(row["flags"]) or "none"
    return (row["tool"], row["concurrency"], row["stack"], f"{row['rounds']} / {planned or '?'}",
            sentences.fmt_rps(row["rps_gmean"]) if row["rounds"] else "none counted", interval,
            sentences.fmt_ms(row["latency_ms_p99_median"]), sentences.fmt_ms(row["server_cpu_ms_per_req_median"]),
            sentences.fmt_ms(row["db_cpu_ms_per_req_median"]), ratio, verdict, flags)


def _headlines(run: Run, levels: pd.DataFrame) -> str:
    text = ["## Headline figures", "",
            ("Per endpoint, tool, level and stack: counted rounds of those planned, the throughput's geometric "
             "mean with its 95 % interval, medians of p99 and CPU per request, and the ratio to "
             f"{BASELINE} from paired rounds with its interval and verdict. A flagged level measures the set-up "
             "rather than the stack (see Flagged rows).")]
    ratios = _ratios_to_baseline(run, levels)
    by_level = ordered(levels, ["endpoint", "tool", "concurrency", "stack"])
    for endpoint in sorted(levels["endpoint"].unique(), key=endpoint_sort_key):
        rows = [_headline_row(row, run.planned_rounds(row["tool"], row["endpoint"], int(row["concurrency"])), ratios)
                for _, row in by_level[by_level["endpoint"] == endpoint].iterrows()]
        text += ["", f"### {endpoint_title(endpoint)}", "", markdown.table(HEADLINE_HEADERS, rows)]
    return "\n".join(text)


def _flagged(run: Run) -> str:
    flagged = flagged_rows(run.rows)
    rows = [(markdown.plain(r.stack + (f" @ {r.variant}" if r.variant else "")), markdown.plain(r.endpoint),
             markdown.plain(r.tool), r.concurrency, r.repeat,
             ", ".join(r.flags) or "none",
             "**no**: " + ", ".join(r.excluded_by) if r.excluded_by else "yes, marked", _why(r),
             f"[{r.raw}]({r.raw})" if isinstance(r.raw, str) else "none")
            for r in flagged.itertuples()]
    intro = ("Every row that is counted nowhere, carries a flag or had failed requests. A row counted nowhere "
             f"({EXCLUDED_NAMES}) feeds no figure, ratio or verdict; "
             "the *why* column gives the measured values behind its flags. Other flagged rows are counted but "
             "marked on the charts and in the verdicts.")
    if not rows:
        return f"## Flagged rows (0)\n\n{intro}\n\nNone: every row is counted and unflagged."
    return f"## Flagged rows ({len(rows)})\n\n{intro}\n\n" + markdown.table(FLAGGED_HEADERS, rows)


def _why(row: Any) -> str:
    """The reasons behind a row's flags, from the row itself."""
    reasons = []
    if row.status == "failed":
        reasons.append(f"failed: {markdown.code_span(_clip(row.failure))}")
    elif not row.valid:
        reasons.append(f"invalid: {markdown.code_span(_clip(row.invalid_reason))}")
    reasons += _validity_reasons(row)
    if Flag.ERRORS in row.flags or (row.error_count or 0) > 0:
        kinds = [f"{k} {int(getattr(row, f'errors_{k}'))}" for k in ERROR_KEYS
                 if (getattr(row, f"errors_{k}") or 0) > 0]
        rate = f" ({row.error_rate:.2%} of requests)" if not math.isnan(row.error_rate) else ""
        reasons.append(f"errors: {', '.join(kinds) or 'count unknown'}{rate}")
    if Flag.CLIENT_BOUND in row.flags:
        reasons.append(f"client CPU {_share(row.client_cpu_share)} of its CPUs")
    if Flag.DB_BOUND in row.flags:
        reasons.append(f"database CPU {_share(row.db_cpu_share)} of its CPUs")
    if Flag.SHARED_CPUS_BOUND in row.flags:
        reasons.append(f"database {_share(row.db_cpu_share)} of its CPUs, relay {_share(row.relay_cpu_share)} "
                       f"of one CPU, client {_share(row.client_cpu_share)} of its CPUs, together over "
                       "80 % of the CPUs they share")
    if Flag.DB_OPEN_TRANSACTIONS in row.flags:
        reasons.append(f"open transactions {_plain_num(row.db_open_trx_before)} → "
                       f"{_plain_num(row.db_open_trx_after)}")
    if Flag.DB_BACKLOG_GROWTH in row.flags:
        reasons.append(f"database backlog {_plain_num(row.db_backlog_before)} → "
                       f"{_plain_num(row.db_backlog_after)}")
    return "; ".join(reasons) or "flagged"


def _validity_reasons(row: Any) -> list[str]:
    """The measured values behind too_short, not_steady, not_drained and noisy."""
    reasons = []
    if Flag.TOO_SHORT in row.flags:
        reasons.append(f"too short: {_plain_num(row.requests)} requests completed, at least "
                       f"{MIN_COMPLETIONS_PER_CONNECTION} × {row.concurrency} = "
                       f"{MIN_COMPLETIONS_PER_CONNECTION * int(row.concurrency)} needed")
    if Flag.NOT_STEADY in row.flags:
        reasons.append(f"not steady: {_plain_num(row.rps)} RPS counted vs {_plain_num(row.steady_littles_rps)} "
                       f"by Little's law ({_signed(row.steady_deviation)}, tolerance ±{STEADY_TOLERANCE:.0%})")
    if Flag.NOT_DRAINED in row.flags:
        reasons.append(f"not drained: a server was still busy when the level started (waited "
                       f"{_plain_num(row.drain_before_s)} s)")
    if Flag.NOISY in row.flags:
        reasons.append(f"noisy: foreign CPU {_share(row.noise_foreign_cpu_share)}, steal "
                       f"{_share(row.noise_steal_share)} of the lab's CPUs")
    if Flag.RELAY_BOUND in row.flags:
        reasons.append(f"relay-bound: chunks left {_plain_num(row.relay_lag_excess_mean_ms)} ms late on average "
                       f"(delay {_plain_num(row.relay_delay_ms)} ms, relay CPU {_share(row.relay_cpu_share)})")
    return reasons


def _signed(value: float) -> str:
    return "?" if math.isnan(value) else f"{value:+.1%}"


def _clip(text: Any, limit: int = 300) -> str:
    text = " ".join(str(text).split()) if isinstance(text, str) else "no reason recorded"
    return text if len(text) <= limit else text[:limit] + "… (full text in results.jsonl)"


def _share(value: float) -> str:
    return "unknown" if math.isnan(value) else f"{value:.0%}"


def _plain_num(value: float) -> str:
    if math.isnan(value):
        return "?"
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def _charts() -> str:
    text = ["## Charts", "",
            ("First, every stack's throughput ratio to Django WSGI per endpoint, with its 95 % interval, at "
             "the headline level of the primary tool (hollow grey points: no verdict). Then one figure per "
             "measure, a panel per endpoint, x = concurrency, one colour per stack, wrk solid and ab dashed; "
             "throughput is the geometric mean over counted rounds with its 95 % interval as the bar, the other "
             "measures are medians with the min-max of counted rounds as the bar. Marked points are flagged or "
             "excluded rows, never hidden."), "",
            f"![Throughput ratio to Django WSGI per endpoint, with 95 % intervals](charts/{SUMMARY_CHART})", "",
            ("Server CPU per request comes first among the measures: it is the CPU time the server itself spent "
             "per request, so a neighbour taking the machine or a slower day moves it far less than the "
             "throughput a stack reaches, which makes it the steadiest figure of how much work each stack does.")]
    for metric in METRICS:
        text += ["", f"![{metric.title} per endpoint and stack](charts/{chart_name(metric)})"]
    return "\n".join(text)


def _milliseconds(text: str) -> float:
    try:
        return parse_slo_ms(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed: {error}") from None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench report",
                                     description="Rebuild charts, report.md and report.html of a run folder.")
    parser.add_argument("run_dir", type=Path, help="a results/<run-id> folder (run.json + results.jsonl)")
    parser.add_argument("--slo-ms", type=_milliseconds, metavar="MS",
                        help="an open-loop run: read the sustainable rate at this p99 target (default: the run's own)")
    args = parser.parse_args(argv)
    try:
        paths = build_report(args.run_dir, args.slo_ms)
    except RunError as exc:
        print(f"bench report: {exc}", file=sys.stderr)
        return 2
    for problem in paths.problems:
        print(f"WARNING: {problem}", file=sys.stderr)
    print(f"report.md:   {paths.markdown}")
    print(f"report.html: {paths.html}")
    print(f"charts:      {paths.charts}/")
    if paths.screenshot is not None:
        print(f"report.png:  {paths.screenshot} (the first screen at {browser.SCREEN[0]}x{browser.SCREEN[1]})")
    else:
        print(f"report.png:  not taken: {paths.screenshot_note}")
    if paths.pooled_with:
        print(f"pooled with: {len(paths.pooled_with)} earlier run(s) like it ({', '.join(paths.pooled_with)}): "
              "see its Answers")
    return 0
