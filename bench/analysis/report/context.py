"""The report's context: the title with loud warnings when the run is less than complete
(read before any figure), and, after the figures, the methodology, the verification
gate's outcome per stack and what ran where (machine, versions, limits, settings)."""

from __future__ import annotations

import shlex
from collections import Counter
from pathlib import Path
from string import Template
from typing import Any

from bench.analysis import markdown, stats, validity
from bench.analysis.frames import UNKNOWN, Run
from bench.analysis.stacks import endpoint_sort_key, endpoint_title
from bench.load_tools import is_cross_check
from bench.schema import MIN_COMPLETIONS_PER_CONNECTION, STEADY_TOLERANCE

METHODOLOGY = Path(__file__).parents[1] / "methodology.md"
STATUS_WARNINGS = {  # run.json status -> (headline, what it means)
    "interrupted": ("RUN INTERRUPTED", ("stopped before it finished (Ctrl-C, SIGTERM or a fatal error); "
                                        "only the levels below were measured")),
    "running": ("RUN NOT FINISHED",
                "run.json still says running: the driver never finalised it (killed, or still going)"),
    "failed": ("RUN FAILED", "the driver failed; only the levels below were measured"),
}


def title(run: Run) -> str:
    """The title and the loud warnings: the first thing a reader sees."""
    whose = f"app {markdown.plain(str(run.app.get('name')))}, " if run.app else ""
    lines = [f"# Benchmark report: {whose}run {markdown.plain(run.run_id)}"]
    lines += [f"\n> {warning}" for warning in _warnings(run)]
    return "\n".join(lines)


def settings(run: Run) -> str:
    """What ran where: machine, versions, limits, DB, settings (read after the verdicts). Values
    come from run.json as plain text: markup in them stays text."""
    info = run.info
    profile = info.get("profile") or {}
    text = markdown.plain
    rows = [
        ("run", markdown.code_span(run.run_id)),
        ("started / ended", text(f"{info.get('started_at') or UNKNOWN} / {info.get('ended_at') or 'not finished'}")),
        ("status", f"**{text(info.get('status', UNKNOWN))}**"),
        ("profile", text(_profile(profile))),
        ("tools", text(", ".join(info.get("tools") or []) or UNKNOWN)),
        ("rounds", text(f"{sum(bool(r.get('started_at')) for r in run.rounds)} of {len(run.rounds)} planned "
                        f"were started, each in its own shuffled stack order (seed "
                        f"{info.get('shuffle_seed', UNKNOWN)})")),
        ("machine", text(f"{run.meta('host')}: {run.meta('cpu_model')}, {run.meta('cpu_count')} CPUs")),
        ("kernel / OS", text(f"{run.meta('kernel')} / {run.meta('os')}")),
        ("git", markdown.code_span(str(run.meta("git_sha")))),
        ("placement and limits", text(_placement(run.meta("placement")))),
        ("limiter", text(_plain(run.meta("limiter")))),
        ("noise thresholds", text(_plain(run.meta("noise_thresholds")))),
    ]
    lines = ["## Metadata and settings", "", markdown.table(("item", "value"), rows)]
    versions = [(name, markdown.code_span(version)) for name, version in _versions(run)]
    lines += ["", "### Versions", "", markdown.table(("component", "version"), versions)]
    if run.app:  # the servers ran in the app's own Python: those versions are the measured ones
        mine = run.app.get("versions") if isinstance(run.app.get("versions"), dict) else {}
        rows = [("python", run.app.get("python_version"))] + sorted(mine.items())
        lines += ["", f"### The app's Python ({markdown.plain(str(run.app.get('python')))})", "",
                  "Its servers ran here; the versions above are the lab's own (load tools, analysis).", "",
                  markdown.table(("package", "version"), [(k, markdown.code_span(_plain(v))) for k, v in rows])]
    for heading, key in (("Database", "database"), ("Settings (secrets redacted)", "settings")):
        values = run.meta(key)
        rows = sorted(values.items()) if isinstance(values, dict) else [(key, values)]
        table = markdown.table(("name", "value"), [(k, markdown.code_span(_plain(v))) for k, v in rows])
        lines += ["", f"### {heading}", "", table]
    return "\n".join(lines)


