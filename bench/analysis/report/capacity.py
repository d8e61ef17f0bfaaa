"""Capacity along a sweep: at each value of the axis (the database round trip), each stack at
its best measured setting and connections, and the stacks compared there. It answers the
expert's first question to "async pays off at 5 ms": *did you give WSGI more threads, and
enough clients?*

A stack's capacity at a setting is the highest throughput among its levels there (every
value of the limits the run varied: WSGI threads, FastAPI's pool or sync threads, and
every concurrency) that counted in at least MIN_ROUNDS rounds, leaving out any level the
client's connections bound while the server had headroom (sweep.client_limited): such a
level measures the load, not the stack. Two stacks' capacities are compared as the paired
ratio of their best levels' throughput in the rounds that counted both, as every other
ratio of the lab (rounds interleave the stacks, so drift cancels).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from bench.analysis import markdown, stats, verdicts
from bench.analysis.frames import Run
from bench.analysis.report import sweep
from bench.analysis.sentences import fmt_interval, short
from bench.analysis.stacks import endpoint_sort_key, endpoint_title, stack_label
from lab.stacks import DJANGO_ASGI, DJANGO_WSGI

SETUP_BINDS = ("the database's CPU", "the database side's CPU")  # sweep.binds: the set-up, not the stack
HEADERS = ("endpoint", "round trip", "stack", "best setting", "connections", "throughput (RPS) [95 %]",
           "rounds", "what binds", "settings measured")


@dataclass(frozen=True)
class Best:
    """A stack's best counted level at one value of the axis."""

    stack: str
    variant: str
    concurrency: int
    rps: float
    low: float
    high: float
    rounds: int
    binds: str
    setting: str  # its own limit there, e.g. "32 blocking threads"; "" for a stack without one
    measured: str  # every value of its own limit the run measured there, e.g. "8, 32, 64 blocking threads"

    @property
    def setup_bound(self) -> bool:
        return self.binds.startswith(SETUP_BINDS)

    def describe(self) -> str:
        own = f" with {self.setting}" if self.setting else ""
        return f"{stack_label(self.stack)}{own} at {self.concurrency} connections"


@dataclass(frozen=True)
class Point:
    """One endpoint at one value of the axis: each stack's best (or why it has none)."""

    endpoint: str
    x: float
    best: dict[str, Best]
    missing: dict[str, str]  # stack -> why it has no capacity figure here


def _limit(run: Run, stack: str, endpoint: str, variant: str) -> str:
    most, limit = sweep.in_flight_limit(run, stack, endpoint, variant)
    return "" if limit is None or math.isinf(most) else f"{most:g} {limit.what}"


def _measured(run: Run, stack: str, endpoint: str, variants: list[str]) -> str:
    found = [(sweep.in_flight_limit(run, stack, endpoint, v)) for v in variants]
    values = sorted({most for most, limit in found if limit is not None and not math.isinf(most)})
    what = next((limit.what for _, limit in found if limit is not None), "")
    return f"{', '.join(f'{v:g}' for v in values)} {what}" if values else "no limit of its own"


def points(run: Run, key: str, frame: pd.DataFrame) -> list[Point]:
    """Every endpoint x value of the axis, in order, with each stack's best level there."""
    found = []
    for (endpoint, x), here in frame.groupby(["endpoint", "x"], sort=False):
        best, missing = {}, {}
        for stack, levels in here.groupby("stack", sort=False):
            counted = levels[levels["rounds"] >= stats.MIN_ROUNDS]
            mask = [not sweep.client_limited(run, row) for _, row in counted.iterrows()]
            kept = counted.loc[pd.Series(mask, index=counted.index, dtype=bool)]
            if kept.empty:
                missing[stack] = (f"fewer than {stats.MIN_ROUNDS} counted rounds at every level"
                                  if counted.empty else
                                  f"capacity not reached: the client's connections bound every level "
                                  f"(up to {int(counted['concurrency'].max())}) while the server had headroom")
                continue
            top = kept.loc[kept["rps"].idxmax()]
            best[stack] = Best(stack, top["variant"], int(top["concurrency"]), float(top["rps"]), float(top["low"]),
                               float(top["high"]), int(top["rounds"]), sweep.binds(run, top),
                               _limit(run, stack, endpoint, top["variant"]),
                               _measured(run, stack, endpoint, list(levels["variant"].unique())))
        found.append(Point(endpoint, float(x), best, missing))
    return sorted(found, key=lambda p: (endpoint_sort_key(p.endpoint), p.x))


