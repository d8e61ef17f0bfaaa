"""Plain sentences from the verdicts: "ASGI or WSGI for Django?" and "where does FastAPI
stand?", one bullet per endpoint. Written so a reader cannot over-read them: every ratio
comes with its 95 % interval and the rounds behind it, "within noise" means the interval
contains 1, too few rounds say "no verdict" rather than guess, and a verdict drawn from
a flagged level says what the flag means (a client-bound or db-bound level measures the
set-up, not the stack).
"""

from __future__ import annotations

import math

import pandas as pd

from bench.analysis import markdown, stats, verdicts
from bench.analysis.stacks import endpoint_sort_key, endpoint_title, stack_label
from bench.analysis.verdicts import LevelVerdict
from bench.schema import Flag
from lab.stacks import DJANGO_ASGI, DJANGO_WSGI, FASTAPI, STACKS

# What a flag on counted rows means for a verdict drawn from them.
CAUTIONS = {
    Flag.CLIENT_BOUND: "are client-bound (the load generator used over 80 % of its CPUs): they measure the "
                       "client, not the stack",
    Flag.DB_BOUND: "are db-bound (the database server used over 80 % of its CPUs): they measure the database set-up, "
                   "not the stack",
    Flag.SHARED_CPUS_BOUND: "are shared-CPU-bound (the database, the latency relay and the load generator used over "
                            "80 % of the CPUs they share): they measure the database side, not the stack",
    Flag.ERRORS: "had failed requests",
    Flag.DB_OPEN_TRANSACTIONS: "left transactions open in the database",
    Flag.DB_BACKLOG_GROWTH: ("let the database's backlog grow (InnoDB's history list, or the age of PostgreSQL's "
                            "oldest snapshot)"),
}
SHORT = {s.id: s.short for s in STACKS.values()}


