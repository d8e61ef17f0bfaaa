"""`python -m bench report RUN_DIR`: rebuild charts/, report.md and a self-contained
report.html from run.json and results.jsonl alone, so a report can be remade anywhere,
at any time, from a run folder (no server, database or load generator needed)."""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

import pandas as pd

from bench.analysis import markdown, sentences
from bench.analysis.frames import UNKNOWN, Run, RunError, aggregate, best_levels, flagged_rows, load_run
from bench.analysis.plots import METRICS, SUMMARY_CHART, chart_name, draw_run_charts
from bench.analysis.stacks import BASELINE, endpoint_sort_key, endpoint_title
from bench.schema import Flag

METHODOLOGY = Path(__file__).with_name("methodology.md")
HEADLINE_HEADERS = ("stack", "tool", "best median RPS", "at concurrency", "RPS range (repeats)", "repeats",
                    "p99 (ms)", "server CPU (ms/req)", "MariaDB CPU (ms/req)", f"ratio to {BASELINE}",
                    "flags at that level")
FLAGGED_HEADERS = ("stack", "endpoint", "tool", "concurrency", "repeat", "flags", "why", "raw output")
STATUS_WARNINGS = {  # run.json status -> (headline, what it means)
    "interrupted": ("RUN INTERRUPTED", "the run was stopped before it finished (Ctrl-C, SIGTERM or a fatal "
                                       "error); only the levels below were measured"),
    "running": ("RUN NOT FINISHED", "run.json still says running: the driver never finalised it (killed, or "
                                    "still going)"),
    "failed": ("RUN FAILED", "the driver failed; only the levels below were measured"),
}


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
        _header(run),
        _methodology(run),
        _verification(run),
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


def _header(run: Run) -> str:
    info = run.info
    lines = [f"# Benchmark report: run {run.run_id}", ""]
    lines += [f"> {warning}\n" for warning in _warnings(run)]
    profile = info.get("profile") or {}
    placement = run.meta("placement")
    rows = [
        ("run", f"`{run.run_id}`"),
        ("started / ended", (f"{info.get('started_at') or UNKNOWN} / "
                             f"{info.get('ended_at') or 'not finished'}")),
        ("status", f"**{info.get('status', UNKNOWN)}**"),
        ("profile", _profile(profile)),
        ("tools", ", ".join(info.get("tools") or []) or UNKNOWN),
        ("stack order", (f"{', '.join(info.get('stack_order') or []) or UNKNOWN} "
                        f"(shuffle seed {info.get('shuffle_seed', UNKNOWN)})")),
        ("machine", f"{run.meta('host')}: {run.meta('cpu_model')}, {run.meta('cpu_count')} CPUs"),
        ("kernel / OS", f"{run.meta('kernel')} / {run.meta('os')}"),
        ("git", f"`{run.meta('git_sha')}`"),
        ("placement and limits", _placement(placement)),
        ("limiter", _plain(run.meta("limiter"))),
    ]
    lines.append(markdown.table(("item", "value"), rows))
    lines += ["", "### Versions", "", markdown.table(("component", "version"), _versions(run))]
    for title, key in (("Database", "database"), ("Settings (secrets redacted)", "settings")):
        values = run.meta(key)
        rows = sorted(values.items()) if isinstance(values, dict) else [(key, values)]
        table = markdown.table(("name", "value"), [(k, _plain(v)) for k, v in rows])
        lines += ["", f"### {title}", "", table]
    return "\n".join(lines)


def _warnings(run: Run) -> list[str]:
    """Loud lines for everything that makes the run less than complete."""
    warnings = []
    status = run.info.get("status", UNKNOWN)
    if status != "complete":
        headline, meaning = STATUS_WARNINGS.get(status, (f"RUN STATUS {str(status).upper()}",
                                                         "the run's status is not 'complete'"))
        warnings.append(f"**WARNING: {headline}**: {meaning}.")
    planned = _planned_rows(run)
    if planned and len(run.rows) < planned:
        warnings.append(f"**WARNING: INCOMPLETE**: {len(run.rows)} of {planned} planned rows exist.")
    for stack, info in run.stacks.items():
        if info.get("status") in ("skipped", "failed"):
            warnings.append(f"**WARNING: stack {stack} {info['status'].upper()}**: "
                            f"{info.get('reason') or 'no reason recorded'}.")
    failed = int((run.rows["status"] == "failed").sum())
    invalid = int(((run.rows["status"] == "ok") & ~run.rows["valid"]).sum())
    if failed or invalid:
        warnings.append(f"**{failed} failed and {invalid} invalid row(s)** are not counted in any figure; "
                        "see Flagged rows.")
    if run.problems:
        warnings.append("**WARNING: the results files break the contract in places**: "
                        + "; ".join(run.problems) + ".")
    return warnings


def _planned_rows(run: Run) -> int | None:
    profile = run.info.get("profile") or {}
    levels, repeats = profile.get("concurrency"), profile.get("repeats")
    if not isinstance(levels, list) or not isinstance(repeats, int):
        return None
    stacks = [s for s, i in run.stacks.items() if i.get("status") != "skipped"]
    endpoints, tools = run.info.get("endpoints") or [], run.info.get("tools") or []
    return len(stacks) * len(endpoints) * len(tools) * len(levels) * repeats