def ratio(run: Run, endpoint: str, a: Best, b: Best) -> stats.Verdict:
    """a's best level over b's, paired by round (the run's primary tool, counted rows)."""
    rows = run.rows[(run.rows["tool"] == verdicts.primary_tool(run.rows)) & run.rows["counted"]
                    & (run.rows["endpoint"] == endpoint)]

    def side(best: Best) -> pd.Series:
        mine = rows[(rows["stack"] == best.stack) & (rows["variant"] == best.variant)
                    & (rows["concurrency"] == best.concurrency)]
        return mine.groupby("repeat")["rps"].first()

    both = pd.concat([side(a).rename("a"), side(b).rename("b")], axis=1).dropna()
    return stats.paired_ratio(both["a"].to_numpy(dtype=float), both["b"].to_numpy(dtype=float))


def _fmt_x(key: str, x: float) -> str:
    return f"{x:g} ms" if key == sweep.LATENCY else f"{key}={x:g}"


def pair_line(run: Run, key: str, point: Point, a: str, b: str) -> str | None:
    """`at 5 ms: Django ASGI at 64 connections 16.0 RPS [..] against Django WSGI with 32 blocking
    threads at 64 connections 18.6 [..]: ASGI/WSGI 0.86x [..] (3 rounds, behind)`."""
    if a not in point.best and a not in point.missing or b not in point.best and b not in point.missing:
        return None
    head = f"{_fmt_x(key, point.x)}"
    gone = [f"{stack_label(s)}: {point.missing[s]}" for s in (a, b) if s in point.missing]
    if gone:
        return f"{head}: no verdict ({'; '.join(gone)})"
    best_a, best_b = point.best[a], point.best[b]
    verdict = ratio(run, point.endpoint, best_a, best_b)
    return (f"{head}: {best_a.describe()} {best_a.rps:.1f} RPS [{best_a.low:.1f}–{best_a.high:.1f}] against "
            f"{best_b.describe()} {best_b.rps:.1f} [{best_b.low:.1f}–{best_b.high:.1f}]: {short(a)}/{short(b)} "
            f"**{fmt_interval(verdict)}** ({verdict.n} rounds, {verdict.kind})")


def django_answer(run: Run, key: str, found: list[Point]) -> tuple[str, list[str]]:
    """The one word of "where does async pay off" from capacities (each stack at its best),
    and per endpoint the ratios behind it: the first value of the axis from which Django
    ASGI's capacity is ahead of WSGI's at every larger value."""
    parts: dict[str, list[str]] = {}
    kinds: dict[float, list[stats.Kind]] = {}
    for point in found:
        if not {DJANGO_ASGI, DJANGO_WSGI} & (set(point.best) | set(point.missing)):
            continue
        if {DJANGO_ASGI, DJANGO_WSGI} <= set(point.best):
            verdict = ratio(run, point.endpoint, point.best[DJANGO_ASGI], point.best[DJANGO_WSGI])
            text = f"**{fmt_interval(verdict)}**" if verdict.kind is stats.Kind.AHEAD else fmt_interval(verdict)
            parts.setdefault(point.endpoint, []).append(f"{_fmt_x(key, point.x)} {text}")
            kinds.setdefault(point.x, []).append(verdict.kind)
        else:
            parts.setdefault(point.endpoint, []).append(f"{_fmt_x(key, point.x)} no verdict (capacity not measured)")
            kinds.setdefault(point.x, []).append(stats.Kind.NO_VERDICT)
    lines = [f"{endpoint_title(e)} {', '.join(p)}" for e, p in parts.items()]
    if not kinds:
        return "No verdict", lines
    xs = sorted(kinds)
    ahead = [x for x in xs if all(k is stats.Kind.AHEAD for k in kinds[x])]
    from_x = next((x for x in ahead if all(all(k is stats.Kind.AHEAD for k in kinds[y]) for y in xs if y >= x)), None)
    if from_x is not None:
        return f"From {_fmt_x(key, from_x)}", lines
    if all(k is stats.Kind.NO_VERDICT for x in xs for k in kinds[x]):
        return "No verdict", lines
    return f"Not up to {_fmt_x(key, xs[-1])}", lines


def _at_last(key: str, found: list[Point]) -> str:
    """What each Django stack's best was, and what bound it, at the axis's largest value."""
    last = max((p.x for p in found), default=math.nan)
    seen = []
    for point in found:
        if point.x != last:
            continue
        for stack in (DJANGO_ASGI, DJANGO_WSGI):
            best = point.best.get(stack)
            if best is not None and (stack, best.describe()) not in [s[:2] for s in seen]:
                seen.append((stack, best.describe(), best.binds.split(" (")[0]))
    said = "; ".join(f"{describe}, bound by {binds}" for _, describe, binds in seen)
    return f" At {_fmt_x(key, last)} the best levels: {said}." if said else ""