def fmt_rps(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def fmt_ms(value: float) -> str:
    """Two or three significant figures below 100, whole numbers above; never scientific notation."""
    if math.isnan(value):
        return "n/a"
    digits = 0 if value >= 100 else 1 if value >= 10 else 2 if value >= 1 else 3
    return f"{value:,.{digits}f}"


def fmt_ratio(value: float) -> str:
    """2.00×, 0.98×; three significant figures below 0.1 (0.0153×) so a small ratio keeps its digits."""
    if math.isnan(value):
        return "n/a"
    return f"{value:.2f}×" if value >= 0.1 else f"{value:.3g}×"


def fmt_interval(estimate: stats.Estimate) -> str:
    """`0.98× [0.95–1.01]`, or the estimate with "[no interval]" when there is none."""
    if not estimate.has_interval:
        return f"{fmt_ratio(estimate.estimate)} [no interval]"
    return f"{fmt_ratio(estimate.estimate)} [{fmt_ratio(estimate.low)[:-1]}–{fmt_ratio(estimate.high)[:-1]}]"


def short(stack: str) -> str:
    return SHORT.get(stack, stack_label(stack))


def outcome(level: LevelVerdict) -> str:
    """Who is ahead, or "within noise", or "no verdict", with the reason."""
    verdict = level.verdict
    if verdict.kind is stats.Kind.NO_VERDICT:
        return f"**no verdict**: only {verdict.n} counted round(s), {stats.MIN_ROUNDS} needed"
    if verdict.kind is stats.Kind.WITHIN_NOISE:
        return "**within noise** (the interval contains 1)"
    winner = level.a if verdict.kind is stats.Kind.AHEAD else level.b
    return f"**{short(winner)} ahead** ({verdict.reason})"


def compact(level: LevelVerdict) -> str:
    """`wrk c=8: 0.98× [0.95–1.01], n=4, within noise` for the 'other levels' lists."""
    verdict = level.verdict
    if verdict.n == 0:
        return f"{level.tool} c={level.concurrency}: no round counted both"
    word = {stats.Kind.AHEAD: f"{short(level.a)} ahead", stats.Kind.BEHIND: f"{short(level.b)} ahead"}.get(
        verdict.kind, str(verdict.kind))
    marks = sorted({f for side in (level.a_level, level.b_level) if side is not None for f in side["flags"]
                    if f in CAUTIONS})
    flagged = f" (flagged {', '.join(marks)})" if marks else ""
    return f"{level.tool} c={level.concurrency}: {fmt_interval(verdict)}, n={verdict.n}, {word}{flagged}"


def cautions(level: LevelVerdict) -> list[str]:
    """What the flags and exclusions at this level mean for its verdict."""
    notes = []
    for side in (level.a_level, level.b_level):
        if side is None:
            continue
        where = f"{stack_label(side['stack'])}'s counted {side['tool']} rows at c={side['concurrency']}"
        notes += [f"{where} {CAUTIONS[flag]}" for flag in CAUTIONS if flag in side["flags"]]
        if side["excluded"]:
            notes.append(f"{side['excluded']} {stack_label(side['stack'])} row(s) at this level are counted "
                         "nowhere (see Noise and validity)")
    return notes


def _with_cautions(sentence: str, levels: list[LevelVerdict]) -> str:
    notes = [note for level in levels for note in cautions(level)]
    if not notes:
        return sentence
    return sentence + " **Caution:** " + "; ".join(dict.fromkeys(notes)) + "."


def _absent(stack: str, stacks: dict[str, dict]) -> str:
    info = stacks.get(stack)
    if info is None:
        return f"{stack_label(stack)} is not in this run"
    if info.get("status") in ("skipped", "failed"):
        reason = markdown.plain(info.get("reason") or "no reason recorded")
        return f"{stack_label(stack)} was {info['status']} ({reason})"
    return f"{stack_label(stack)} has no rows at this level"


def _headline_and_others(found: dict, endpoint: str, tool: str,
                         level: int) -> tuple[LevelVerdict | None, list[LevelVerdict]]:
    """The verdict at the headline level (None when either stack has no rows there), and the
    endpoint's other levels where both have rows (every tool)."""
    head = found.get((endpoint, tool, level))
    others = [v for v in verdicts.at_levels(found, endpoint) if v is not head and v.measured]
    return (head if head is not None and head.measured else None), others


def _no_comparison(found: dict, key: tuple[str, str, int], a: str, b: str, stacks: dict[str, dict]) -> str:
    """Which side has no rows at this level, and why when run.json says."""
    level = found.get(key)
    sides = ((a, level.a_level if level else None), (b, level.b_level if level else None))
    return "no comparison: " + "; ".join(_absent(s, stacks) for s, row in sides if row is None)


def _ratio_clause(level: LevelVerdict) -> str:
    if level.verdict.n == 0:
        return f"{short(level.a)}/{short(level.b)}: **no verdict**, no round counted both stacks"
    return (f"{short(level.a)}/{short(level.b)} = **{fmt_interval(level.verdict)}** over "
            f"{level.verdict.n} round(s): {outcome(level)}")


def asgi_vs_wsgi(rows: pd.DataFrame, levels: pd.DataFrame, stacks: dict[str, dict]) -> list[str]:
    """A tally, then one bullet per endpoint: Django under ASGI against Django under WSGI."""
    tool = verdicts.primary_tool(rows)
    if tool is None:
        return ["No level produced a counted measurement, so there is nothing to compare."]
    wsgi, asgi = DJANGO_WSGI, DJANGO_ASGI
    missing = [s for s in (wsgi, asgi) if s not in set(levels["stack"])]
    if missing:
        return [(f"No comparison: {'; '.join(_absent(s, stacks) for s in missing)}. To compare two "
                 "runs (e.g. one served with USE_ASGI=false, one with USE_ASGI=true), use "
                 "`python -m bench compare`.")]
    found = verdicts.pair_verdicts(rows, levels, asgi, wsgi)
    chosen = verdicts.verdict_levels(levels)
    lines, tally = [], {kind: 0 for kind in stats.Kind}
    for endpoint in sorted(levels["endpoint"].unique(), key=endpoint_sort_key):
        if (endpoint, tool) not in chosen:
            continue
        level = chosen[(endpoint, tool)]
        head, others = _headline_and_others(found, endpoint, tool, level)
        title = f"**{endpoint_title(endpoint)}** ({tool}, c={level}): "
        if head is None:
            lines.append(title + _no_comparison(found, (endpoint, tool, level), asgi, wsgi, stacks) + ".")
            continue
        tally[head.verdict.kind] += 1
        a, b = head.a_level, head.b_level
        sentence = (f"{title}{_ratio_clause(head)}. Throughput (geometric mean): WSGI {fmt_rps(b['rps_gmean'])}, "
                    f"ASGI {fmt_rps(a['rps_gmean'])} RPS; server CPU per request (median): WSGI "
                    f"{fmt_ms(b['server_cpu_ms_per_req_median'])} ms, ASGI {fmt_ms(a['server_cpu_ms_per_req_median'])}"
                    " ms.")
        if others:
            sentence += " Other levels: " + "; ".join(compact(o) for o in others) + "."
        lines.append(_with_cautions(sentence, [head]))
    return [_tally(tally, tool)] + lines if sum(tally.values()) else lines


def _tally(tally: dict[stats.Kind, int], tool: str) -> str:
    return (f"Over {sum(tally.values())} endpoint(s) ({tool}, each at its headline level): ASGI ahead on "
            f"{tally[stats.Kind.AHEAD]}, WSGI ahead on {tally[stats.Kind.BEHIND]}, within noise on "
            f"{tally[stats.Kind.WITHIN_NOISE]}, no verdict on {tally[stats.Kind.NO_VERDICT]}.")


def fastapi_stands(rows: pd.DataFrame, levels: pd.DataFrame, stacks: dict[str, dict]) -> list[str]:
    """One bullet per endpoint: FastAPI against each Django stack measured there."""
    tool = verdicts.primary_tool(rows)
    if tool is None:
        return []
    fastapi = FASTAPI
    if fastapi not in set(levels["stack"]):
        return [f"No answer from this run: {_absent(fastapi, stacks)}."]
    chosen = verdicts.verdict_levels(levels)
    against = {d: verdicts.pair_verdicts(rows, levels, fastapi, d)
               for d in (DJANGO_WSGI, DJANGO_ASGI)}
    lines = []
    for endpoint in sorted(levels["endpoint"].unique(), key=endpoint_sort_key):
        if (endpoint, tool) not in chosen:
            continue
        level = chosen[(endpoint, tool)]
        heads, parts, others = [], [], []
        for django, found in against.items():
            head, rest = _headline_and_others(found, endpoint, tool, level)
            if head is None:
                parts.append(f"against {stack_label(django)}: "
                             + _no_comparison(found, (endpoint, tool, level), fastapi, django, stacks))
                continue
            heads.append(head)
            parts.append(_ratio_clause(head))
            others += [f"vs {short(django)} {compact(o)}" for o in rest]
        sentence = f"**{endpoint_title(endpoint)}** ({tool}, c={level}): " + "; ".join(parts) + "."
        if others:
            sentence += " Other levels: " + "; ".join(others) + "."
        lines.append(_with_cautions(sentence, heads))
    return lines