def _warnings(run: Run) -> list[str]:
    """Loud lines for everything that makes the run less than complete."""
    warnings = []
    status = run.info.get("status", UNKNOWN)
    if status != "complete":
        headline, meaning = STATUS_WARNINGS.get(status, (f"RUN STATUS {markdown.plain(str(status).upper())}",
                                                         "the run's status is not 'complete'"))
        warnings.append(f"**WARNING: {headline}**: {meaning}.")
    if run.info.get("failure"):
        failure = " ".join(str(run.info["failure"]).split())
        warnings.append(f"**Why the run stopped**: {markdown.code_span(failure)}.")
    planned = _planned_rows(run)
    if planned and len(run.rows) < planned:
        warnings.append(f"**WARNING: INCOMPLETE**: {len(run.rows)} of {planned} planned rows exist.")
    skipped = [r for r in run.rounds if r.get("skipped")]
    if skipped:
        budget = (run.info.get("round_budget") or {}).get("seconds", UNKNOWN)
        where = ", ".join(f"{n} × {markdown.plain(key)}" for key, n in
                          Counter(f"{r['tool']} {endpoint_title(r['endpoint'])}" for r in skipped).items())
        warnings.append(f"**The round budget ran out**: no round starts more than {budget} s after the first, "
                        f"so {len(skipped)} planned round(s) were not measured ({where}); every figure uses the "
                        "rounds that were, and says how many.")
    for stack, info in run.stacks.items():
        if info.get("status") in ("skipped", "failed"):
            warnings.append(f"**WARNING: stack {markdown.plain(stack)} {info['status'].upper()}**: "
                            f"{markdown.plain(info.get('reason') or 'no reason recorded')}.")
    excluded = int((~run.rows["counted"]).sum()) if len(run.rows) else 0
    if excluded:
        warnings.append(f"**{excluded} of {len(run.rows)} row(s) are counted in no figure, ratio or verdict** "
                        "(failed, invalid, too short, not steady, not drained or noisy): see Noise and validity.")
    if run.problems:
        warnings.append("**WARNING: the results files break the contract in places**: "
                        + markdown.plain("; ".join(run.problems)) + ".")
    return warnings


def _planned_rows(run: Run) -> int | None:
    """One row per stack in the order of every planned round the round budget left in."""
    return sum(len(r.get("order") or []) for r in run.rounds if not r.get("skipped")) or None


def _levels(profile: dict) -> str:
    """`ping 16; other endpoints 4`, from the profile's per-endpoint levels (or a plain list)."""
    levels = profile.get("levels", profile.get("concurrency"))
    if isinstance(levels, list):
        return ", ".join(str(c) for c in levels) or UNKNOWN
    if not isinstance(levels, dict) or not levels:
        return UNKNOWN
    every = "every endpoint" if len(levels) == 1 else "other endpoints"
    parts = [(every if key == "*" else key, ", ".join(str(c) for c in values or []))
             for key, values in sorted(levels.items(), key=lambda item: item[0] == "*")]
    return "; ".join(f"{key} {values}" for key, values in parts)


def _rounds(run: Run) -> str:
    """Rounds per level as the profile asks, with the ab cross-check's when it differs."""
    profile = run.info.get("profile") or {}
    text = f"{_plain(profile.get('repeats'))} round(s) per level"
    tools = run.info.get("tools") or []
    checking = [t for t in tools if is_cross_check(t, tools)]
    if "ab_repeats" in profile and checking:
        text += f" ({_plain(profile['ab_repeats'])} for the {', '.join(checking)} cross-check)"
    return text


def _profile(profile: dict) -> str:
    if not profile:
        return UNKNOWN
    details = ", ".join(f"{k}={_plain(v)}" for k, v in profile.items()
                        if k not in ("name", "levels", "concurrency", "purpose") and v not in ("", None))
    return f"{profile.get('name', UNKNOWN)}: levels {_levels(profile)}; {details or 'no other settings recorded'}"


def _placement(placement: Any) -> str:
    if not isinstance(placement, dict):
        return _plain(placement)
    return (f"server on CPUs {placement.get('server_cpus', UNKNOWN)}, quota "
            f"{placement.get('server_cpu_quota', UNKNOWN)} CPU, memory "
            f"{_bytes(placement.get('server_memory_bytes'))}; client on CPUs "
            f"{placement.get('client_cpus', UNKNOWN)}; database on CPUs {placement.get('db_cpus', UNKNOWN)}")


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


