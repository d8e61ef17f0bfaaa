"""`python -m bench report RUN_DIR`: rebuild charts/, report.md and a self-contained
report.html from run.json and results.jsonl alone, so a report can be remade anywhere,
at any time, from a run folder (no server, database or load generator needed)."""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bench.analysis import context, markdown, sentences
from bench.analysis.frames import Run, RunError, aggregate, best_levels, flagged_rows, load_run
from bench.analysis.plots import METRICS, SUMMARY_CHART, chart_name, draw_run_charts
from bench.analysis.stacks import BASELINE, endpoint_sort_key, endpoint_title
from bench.schema import Flag

HEADLINE_HEADERS = ("stack", "tool", "best median RPS", "at concurrency", "RPS range (repeats)", "repeats",
                    "p99 (ms)", "server CPU (ms/req)", "MariaDB CPU (ms/req)", f"ratio to {BASELINE}",
                    "flags at that level")
FLAGGED_HEADERS = ("stack", "endpoint", "tool", "concurrency", "repeat", "flags", "why", "raw output")


@dataclass(frozen=True)
class ReportPaths:
    markdown: Path
    html: Path
    charts: Path


def build_report(run_dir: Path) -> ReportPaths:
    """Charts first (the report embeds them), then report.md, then report.html."""
    run = load_run(run_dir)
    charts_dir = run.path / "charts"
    draw_run_charts(run, charts_dir)
    text = render_markdown(run)
    md_path, html_path = run.path / "report.md", run.path / "report.html"
    md_path.write_text(text, encoding="utf-8")
    page = markdown.to_html(text, f"Benchmark report {run.run_id}",
                            lambda target: markdown.png_data_uri(run.path / target))
    html_path.write_text(page, encoding="utf-8")
    return ReportPaths(md_path, html_path, charts_dir)


def render_markdown(run: Run) -> str:
    """The report's text. It links the charts by name; build_report draws them first."""
    levels = aggregate(run.rows)
    best = best_levels(levels)
    stacks = run.stacks
    parts = [
        context.header(run),
        context.methodology(run),
        context.verification(run),
        _headlines(best, levels),
        "## What the data says\n\n### ASGI or WSGI for Django?\n\n"
        + _bullets(sentences.asgi_vs_wsgi(best, stacks))
        + "\n\n### Where does FastAPI stand?\n\n" + _bullets(sentences.fastapi_stands(best, stacks)),
        _flagged(run),
        _charts(run),
    ]
    return "\n\n".join(parts) + "\n"


def _bullets(lines: list[str]) -> str:
    return "\n".join(f"- {line}" for line in lines) or "- Nothing to say: no stack was measured."


def _headlines(best: pd.DataFrame, levels: pd.DataFrame) -> str:
    text = ["## Headline figures", "",
            ("Per endpoint, stack and tool: the concurrency level with the best median RPS over the repeats, "
            "and what it cost there. A flagged level measures the set-up rather than the stack (see Flags)."),
            ]
    for endpoint in sorted(levels["endpoint"].unique(), key=endpoint_sort_key):
        rows = []
        on_endpoint = levels[levels["endpoint"] == endpoint]
        for (stack, tool), series in on_endpoint.groupby(["stack", "tool"], sort=False):
            hit = best[(best["stack"] == stack) & (best["endpoint"] == endpoint) & (best["tool"] == tool)]
            if hit.empty:
                rows.append((stack, tool, "no valid measurement", "", "", 0, "", "", "", "",
                             f"{int(series['set_aside'].sum())} row(s) failed or invalid"))
                continue
            row = hit.iloc[0]
            flags = ", ".join(row["flags"]) or "none"
            if row["series_set_aside"]:
                flags += f"; {row['series_set_aside']} row(s) of this series set aside"
            rows.append((stack, tool, f"{row['rps_median']:,.1f}", row["concurrency"],
                         f"{row['rps_min']:,.1f}–{row['rps_max']:,.1f}", row["repeats"],
                         sentences.fmt_ms(row["latency_ms_p99_median"]),
                         sentences.fmt_ms(row["server_cpu_ms_per_req_median"]),
                         sentences.fmt_ms(row["db_cpu_ms_per_req_median"]),
                         "n/a" if math.isnan(row["ratio"]) else f"{row['ratio']:.2f}×", flags))
        text += ["", f"### {endpoint_title(endpoint)}", "", markdown.table(HEADLINE_HEADERS, rows)]
    return "\n".join(text)


