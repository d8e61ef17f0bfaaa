"""The figures of `python -m bench compare`, as plain frames: run against run with Welch
intervals, each run's own stack ratios side by side, and each run's machine-speed probe.

Two runs share no rounds, so nothing pairs across them: a run-vs-run ratio is a ratio
of geometric means with a Welch interval (stats.welch_ratio), which is wider than the
paired interval inside a run. That is why the within-run ratios are shown too: "ASGI/WSGI
in A" against "ASGI/WSGI in B" compares two paired estimates, each with its own interval,
and says whether each estimate lies inside the other's interval. That test is strict:
two runs measuring the same ratio with equal, honest 95 % intervals each hold the other's
estimate only about 5 times in 6 (A − B scatters by σ√2, and |A − B| < 1.96σ holds with
probability P(|Z| < 1.39) = 0.83). Whether they disagree is decided beside it, by the
Welch interval of one run's per-round ratios against the other's: the ratio of the
ratio. With several runs, the same ratios are pooled across them (stats.across_runs):
an interval over runs carries drift between runs, which no run's own interval can
show, and stats.run_agreement tests whether they differ. The speed probe tells whether
the machine itself was faster in one run: then every run-vs-run ratio mixes the
machine's change with the stacks'.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from bench.analysis import sentences, stats, verdicts
from bench.analysis.frames import LEVEL_KEYS, Run, aggregate, ordered, round_ratios
from bench.analysis.stacks import BASELINE, stack_sort_key


def counted_rps(run: Run) -> dict[tuple, list[float]]:
    """(stack, endpoint, tool, concurrency) -> the counted throughputs over rounds."""
    counted = run.rows[run.rows["counted"]]
    return {(s, e, t, int(c)): list(g["rps"]) for (s, e, t, c), g in counted.groupby(LEVEL_KEYS)}


def _reference(key: tuple, first: dict[tuple, list[float]]) -> tuple | None:
    """The same stack at the same level in the first run, else the first run's baseline
    (or first stack in table order) there: the manual flow compares one stack per run."""
    if key in first:
        return key
    _, endpoint, tool, concurrency = key
    there = [k[0] for k in first if k[1:] == (endpoint, tool, concurrency)]
    if not there:
        return None
    stack = BASELINE if BASELINE in there else min(there, key=stack_sort_key)
    return (stack, endpoint, tool, concurrency)


def _verdict_word(verdict: stats.Verdict) -> str:
    if verdict.kind is stats.Kind.NO_VERDICT:
        return f"no verdict (n={verdict.n})"
    return {stats.Kind.AHEAD: "faster", stats.Kind.BEHIND: "slower"}.get(verdict.kind, str(verdict.kind))


def run_vs_run(runs: list[Run], labels: list[str]) -> pd.DataFrame:
    """Every counted (run, stack, endpoint, tool, level), the first run's as references, the
    others with their ratio to the reference (see _reference) and its Welch interval."""
    first = counted_rps(runs[0])
    rows = []
    for label, run in zip(labels, runs, strict=True):
        flags = aggregate(run.rows).set_index(LEVEL_KEYS)["flags"]
        for key, values in counted_rps(run).items():
            mean = stats.geometric_interval(values)
            row = {"run": label, "stack": key[0], "endpoint": key[1], "tool": key[2], "concurrency": key[3],
                   "rounds": len(values), "throughput (RPS, geometric mean) [95 %]": _rps_interval(mean),
                   "against": "reference", "ratio [95 %]": "1", "verdict": "reference",
                   "flags": ", ".join(flags.get(key, ())) or "none"}
            reference = _reference(key, first)
            if label != labels[0]:
                if reference is None:
                    row.update({"against": f"none in {labels[0]}", "ratio [95 %]": "n/a", "verdict": "n/a"})
                else:
                    verdict = stats.welch_ratio(values, first[reference])
                    row.update({"against": f"{labels[0]} · {reference[0]}",
                                "ratio [95 %]": sentences.fmt_interval(verdict), "verdict": _verdict_word(verdict)})
            rows.append(row)
    frame = pd.DataFrame(rows)
    return ordered(frame, ["endpoint", "tool", "concurrency", "stack"]) if rows else frame


def _rps_interval(estimate: stats.Estimate) -> str:
    if not estimate.has_interval:
        return f"{sentences.fmt_rps(estimate.estimate)} [no interval]"
    return (f"{sentences.fmt_rps(estimate.estimate)} [{sentences.fmt_rps(estimate.low)}–"
            f"{sentences.fmt_rps(estimate.high)}]")


def _cell(level: verdicts.LevelVerdict | None) -> str:
    if level is None:
        return "not measured"
    if level.verdict.n == 0:
        return "no round counted both"
    return f"{sentences.fmt_interval(level.verdict)}, n={level.verdict.n}"


def _inside(estimate: stats.Verdict, interval: stats.Verdict) -> str:
    if math.isnan(estimate.estimate) or not interval.has_interval:
        return "n/a"
    slack = 1e-9  # a point interval (identical rounds) must still contain its own estimate's rounding
    inside = interval.low * (1 - slack) <= estimate.estimate <= interval.high * (1 + slack)
    return "yes" if inside else "**no**"


def _pair_verdicts(run: Run, a: str, b: str) -> dict:
    levels = aggregate(run.rows)
    return {k: v for k, v in verdicts.pair_verdicts(run.rows, levels, a, b).items() if v.measured}


def _per_round_ratios(run: Run, a: str, b: str) -> dict[tuple, list[float]]:
    """(endpoint, tool, concurrency) -> a/b in each round that counted both."""
    ratios = round_ratios(run.rows, a, b)
    return {(e, t, int(c)): list(g["ratio"]) for (e, t, c), g in ratios.groupby(["endpoint", "tool", "concurrency"])}


def _agreement(later: list[float], first: list[float]) -> str:
    """The ratio of a later run's ratio to the first run's, with its Welch interval: the two
    runs disagree only when the interval excludes 1."""
    verdict = stats.welch_ratio(later, first)
    if verdict.kind is stats.Kind.NO_VERDICT:
        return f"{sentences.fmt_interval(verdict)}, no verdict (n={verdict.n})"
    word = "agree" if verdict.kind is stats.Kind.WITHIN_NOISE else "**disagree**"
    return f"{sentences.fmt_interval(verdict)}, {word}"


def within_run(runs: list[Run], labels: list[str], a: str, b: str) -> pd.DataFrame:
    """a/b inside each run (paired rounds) at every level any run measured both, side by side;
    for each later run, whether its estimate lies in the first run's interval and back, and
    the ratio of its a/b to the first run's with a Welch interval: whether the runs agree."""
    found = [_pair_verdicts(run, a, b) for run in runs]
    per_round = [_per_round_ratios(run, a, b) for run in runs]
    keys = list(dict.fromkeys(k for f in found for k in f))
    rows = []
    for key in keys:
        endpoint, tool, concurrency = key
        row = {"endpoint": endpoint, "tool": tool, "concurrency": concurrency}
        cells = [f.get(key) for f in found]
        for label, level in zip(labels, cells, strict=True):
            row[label] = _cell(level)
        for label, level, ratios in zip(labels[1:], cells[1:], per_round[1:], strict=True):
            both = level is not None and cells[0] is not None
            row[f"{label} in {labels[0]}'s interval"] = _inside(level.verdict, cells[0].verdict) if both else "n/a"
            row[f"{labels[0]} in {label}'s interval"] = _inside(cells[0].verdict, level.verdict) if both else "n/a"
            row[f"{label}/{labels[0]} of the ratio [95 %]"] = (
                _agreement(ratios[key], per_round[0][key]) if key in ratios and key in per_round[0] else "n/a")
        rows.append(row)
    frame = pd.DataFrame(rows)
    return ordered(frame, ["endpoint", "tool", "concurrency"]) if rows else frame