def _profile(profile: dict) -> str:
    if not profile:
        return UNKNOWN
    levels = ", ".join(str(c) for c in profile.get("concurrency") or []) or UNKNOWN
    return (f"{profile.get('name', UNKNOWN)}: concurrency {levels}; {profile.get('duration_s', '?')} s "
            f"x {profile.get('repeats', '?')} repeat(s); primer {profile.get('primer_s', '?')} s, "
            f"warm-up {profile.get('warmup_s', '?')} s")


def _placement(placement: Any) -> str:
    if not isinstance(placement, dict):
        return _plain(placement)
    return (f"server on CPUs {placement.get('server_cpus', UNKNOWN)}, quota "
            f"{placement.get('server_cpu_quota', UNKNOWN)} CPU, memory "
            f"{_bytes(placement.get('server_memory_bytes'))}; client on CPUs "
            f"{placement.get('client_cpus', UNKNOWN)}; MariaDB on CPUs {placement.get('db_cpus', UNKNOWN)}")


def _bytes(value: Any) -> str:
    return f"{value / 2**30:.2f} GiB" if isinstance(value, (int, float)) else UNKNOWN


def _plain(value: Any) -> str:
    """A metadata value on one line, whatever its shape."""
    if isinstance(value, dict):
        return ", ".join(f"{k}={_plain(v)}" for k, v in value.items()) or UNKNOWN
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value) or UNKNOWN
    return UNKNOWN if value is None else str(value)


def _versions(run: Run) -> list[tuple[str, str]]:
    rows = [("python", _plain(run.meta("python")))]
    for group in ("packages", "tools"):
        values = run.meta(group)
        if isinstance(values, dict):
            rows += [(name, _plain(version)) for name, version in sorted(values.items())]
        else:
            rows.append((group, _plain(values)))
    rows.append(("database", _plain(run.meta("database", "version"))))
    return rows


def _methodology(run: Run) -> str:
    profile = run.info.get("profile") or {}
    placement = run.meta("placement") if isinstance(run.meta("placement"), dict) else {}
    values = {
        "levels": ", ".join(str(c) for c in profile.get("concurrency") or []) or UNKNOWN,
        "tools": ", ".join(run.info.get("tools") or []) or UNKNOWN,
        "limiter": _plain(run.meta("limiter")),
        "server_memory": _bytes(placement.get("server_memory_bytes")),
        **{k: _plain(profile.get(k)) for k in ("duration_s", "repeats", "primer_s", "warmup_s")},
        **{k: _plain(placement.get(k))
           for k in ("server_cpus", "server_cpu_quota", "client_cpus", "db_cpus")},
    }
    return Template(METHODOLOGY.read_text(encoding="utf-8")).safe_substitute(values).strip()


def _verification(run: Run) -> str:
    rows, failures, commands, statements = [], [], [], []
    for stack, info in run.stacks.items():
        check = info.get("verification") or {}
        checks = check.get("checks") or []
        passed = sum(bool(c.get("passed")) for c in checks)
        status = info.get("status", UNKNOWN)
        if info.get("reason"):
            status = f"**{status}**: {info['reason']}"
        verdict = {True: "passed", False: "**failed**"}.get(check.get("passed"), "not recorded")
        rows.append((stack, status, verdict, f"{passed}/{len(checks)}", check.get("summary") or ""))
        failures += [f"- `{stack}` failed **{c.get('name')}**: {c.get('detail') or 'no detail'}"
                     for c in checks if not c.get("passed")]
        if info.get("server_command"):
            commands.append(f"- `{stack}`: `{_plain(info['server_command'])}`")
        for endpoint, counts in sorted((check.get("statements_per_request") or {}).items(),
                                       key=lambda item: endpoint_sort_key(item[0])):
            statements.append((stack, endpoint_title(endpoint), _counts(counts.get("workload")),
                               _counts(counts.get("transaction_control")),
                               _counts(counts.get("connection_setup")), _plain(counts.get("connections"))))
    text = ["## Verification", "",
            "Every stack must pass the gate before it is measured; a stack that fails is skipped.", "",
            markdown.table(("stack", "status", "verification", "checks passed", "summary"), rows)]
    if failures:
        text += ["", "Failed checks:", "", *failures]
    if commands:
        text += ["", "Server commands:", "", *commands]
    if statements:
        text += ["", "### Statements per request", "",
                 ("The workload must be identical on every stack; transaction control and connection set-up "
                 "differ by driver and are shown, not hidden."), "",
                 markdown.table(("stack", "endpoint", "workload", "transaction control", "connection set-up",
                                 "new connections"), statements)]
    return "\n".join(text)


def _counts(counts: Any) -> str:
    if not isinstance(counts, dict):
        return _plain(counts)
    shown = [f"{name.replace('_', ' ').upper()} {_number(n)}" for name, n in counts.items() if n]
    return ", ".join(shown) or "none"


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


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
        reasons.append(f"failed: {_clip(row.failure)}")
    elif not row.valid:
        reasons.append(f"invalid: {_clip(row.invalid_reason)}")
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
