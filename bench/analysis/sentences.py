"""Plain sentences from the data: "ASGI or WSGI for Django?" per endpoint, and "where
does FastAPI stand?". Written so a reader cannot over-read them: two stacks whose
repeats overlap are "within noise", a single repeat says the noise is unknown, and a
conclusion drawn from a flagged level says what the flag means (a client-bound or
db-bound level measures the set-up, not the stack).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from bench.analysis.stacks import endpoint_sort_key, endpoint_title, stack_label
from bench.schema import Flag, Stack

# What a flag on a best level means for a conclusion drawn from it.
CAUTIONS = {
    Flag.CLIENT_BOUND: "is client-bound (the load generator used over 80 % of its CPUs): it measures the "
                       "client, not the stack",
    Flag.DB_BOUND: "is db-bound (MariaDB used over 80 % of its CPUs): it measures the database set-up, "
                   "not the stack",
    Flag.ERRORS: "had failed requests",
    Flag.DB_OPEN_TRANSACTIONS: "left transactions open in MariaDB",
    Flag.DB_HISTORY_GROWTH: "let InnoDB's history list grow",
}


def fmt_rps(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def fmt_ms(value: float) -> str:
    """Two or three significant figures below 100, whole numbers above; never scientific notation."""
    if math.isnan(value):
        return "n/a"
    digits = 0 if value >= 100 else 1 if value >= 10 else 2 if value >= 1 else 3
    return f"{value:,.{digits}f}"


@dataclass(frozen=True)
class Comparison:
    """Stack `a` against stack `b` at each one's best level, on one endpoint and tool."""

    a: pd.Series
    b: pd.Series

    @property
    def ratio(self) -> float:
        return self.a["rps_median"] / self.b["rps_median"]

    @property
    def overlap(self) -> bool:
        return self.a["rps_min"] <= self.b["rps_max"] and self.b["rps_min"] <= self.a["rps_max"]

    @property
    def single_repeat(self) -> bool:
        return min(self.a["repeats"], self.b["repeats"]) < 2

    def verdict(self) -> str:
        """Who is ahead and by how much, or "within noise"."""
        a, b = stack_label(self.a["stack"]), stack_label(self.b["stack"])
        if self.single_repeat:
            noise = " (one repeat only, so the noise is unknown)"
        elif self.overlap:
            return (f"within noise: the repeats' ranges overlap ({_range(self.a)} vs {_range(self.b)} RPS; "
                    f"medians {self.ratio:.2f}×)")
        else:
            noise = ""
        if f"{self.ratio:.2f}" == "1.00":
            return f"{a} and {b} are level (1.00×){noise}"
        if self.ratio >= 1:
            return f"{a} is ahead at {self.ratio:.2f}× {b}'s throughput{noise}"
        return f"{b} is ahead at {1 / self.ratio:.2f}× {a}'s throughput{noise}"

    def cautions(self) -> list[str]:
        notes = []
        for side in (self.a, self.b):
            where = f"{stack_label(side['stack'])}'s best {side['tool']} level (c={side['concurrency']})"
            notes += [f"{where} {CAUTIONS[flag]}" for flag in CAUTIONS if flag in side["flags"]]
            if side["series_set_aside"]:
                notes.append(f"{side['series_set_aside']} {stack_label(side['stack'])} {side['tool']} row(s) "
                             f"on this endpoint failed or were invalid and are not counted")
        return notes


def _range(row: pd.Series) -> str:
    return f"{fmt_rps(row['rps_min'])}–{fmt_rps(row['rps_max'])}"


def _peak(row: pd.Series) -> str:
    return f"{fmt_rps(row['rps_median'])} RPS at c={row['concurrency']}"


def _with_cautions(sentence: str, comparisons: list[Comparison]) -> str:
    notes = [note for c in comparisons for note in c.cautions()]
    if not notes:
        return sentence
    return sentence + " **Caution:** " + "; ".join(dict.fromkeys(notes)) + "."


def _best(best: pd.DataFrame, stack: str, endpoint: str, tool: str) -> pd.Series | None:
    hit = best[(best["stack"] == stack) & (best["endpoint"] == endpoint) & (best["tool"] == tool)]
    return None if hit.empty else hit.iloc[0]


def _absent(stack: str, stacks: dict[str, dict]) -> str:
    info = stacks.get(stack)
    if info is None:
        return f"{stack_label(stack)} is not in this run"
    if info.get("status") in ("skipped", "failed"):
        return f"{stack_label(stack)} was {info['status']} ({info.get('reason') or 'no reason recorded'})"
    return f"{stack_label(stack)} has no valid measurement here"


def primary_tool(best: pd.DataFrame) -> str | None:
    """wrk when the run has it (multi-threaded, HTTP/1.1, sub-millisecond percentiles), else ab."""
    tools = list(dict.fromkeys(best["tool"]))
    return "wrk" if "wrk" in tools else (tools[0] if tools else None)