def _flagged(run: Run) -> str:
    flagged = flagged_rows(run.rows)
    rows = [(r.stack, r.endpoint, r.tool, r.concurrency, r.repeat, ", ".join(r.flags) or "none", _why(r),
             f"[{r.raw}]({r.raw})" if isinstance(r.raw, str) else "none")
            for r in flagged.itertuples()]
    intro = ("Every row that failed, was invalid, carries a flag or had failed requests. Failed and invalid "
             "rows are not counted in any figure; flagged valid rows are counted but marked on the charts.")
    if not rows:
        return f"## Flagged rows (0)\n\n{intro}\n\nNone: every row is valid and unflagged."
    return f"## Flagged rows ({len(rows)})\n\n{intro}\n\n" + markdown.table(FLAGGED_HEADERS, rows)


def _why(row: Any) -> str:
    """The reasons behind a row's flags, from the row itself."""
    reasons = []
    if row.status == "failed":
        reasons.append(f"failed: {markdown.code_span(_clip(row.failure))}")
    elif not row.valid:
        reasons.append(f"invalid: {markdown.code_span(_clip(row.invalid_reason))}")
    if Flag.ERRORS in row.flags or (row.error_count or 0) > 0:
        kinds = [f"{k} {int(getattr(row, f'errors_{k}'))}" for k in
                 ("connect", "read", "write", "timeout", "non_2xx", "length", "exceptions", "incomplete")
                 if (getattr(row, f"errors_{k}") or 0) > 0]
        rate = f" ({row.error_rate:.2%} of requests)" if not math.isnan(row.error_rate) else ""
        reasons.append(f"errors: {', '.join(kinds) or 'count unknown'}{rate}")
    if Flag.CLIENT_BOUND in row.flags:
        reasons.append(f"client CPU {_share(row.client_cpu_share)} of its CPUs")
    if Flag.DB_BOUND in row.flags:
        reasons.append(f"MariaDB CPU {_share(row.db_cpu_share)} of its CPUs")
    if Flag.DB_OPEN_TRANSACTIONS in row.flags:
        reasons.append(f"open transactions {_plain_num(row.db_open_trx_before)} → "
                       f"{_plain_num(row.db_open_trx_after)}")
    if Flag.DB_HISTORY_GROWTH in row.flags:
        reasons.append(f"InnoDB history {_plain_num(row.db_history_before)} → "
                       f"{_plain_num(row.db_history_after)}")
    return "; ".join(reasons) or "flagged"



def _clip(text: Any, limit: int = 300) -> str:
    text = " ".join(str(text).split()) if isinstance(text, str) else "no reason recorded"
    return text if len(text) <= limit else text[:limit] + "… (full text in results.jsonl)"


def _share(value: float) -> str:
    return "unknown" if math.isnan(value) else f"{value:.0%}"


def _plain_num(value: float) -> str:
    return "?" if math.isnan(value) else f"{value:g}"


def _charts(run: Run) -> str:
    text = ["## Charts", "",
            ("Lines are medians over the repeats, bands their min-max; wrk solid, ab dashed. Marked points "
             "are flagged, invalid or failed levels, never hidden."), "",
            f"![Best median throughput per stack and endpoint](charts/{SUMMARY_CHART})"]
    for endpoint in sorted(run.rows["endpoint"].unique(), key=endpoint_sort_key):
        text += ["", f"### {endpoint_title(endpoint)}"]
        for metric in METRICS:
            text += ["", (f"![{metric.title} vs concurrency, {endpoint_title(endpoint)}]"
                         f"(charts/{chart_name(endpoint, metric)})")]
    return "\n".join(text)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench report",
                                     description="Rebuild charts, report.md and report.html of a run folder.")
    parser.add_argument("run_dir", type=Path, help="a results/<run-id> folder (run.json + results.jsonl)")
    args = parser.parse_args(argv)
    try:
        paths = build_report(args.run_dir)
    except RunError as exc:
        print(f"bench report: {exc}", file=sys.stderr)
        return 2
    print(f"report.md:   {paths.markdown}")
    print(f"report.html: {paths.html}")
    print(f"charts:      {paths.charts}/")
    return 0