@dataclass(frozen=True)
class Pooled:
    """a/b at one level over several runs: each run's own estimate (by label), the estimate
    over runs (stats.across_runs) and whether the runs agree (stats.run_agreement)."""

    each: tuple[tuple[str, float], ...]
    verdict: stats.Verdict
    agreement: stats.RunAgreement


def pooled_ratios(runs: list[Run], labels: list[str], a: str, b: str) -> dict[tuple[str, str, int], Pooled]:
    """(endpoint, tool, concurrency) -> a/b pooled over the runs that measured both there,
    wherever two or more did."""
    per_round = [_per_round_ratios(run, a, b) for run in runs]
    pooled = {}
    for key in dict.fromkeys(k for found in per_round for k in found):
        measured = [(label, found[key]) for label, found in zip(labels, per_round, strict=True) if key in found]
        if len(measured) >= 2:
            values = [ratios for _, ratios in measured]
            each = tuple((label, stats.geometric_interval(ratios).estimate) for label, ratios in measured)
            pooled[key] = Pooled(each, stats.across_runs(values), stats.run_agreement(values))
    return pooled


def across_runs(runs: list[Run], labels: list[str], a: str, b: str) -> pd.DataFrame:
    """a/b at every level two or more runs measured both: each run's estimate, one estimate
    over runs whose interval takes their drift into account, and whether the runs differ
    by more than their rounds explain."""
    return across_frame(pooled_ratios(runs, labels, a, b))


