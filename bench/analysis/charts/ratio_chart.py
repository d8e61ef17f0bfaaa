"""The summary chart: each stack's throughput ratio to the baseline (django-wsgi) per
endpoint, with its 95 % interval as an error bar, on a log-ratio axis with a line at 1x.

A ratio chart rather than bars of throughput, because the question is "how much faster,
and is that more than noise?": a bar hides the interval, a marker with an error bar that
crosses 1 shows "within noise" at a glance, and a log axis draws 0.5x and 2x the same
distance from 1. Each endpoint is read at its headline level for the primary tool (as
the report's verdicts are); a point with too few rounds for a verdict is drawn hollow,
grey-barred and says so, never dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from bench.analysis import stats, verdicts
from bench.analysis.stacks import BASELINE, endpoint_sort_key, endpoint_title, stack_label, stack_style
from bench.load_tools import DEFAULT_TOOL

NICE_TICKS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100)
NO_VERDICT_COLOUR = "#9a9a9a"


@dataclass(frozen=True)
class RatioPoint:
    endpoint: str
    stack: str
    tool: str
    concurrency: int
    verdict: stats.Verdict
    flags: tuple[str, ...]  # flags of the counted rows of both stacks at that level (client_bound, db_bound...)


def ratio_points(rows: pd.DataFrame, levels: pd.DataFrame) -> list[RatioPoint]:
    """Every non-baseline stack against the baseline, per endpoint, at the primary tool's
    headline level; empty when the run has no baseline rows."""
    tool = verdicts.primary_tool(rows)
    if tool is None or BASELINE not in set(levels["stack"]):
        return []
    chosen = verdicts.verdict_levels(levels)
    points = []
    for stack in dict.fromkeys(levels["stack"]):
        if stack == BASELINE:
            continue
        found = verdicts.pair_verdicts(rows, levels, stack, BASELINE)
        for endpoint in sorted(levels["endpoint"].unique(), key=endpoint_sort_key):
            level = found.get((endpoint, tool, chosen.get((endpoint, tool), -1)))
            if level is not None and level.measured:
                flags = tuple(sorted(set(level.a_level["flags"]) | set(level.b_level["flags"])))
                points.append(RatioPoint(endpoint, stack, tool, level.concurrency, level.verdict, flags))
    return points


def _label(point: RatioPoint) -> str:
    verdict = point.verdict

    def fmt(x: float) -> str:
        return f"{x:.2f}" if x >= 0.1 else f"{x:.3g}"

    interval = f" [{fmt(verdict.low)}–{fmt(verdict.high)}]" if verdict.has_interval else ""
    text = f"{fmt(verdict.estimate)}×{interval}  n={verdict.n}"
    if verdict.kind is stats.Kind.NO_VERDICT:
        text += "  no verdict"
    if point.flags:
        text += f"  ({', '.join(point.flags)}: see report)"
    return text


def _draw_point(ax, y: float, point: RatioPoint) -> None:
    verdict = point.verdict
    if math.isnan(verdict.estimate):
        ax.annotate("no round counted both stacks", (1.0, y), xytext=(6, 0), textcoords="offset points",
                    va="center", fontsize=8, color=NO_VERDICT_COLOUR)
        return
    no_verdict = verdict.kind is stats.Kind.NO_VERDICT
    colour = stack_style(point.stack).colour
    if verdict.has_interval:
        ax.errorbar(verdict.estimate, y, xerr=[[verdict.estimate - verdict.low], [verdict.high - verdict.estimate]],
                    fmt="none", ecolor=NO_VERDICT_COLOUR if no_verdict else colour, elinewidth=2, capsize=4)
    ax.scatter([verdict.estimate], [y], s=70, zorder=5, linewidths=1.8, edgecolors=colour,
               facecolors="white" if no_verdict else colour)
    right = verdict.high if verdict.has_interval else verdict.estimate
    ax.annotate(_label(point), (right, y), xytext=(8, 0), textcoords="offset points", va="center",
                fontsize=8, color="dimgrey" if no_verdict else "black")


def _ratio_axis(ax, points: list[RatioPoint]) -> None:
    values = [v for p in points for v in (p.verdict.low, p.verdict.estimate, p.verdict.high) if math.isfinite(v)]
    low, high = min([1.0, *values]), max([1.0, *values])
    ax.set_xscale("log")
    ax.set_xlim(low / 1.6, high * 3.5)  # room on the right for the labels
    ticks = [t for t in NICE_TICKS if low / 1.6 <= t <= high * 3.5]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}×"))
    ax.axvline(1.0, color="black", linewidth=1)
    ax.annotate(f"1× = {stack_label(BASELINE)} (baseline)", (1.0, 0), xycoords=("data", "axes fraction"),
                xytext=(4, 4), textcoords="offset points", fontsize=8, rotation=90, va="bottom")
    ax.set_xlabel(f"throughput ratio to {stack_label(BASELINE)} (log scale; bar = 95 % interval over paired "
                  "rounds; n = rounds paired)")
    ax.grid(True, axis="x", alpha=0.3)


def draw_ratios(fig: Figure, points: list[RatioPoint]) -> None:
    """The chart into `fig`: a row per endpoint (top to bottom in table order), a marker per stack."""
    ax = fig.add_axes((0.2, 0.16, 0.77, 0.72))
    tool = points[0].tool if points else DEFAULT_TOOL
    ax.set_title(f"Throughput ratio to {stack_label(BASELINE)} per endpoint, {tool}, at each endpoint's "
                 "headline level", fontsize=13)
    if not points:
        ax.text(0.5, 0.5, f"no {stack_label(BASELINE)} (or no other stack) measured in this run: no ratios",
                transform=ax.transAxes, ha="center", va="center", fontsize=13, color="grey")
        ax.set_xticks([])
        ax.set_yticks([])
        return
    endpoints = sorted({p.endpoint for p in points}, key=endpoint_sort_key)
    stacks = list(dict.fromkeys(p.stack for p in points))
    offsets = np.linspace(-0.2, 0.2, len(stacks)) if len(stacks) > 1 else [0.0]
    for point in points:
        y = endpoints.index(point.endpoint) + offsets[stacks.index(point.stack)]
        _draw_point(ax, y, point)
    level_of = {p.endpoint: p.concurrency for p in points}
    ax.set_yticks(range(len(endpoints)), [f"{endpoint_title(e)}\n{tool}, c={level_of[e]}" for e in endpoints])
    ax.set_ylim(len(endpoints) - 0.5, -0.5)
    _ratio_axis(ax, points)
    handles = [Line2D([], [], linestyle="none", marker="o", markersize=8, color=stack_style(s).colour,
                      label=stack_label(s)) for s in stacks]
    handles.append(Line2D([], [], linestyle="none", marker="o", markersize=8, markerfacecolor="white",
                          markeredgecolor="black", label=f"hollow: no verdict (< {stats.MIN_ROUNDS} rounds)"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=9, frameon=False,
               bbox_to_anchor=(0.55, 0.03))