PREFACE = "Django ASGI/WSGI throughput, each stack at its best measured setting and connections, by round trip added"


def answer_parts(run: Run, key: str, frame: pd.DataFrame) -> tuple[str, str]:
    """The one word ("From 5 ms", "Not up to 5 ms", "No verdict") and the figures behind it."""
    found = points(run, key, frame)
    word, lines = django_answer(run, key, found)
    wsgi = frame[frame["stack"] == DJANGO_WSGI]
    measured = sorted({b.measured for p in found for s, b in p.best.items() if s == DJANGO_WSGI})
    connections = sorted(int(c) for c in frame["concurrency"].unique())
    narrow = (f" The run measured Django WSGI with {' / '.join(measured)} only" if len(measured) == 1
              and "," not in measured[0] else "")
    narrow += (f"{' and' if narrow else ' The run measured'} at {connections[0]} connections only" if
               len(connections) == 1 and not wsgi.empty else "")
    narrow += (": more threads or connections can change the answer (`make bench PROFILE=latency` measures "
               "them)." if narrow else "")
    setup = sorted({p.x for p in found for s, b in p.best.items() if s in (DJANGO_ASGI, DJANGO_WSGI)
                    and b.setup_bound})
    said = [_fmt_x(key, x) for x in setup]
    where = " and ".join([", ".join(said[:-1]), said[-1]] if len(said) > 1 else said)
    caveat = (f" At {where} the database side's CPU bound a best level: there the ratio compares what each stack "
              "gets from this machine's database set-up, not the stacks' own limits." if setup else "")
    return word, "; ".join(lines) + "." + _at_last(key, found) + narrow + caveat


def answer(run: Run, key: str, frame: pd.DataFrame) -> str:
    """The first screen's "where does async pay off?", from each stack at its best measured setting."""
    word, body = answer_parts(run, key, frame)
    return f"**Where does async pay off? {word}** ({PREFACE}): {body} Details: Capacity, below."


def section(run: Run, key: str, frame: pd.DataFrame) -> str:
    """`### Capacity`: every stack's best level at every value of the axis, and each compared pair there."""
    found = points(run, key, frame)
    rows = []
    for point in found:
        for stack, best in point.best.items():
            rows.append((endpoint_title(point.endpoint), _fmt_x(key, point.x), stack_label(stack),
                         best.setting or "–", best.concurrency, f"{best.rps:.1f} [{best.low:.1f}–{best.high:.1f}]",
                         best.rounds, best.binds, best.measured))
        for stack, why in point.missing.items():
            rows.append((endpoint_title(point.endpoint), _fmt_x(key, point.x), stack_label(stack), "–", "–",
                         "no capacity figure", "–", why, "–"))
    pairs = [f"- {short(a)}/{short(b)}, {endpoint_title(p.endpoint)} {line}" for a, b in sweep.PAIRS for p in found
             if (line := pair_line(run, key, p, a, b))]
    intro = ("Each stack at its best: the highest throughput among its levels at that setting (every limit "
             f"and connection count the run measured) counted in at least {stats.MIN_ROUNDS} rounds, leaving out "
             "levels the client's connections bound while the server had headroom (they measure the load, not "
             "the stack). Ratios pair the two best levels round by round.")
    return "\n\n".join(["### Capacity: each stack at its best measured setting", intro,
                        "\n".join(pairs) or "- no pair had a capacity figure on both sides",
                        markdown.table(HEADERS, rows) if rows else "No level counted."])



def async_answer(run: Run) -> str | None:
    """The Answers' bullet for a run that swept the database round trip, else None."""
    if sweep.axis(run) != sweep.LATENCY:
        return None
    frame = sweep.table(run, sweep.LATENCY)
    if frame.empty or not {DJANGO_ASGI, DJANGO_WSGI} <= set(frame["stack"]):
        return "**Where does async pay off? No verdict**: the run did not measure both Django ASGI and WSGI."
    return answer(run, sweep.LATENCY, frame)


def measured_both(run: Run) -> bool:
    """The run swept the database round trip and measured both Django stacks along it."""
    if sweep.axis(run) != sweep.LATENCY:
        return False
    frame = sweep.table(run, sweep.LATENCY)
    return not frame.empty and {DJANGO_ASGI, DJANGO_WSGI} <= set(frame["stack"])


def sweep_section(run: Run) -> str:
    """The sweep section with its capacity part ("" when the run varied nothing)."""
    key = sweep.axis(run)
    return sweep.section(run, section(run, key, sweep.table(run, key))) if key else ""