ENGINE_NAMES = {"mariadb": "MariaDB", "postgresql": "PostgreSQL"}  # a run before engines recorded none: MariaDB


def engine_name(run: Run) -> str:
    database = run.meta("database")
    engine = database.get("engine") if isinstance(database, dict) else None
    return ENGINE_NAMES.get(engine or "mariadb", str(engine))


def methodology(run: Run) -> str:
    """The method, written once in methodology.md, with this run's limits and levels filled in."""
    profile = run.info.get("profile") or {}
    placement = run.meta("placement") if isinstance(run.meta("placement"), dict) else {}
    values = {
        "levels": _levels(profile),
        "tools": ", ".join(run.info.get("tools") or []) or UNKNOWN,
        "limiter": _plain(run.meta("limiter")),
        "server_memory": _bytes(placement.get("server_memory_bytes")),
        "rounds": _rounds(run),
        **{k: _plain(profile.get(k)) for k in ("duration_s", "max_window_s")},
        "min_completions": str(MIN_COMPLETIONS_PER_CONNECTION),
        "steady_tolerance": f"{STEADY_TOLERANCE:.0%}",
        "noise_rule": validity.noise_rule(run),
        "confidence": f"{stats.CONFIDENCE:.0%}",
        "min_rounds": str(stats.MIN_ROUNDS),
        **{k: _plain(placement.get(k))
           for k in ("server_cpus", "server_cpu_quota", "client_cpus", "db_cpus")},
        "database": engine_name(run),
        "database_log": {"PostgreSQL": "statement log (log_statement=all, read from its CSV log)"}.get(
            engine_name(run), "general query log"),
    }
    text = Template(METHODOLOGY.read_text(encoding="utf-8")).safe_substitute(values).strip()
    if not run.app:
        return text
    heading, _, rest = text.partition("\n")
    return "\n".join([heading, "", APP_PREFACE.format(name=markdown.plain(str(run.app.get("name")))), rest])


# What differs in a run of an app file's project (bench run --app, docs/app-file.md).
APP_PREFACE = ("**This run measured app `{name}`, not the demo.** Its Django stacks served the app's own project, "
               "started by the app's Python in its folder under the same limits, rounds and validity rules as "
               "below. What below is about the demo does not apply: the app's gate checks each request's status, "
               "content type and body (Verification); no statement is audited; the lab's database was not used, "
               "so the database figures are the CPU of the app file's `database_processes` on this machine, or "
               "empty when it names none.")


def verification(run: Run) -> str:
    """Per stack: the gate's outcome, failed checks, server command and statements per request."""
    rows, failures, commands, statements = [], [], [], []
    for stack, info in run.stacks.items():
        check = info.get("verification") or {}
        checks = check.get("checks") or []
        passed = sum(bool(c.get("passed")) for c in checks)
        status = markdown.plain(info.get("status", UNKNOWN))
        if info.get("reason"):
            status = f"**{status}**: {markdown.plain(info['reason'])}"
        verdict = {True: "passed", False: "**failed**"}.get(check.get("passed"), "not recorded")
        rows.append((markdown.plain(stack), status, verdict, f"{passed}/{len(checks)}",
                     markdown.plain(check.get("summary") or "")))
        failures += [f"- {markdown.code_span(stack)} failed **{markdown.plain(c.get('name'))}**: "
                     f"{markdown.plain(c.get('detail') or 'no detail')}"
                     for c in checks if not c.get("passed")]
        command = info.get("server_command")
        if command:
            shown = shlex.join(str(part) for part in command) if isinstance(command, list) else str(command)
            commands.append(f"- {markdown.code_span(stack)}: {markdown.code_span(shown)}")
        for endpoint, counts in sorted((check.get("statements_per_request") or {}).items(),
                                       key=lambda item: endpoint_sort_key(item[0])):
            cells = (stack, endpoint_title(endpoint), _counts(counts.get("workload")),
                     _counts(counts.get("transaction_control")), _counts(counts.get("connection_setup")),
                     _plain(counts.get("connections")))
            statements.append(tuple(markdown.plain(cell) for cell in cells))
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
