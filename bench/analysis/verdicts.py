"""One run's verdicts: a stack against another at each (endpoint, tool, concurrency), from
the rounds in which both were counted, and the level each endpoint's headline verdict
is read at. Pairing by round is what the interleaved design buys: both stacks met the
same machine minutes apart in the same round, so drift between rounds cancels out.

The headline ("verdict") level of an endpoint and tool is where the baseline stack
(django-wsgi, else the first stack present) was counted in the most rounds and, among
those, reached its highest geometric-mean throughput: the level the baseline is best
measured at. Every other level keeps its own verdict, shown beside it, never dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.analysis import stats
from bench.analysis.frames import round_ratios
from bench.analysis.stacks import BASELINE, stack_sort_key
from bench.load_tools import is_cross_check

LevelKey = tuple[str, str, int]  # endpoint, tool, concurrency


@dataclass(frozen=True)
class LevelVerdict:
    """Stack `a` against stack `b` at one level: the paired ratio a/b and each side's
    aggregate row (None when that stack has no rows at the level)."""

    endpoint: str
    tool: str
    concurrency: int
    a: str
    b: str
    verdict: stats.Verdict
    a_level: pd.Series | None
    b_level: pd.Series | None

    @property
    def key(self) -> LevelKey:
        return (self.endpoint, self.tool, self.concurrency)

    @property
    def measured(self) -> bool:
        """Both stacks have rows here (counted or not), so a comparison was at least attempted."""
        return self.a_level is not None and self.b_level is not None


def primary_tool(rows: pd.DataFrame) -> str | None:
    """The first tool with counted rows that does not merely cross-check another one with
    counted rows: wrk beside ab (multi-threaded, HTTP/1.1, sub-millisecond percentiles)."""
    tools = list(dict.fromkeys(rows.loc[rows["counted"], "tool"]))
    return next((t for t in tools if not is_cross_check(t, tools)), tools[0] if tools else None)


def _level_row(levels: pd.DataFrame, stack: str, key: LevelKey) -> pd.Series | None:
    endpoint, tool, concurrency = key
    hit = levels[(levels["stack"] == stack) & (levels["endpoint"] == endpoint) & (levels["tool"] == tool)
                 & (levels["concurrency"] == concurrency)]
    return None if hit.empty else hit.iloc[0]


def pair_verdicts(rows: pd.DataFrame, levels: pd.DataFrame, a: str, b: str) -> dict[LevelKey, LevelVerdict]:
    """a/b at every level where either stack has rows, in the levels' order."""
    ratios = round_ratios(rows, a, b)
    keys = levels.loc[levels["stack"].isin([a, b]), ["endpoint", "tool", "concurrency"]]
    found = {}
    for endpoint, tool, concurrency in keys.drop_duplicates().itertuples(index=False):
        key = (endpoint, tool, int(concurrency))
        pairs = ratios[(ratios["endpoint"] == endpoint) & (ratios["tool"] == tool)
                       & (ratios["concurrency"] == concurrency)]
        verdict = stats.paired_ratio(pairs["a_rps"].to_numpy(dtype=float), pairs["b_rps"].to_numpy(dtype=float))
        found[key] = LevelVerdict(endpoint, tool, int(concurrency), a, b, verdict,
                                  _level_row(levels, a, key), _level_row(levels, b, key))
    return found


def reference_stack(levels: pd.DataFrame, endpoint: str, tool: str) -> str | None:
    """django-wsgi when it has rows on this endpoint and tool, else the first stack in table order."""
    stacks = set(levels.loc[(levels["endpoint"] == endpoint) & (levels["tool"] == tool), "stack"])
    if not stacks:
        return None
    return BASELINE if BASELINE in stacks else min(stacks, key=stack_sort_key)


def verdict_levels(levels: pd.DataFrame) -> dict[tuple[str, str], int]:
    """(endpoint, tool) -> the concurrency its headline verdict is read at (see the module)."""
    chosen = {}
    for (endpoint, tool), group in levels.groupby(["endpoint", "tool"], sort=False):
        reference = group[group["stack"] == reference_stack(levels, endpoint, tool)]
        ranked = reference.assign(gmean=reference["rps_gmean"].fillna(-np.inf)).sort_values(
            ["rounds", "gmean", "concurrency"], ascending=[False, False, True], kind="stable")
        chosen[(endpoint, tool)] = int(ranked.iloc[0]["concurrency"])
    return chosen


def at_levels(found: dict[LevelKey, LevelVerdict], endpoint: str,
              tool: str | None = None) -> Iterator[LevelVerdict]:
    """The verdicts of one endpoint (and tool), in level order."""
    for key, verdict in found.items():
        if key[0] == endpoint and tool in (None, key[1]):
            yield verdict