def across_frame(pooled: dict[tuple[str, str, int], Pooled]) -> pd.DataFrame:
    """The table of pooled_ratios' figures, one row per level."""
    rows = [{"endpoint": endpoint, "tool": tool, "concurrency": concurrency,
             "each run": ", ".join(f"{label} {sentences.fmt_ratio(value)}" for label, value in found.each),
             "across runs [95 %]": f"{sentences.fmt_interval(found.verdict)}, {_pooled_word(found.verdict)}",
             "runs scatter (sd) / rounds predict": _scatter(found.agreement),
             "runs alike?": _alike(found.agreement)}
            for (endpoint, tool, concurrency), found in pooled.items()]
    frame = pd.DataFrame(rows)
    return ordered(frame, ["endpoint", "tool", "concurrency"]) if rows else frame


def _pooled_word(verdict: stats.Verdict) -> str:
    if verdict.kind is stats.Kind.NO_VERDICT:
        return f"no verdict ({verdict.n} runs, {stats.MIN_RUNS} needed)"
    return str(verdict.kind)


def _scatter(agreement: stats.RunAgreement) -> str:
    if math.isnan(agreement.scatter):
        return "n/a"
    return f"±{math.expm1(agreement.scatter):.1%} / ±{math.expm1(agreement.expected):.1%}"


def _alike(agreement: stats.RunAgreement) -> str:
    if math.isnan(agreement.p_value):
        return "n/a"
    if agreement.differ:
        return f"**no** (p = {agreement.p_value:.3f}): they drift apart by more than their rounds explain"
    return f"yes (p = {agreement.p_value:.2f})"


def speed_table(runs: list[Run], labels: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """Each run's speed probe (median, min, max, CV) and its Welch ratio to the first run's;
    plus a loud line for each run whose speed differs from the first run's beyond noise."""
    first = runs[0].speeds
    rows, loud = [], []
    for label, run in zip(labels, runs, strict=True):
        spread = stats.spread(run.speeds)
        verdict = stats.welch_ratio(run.speeds, first)
        ratio = "reference" if label == labels[0] else (
            f"{sentences.fmt_interval(verdict)}, {_verdict_word(verdict)}")
        rows.append({"run": label, "rounds probed": spread.n, "median": _num(spread.median),
                     "min": _num(spread.low), "max": _num(spread.high),
                     "CV": "n/a" if math.isnan(spread.cv) else f"{spread.cv:.1%}",
                     f"ratio to {labels[0]} [95 %]": ratio})
        if label != labels[0] and verdict.kind in (stats.Kind.AHEAD, stats.Kind.BEHIND):
            loud.append(f"the machine-speed probe of run {label} is {sentences.fmt_interval(verdict)} of run "
                        f"{labels[0]}'s: the machine ran at a different speed, and every ratio between these runs "
                        "carries that difference")
    return pd.DataFrame(rows), loud


def _num(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:,.1f}"