def asgi_vs_wsgi(best: pd.DataFrame, stacks: dict[str, dict]) -> list[str]:
    """One sentence per endpoint: Django under ASGI against Django under WSGI."""
    tool = primary_tool(best)
    if tool is None:
        return ["No level produced a valid measurement, so there is nothing to compare."]
    wsgi, asgi = Stack.DJANGO_WSGI.value, Stack.DJANGO_ASGI.value
    missing = [s for s in (wsgi, asgi) if s not in set(best["stack"])]
    if missing:
        return [(f"No comparison: {'; '.join(_absent(s, stacks) for s in missing)}. To compare two "
                 "runs (e.g. one served with USE_ASGI=false, one with USE_ASGI=true), use "
                 "`python -m bench compare`.")]
    lines, tally = [], {"WSGI": 0, "ASGI": 0, "within noise": 0}
    flagged_verdicts = 0
    for endpoint in sorted(best["endpoint"].unique(), key=endpoint_sort_key):
        head = f"**{endpoint_title(endpoint)}** ({tool}): "
        w, a = _best(best, wsgi, endpoint, tool), _best(best, asgi, endpoint, tool)
        if w is None or a is None:
            missing = [s for s, row in ((wsgi, w), (asgi, a)) if row is None]
            lines.append(head + "no comparison: " + "; ".join(_absent(s, stacks) for s in missing) + ".")
            continue
        comparison = Comparison(a, w)
        others = _other_tools(best, asgi, wsgi, endpoint, tool)
        tally["within noise" if comparison.overlap and not comparison.single_repeat
              else "ASGI" if comparison.ratio >= 1 else "WSGI"] += 1
        flagged_verdicts += bool(comparison.cautions())
        sentence = (f"{head}WSGI peaks at {_peak(w)}, ASGI at {_peak(a)}: {comparison.verdict()}. "
                    f"Server CPU per request at those levels: "
                    f"WSGI {fmt_ms(w['server_cpu_ms_per_req_median'])} ms, "
                    f"ASGI {fmt_ms(a['server_cpu_ms_per_req_median'])} ms."
                    + "".join(f" {c.a['tool']}: {c.verdict()}." for c in others))
        lines.append(_with_cautions(sentence, [comparison, *others]))
    compared = sum(tally.values())
    if compared:
        summary = (f"Over {compared} endpoint(s) with both Django stacks ({tool}): WSGI ahead on "
                   f"{tally['WSGI']}, ASGI ahead on {tally['ASGI']}, within noise on {tally['within noise']}")
        if flagged_verdicts:
            summary += f"; {flagged_verdicts} of these comparisons rest on flagged levels or set-aside rows"
        lines.insert(0, summary + ".")
    return lines


def _other_tools(best: pd.DataFrame, a_stack: str, b_stack: str, endpoint: str,
                 tool: str) -> list[Comparison]:
    """The same comparison by the run's other tool(s), so a reader sees whether the tools agree."""
    others = []
    for other in dict.fromkeys(best["tool"]):
        a, b = _best(best, a_stack, endpoint, other), _best(best, b_stack, endpoint, other)
        if other != tool and a is not None and b is not None:
            others.append(Comparison(a, b))
    return others


def fastapi_stands(best: pd.DataFrame, stacks: dict[str, dict]) -> list[str]:
    """One sentence per endpoint: FastAPI against each Django stack measured there."""
    tool = primary_tool(best)
    if tool is None:
        return []
    fastapi = Stack.FASTAPI.value
    if fastapi not in set(best["stack"]):
        return [f"No answer from this run: {_absent(fastapi, stacks)}."]
    lines = []
    for endpoint in sorted(best["endpoint"].unique(), key=endpoint_sort_key):
        head = f"**{endpoint_title(endpoint)}** ({tool}): "
        f = _best(best, fastapi, endpoint, tool)
        if f is None:
            lines.append(head + _absent(fastapi, stacks) + ".")
            continue
        comparisons, parts = [], []
        for django in (Stack.DJANGO_WSGI.value, Stack.DJANGO_ASGI.value):
            d = _best(best, django, endpoint, tool)
            if d is None:
                parts.append(f"against {stack_label(django)}: no comparison, {_absent(django, stacks)}")
                continue
            comparisons.append(Comparison(f, d))
            parts.append(f"against {stack_label(django)} ({_peak(d)}): {comparisons[-1].verdict()}")
        sentence = (f"{head}FastAPI peaks at {_peak(f)}, server CPU "
                    f"{fmt_ms(f['server_cpu_ms_per_req_median'])} ms per request; " + "; ".join(parts) + ".")
        lines.append(_with_cautions(sentence, comparisons))
    return lines
