"""The report's precision table: for each headline ratio, how wide its interval came out,
how much one round scatters (read back from the interval), and how many rounds would
bring it to ±10 % on a machine as noisy as this run's. A machine that scatters more needs
more rounds; this table says how many, so a reader can pick a profile (or `--repeats`)
instead of trusting a width that was luck.
"""

from __future__ import annotations

import math

import pandas as pd

from bench.analysis import markdown, stats, verdicts
from bench.analysis.frames import Run
from bench.analysis.sentences import fmt_interval, short
from bench.analysis.stacks import PAIRS, endpoint_sort_key, endpoint_title
from bench.profiles import PROFILES

COMPARED = "standard"  # the profile whose rounds the table projects to


def rows(run: Run, levels: pd.DataFrame) -> list[tuple]:
    """One row per compared pair and endpoint, at the endpoint's headline level."""
    tool = verdicts.primary_tool(run.rows)
    if tool is None:
        return []
    chosen = verdicts.verdict_levels(levels)
    profile = PROFILES[COMPARED]
    found = []
    for a, b in PAIRS:
        if not {a, b} <= set(levels["stack"]):
            continue
        pairs = verdicts.pair_verdicts(run.rows, levels, a, b)
        for endpoint in sorted(levels["endpoint"].unique(), key=endpoint_sort_key):
            level = pairs.get((endpoint, tool, chosen.get((endpoint, tool), -1)))
            if level is None or level.verdict.n == 0:
                continue
            verdict = level.verdict
            spread = stats.log_spread(verdict)
            needed = stats.rounds_for(spread)
            projected = stats.expected_half_width(spread, profile.repeats_for(endpoint))
            found.append((f"{short(a)}/{short(b)}", endpoint_title(endpoint), f"{tool} c={level.concurrency}",
                          verdict.n, fmt_interval(verdict), _pm(stats.half_width(verdict)), _sd(spread),
                          "n/a" if needed is None else needed, _pm(projected)))
    return found


def section(run: Run, levels: pd.DataFrame) -> str:
    found = rows(run, levels)
    if not found:
        return ""
    repeats = PROFILES[COMPARED].repeats
    headers = ("ratio", "endpoint", "level", "rounds counted", "estimate [95 %]", "± reached",
               "one round's spread (sd of log ratio)", f"rounds for ±{stats.TARGET_HALF_WIDTH:.0%}",
               f"± with the {COMPARED} profile's {repeats} rounds")
    return "\n".join([
        "### Precision", "",
        ("How wide each headline ratio's interval is, and why. One round's spread is the standard deviation "
         "of the per-round log ratios, read back from the interval; the last two columns project it: the rounds "
         f"a run on a machine this noisy needs for ±{stats.TARGET_HALF_WIDTH:.0%} (`--repeats N`), and the "
         f"width the {COMPARED} profile's rounds would give (a spread read from a handful of rounds is itself "
         "rough). Two honest runs' 95 % intervals do not always hold "
         "each other's estimates (for equal widths, each does about 5 times in 6): compare runs with "
         "`python -m bench compare`, whose run-vs-run ratio of the ratio says whether they disagree."), "",
        markdown.table(headers, found)])


def _pm(value: float) -> str:
    return "n/a" if math.isnan(value) else f"±{value:.1%}"


def _sd(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3f}"
