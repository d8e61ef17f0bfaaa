"""A run with more than one server (the `servers` profile): Django ASGI against WSGI on
each server pair, and every stack's /ping/ beside its server's own ceiling, the
framework-free app on the same server, interface, CPU quota and rounds (lab/stacks.py
`ceiling`). All ratios are paired within rounds, with 95 % intervals (verdicts.py).
Servers that ab cannot measure validly are named once, with the reason."""

from __future__ import annotations

import pandas as pd

from bench.analysis import markdown, verdicts
from bench.analysis.frames import Run
from bench.analysis.sentences import fmt_interval
from bench.analysis.stacks import endpoint_sort_key, endpoint_title, stack_label, stack_sort_key
from bench.load_tools import TOOLS
from bench.load_tools.base import LoadTool
from lab.stacks import STACKS

# Django ASGI against WSGI on each server, as people deploy them.
DJANGO_PAIRS = (("django-asgi", "django-wsgi", "Granian (ASGI and WSGI)"),
                ("django-asgi-uvicorn", "django-wsgi-gunicorn", "uvicorn (ASGI) against gunicorn gthread (WSGI)"))
CEILING_HEADERS = ("stack", "server", "its ceiling", "stack RPS [95 %]", "share of the ceiling [95 %]", "verdict")


def applies(run: Run) -> bool:
    """More than one server among the run's stacks."""
    return len({STACKS[s].server for s in run.rows["stack"].unique() if s in STACKS}) > 1


def _headline(found: dict, levels: pd.DataFrame, tool: str, endpoint: str) -> verdicts.LevelVerdict | None:
    level = verdicts.verdict_levels(levels).get((endpoint, tool))
    return found.get((endpoint, tool, level)) if level is not None else None


def django_pairs(run: Run, levels: pd.DataFrame, tool: str) -> list[str]:
    lines = []
    present = set(run.rows["stack"])
    for asgi, wsgi, where in DJANGO_PAIRS:
        if not {asgi, wsgi} <= present:
            continue
        found = verdicts.pair_verdicts(run.rows, levels, asgi, wsgi)
        parts = []
        for endpoint in sorted(set(levels["endpoint"]), key=endpoint_sort_key):
            head = _headline(found, levels, tool, endpoint)
            if head is not None and head.measured:
                parts.append(f"{endpoint_title(endpoint)} **{fmt_interval(head.verdict)}** "
                             f"({head.verdict.n} rounds, {head.verdict.kind})")
        lines.append(f"On {where}: ASGI/WSGI throughput: " + ("; ".join(parts) or "no round counted both") + ".")
    return lines


def ceiling_rows(run: Run, levels: pd.DataFrame, tool: str) -> list[tuple]:
    rows = []
    present = set(run.rows["stack"])
    for stack in sorted(present, key=stack_sort_key):
        entry = STACKS.get(stack)
        if entry is None or entry.ceiling is None or entry.ceiling not in present:
            continue
        head = _headline(verdicts.pair_verdicts(run.rows, levels, stack, entry.ceiling), levels, tool, "ping")
        if head is None or not head.measured:
            continue
        level = head.a_level
        rps = (f"{level['rps_gmean']:,.0f} [{level['rps_low']:,.0f}–{level['rps_high']:,.0f}]"
               if level is not None and level["rounds"] else "no counted round")
        rows.append((stack_label(stack), entry.server, stack_label(entry.ceiling), rps, fmt_interval(head.verdict),
                     f"{head.verdict.kind} ({head.verdict.n} rounds)"))
    return rows


def tool_notes(run: Run, tool: LoadTool) -> list[str]:
    """Each reason `tool` cannot measure some servers, once, with the stacks it concerns."""
    measured = set(run.rows.loc[run.rows["tool"] == str(tool.id), "stack"])
    notes: dict[str, list[str]] = {}
    for stack in sorted(measured, key=stack_sort_key):
        entry = STACKS.get(stack)
        note = tool.stack_note(entry) if entry is not None else None
        if note:
            notes.setdefault(note, []).append(stack_label(stack))
    return [f"{', '.join(stacks)}: {note}." for note, stacks in notes.items()]


def section(run: Run, levels: pd.DataFrame) -> str:
    """`## Servers` ("" when the run has one server)."""
    if not applies(run):
        return ""
    tool = verdicts.primary_tool(run.rows)
    if tool is None:
        return "## Servers\n\nNo counted measurement."
    parts = ["## Servers",
             ("Django ASGI against WSGI on each server, every endpoint at its headline level; then every stack's "
              "`/ping/` beside its server's ceiling: the framework-free app (lab/stacks.py) on the same server, "
              "interface, CPU quota and rounds. The share is the paired per-round ratio stack/ceiling with its "
              "95 % interval: what is left of the server's own rate once the framework runs."),
             "\n".join(f"- {line}" for line in django_pairs(run, levels, tool)) or "- No Django pair measured."]
    rows = ceiling_rows(run, levels, tool)
    parts.append(markdown.table(CEILING_HEADERS, rows) if rows else "No stack measured beside its ceiling.")
    for tool in TOOLS.values():
        notes = tool_notes(run, tool)
        if notes:
            parts.append(f"{tool.label}: " + " ".join(notes))
    return "\n\n".join(parts)
