"""The report's context: the header (what ran, where, and loud warnings when the run is
less than complete), the methodology and the verification gate's outcome per stack. A
reader must know these before trusting a single figure below them."""

from __future__ import annotations

import shlex
from pathlib import Path
from string import Template
from typing import Any

from bench.analysis import markdown
from bench.analysis.frames import UNKNOWN, Run
from bench.analysis.stacks import endpoint_sort_key, endpoint_title

METHODOLOGY = Path(__file__).with_name("methodology.md")
STATUS_WARNINGS = {  # run.json status -> (headline, what it means)
    "interrupted": ("RUN INTERRUPTED", ("stopped before it finished (Ctrl-C, SIGTERM or a fatal error); "
                                        "only the levels below were measured")),
    "running": ("RUN NOT FINISHED",
                "run.json still says running: the driver never finalised it (killed, or still going)"),
    "failed": ("RUN FAILED", "the driver failed; only the levels below were measured"),
}


def header(run: Run) -> str:
    """Title, loud warnings, then what ran where: machine, versions, limits, DB, settings."""
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
    versions = [(name, markdown.code_span(version)) for name, version in _versions(run)]
    lines += ["", "### Versions", "", markdown.table(("component", "version"), versions)]
    for title, key in (("Database", "database"), ("Settings (secrets redacted)", "settings")):
        values = run.meta(key)
        rows = sorted(values.items()) if isinstance(values, dict) else [(key, values)]
        table = markdown.table(("name", "value"), [(k, markdown.code_span(_plain(v))) for k, v in rows])
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


def methodology(run: Run) -> str:
    """The method, written once in methodology.md, with this run's limits and levels filled in."""
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


def verification(run: Run) -> str:
    """Per stack: the gate's outcome, failed checks, server command and statements per request."""
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
        command = info.get("server_command")
        if command:
            shown = shlex.join(str(part) for part in command) if isinstance(command, list) else str(command)
            commands.append(f"- `{stack}`: {markdown.code_span(shown)}")
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
