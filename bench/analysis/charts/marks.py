"""How a chart marks a point that cannot be taken at face value: one marker per flag, so a
reader sees on the chart itself, not only in the report, that a level measured the
set-up (client-bound, db-bound), had failures, or was counted nowhere.

Markers are hollow and concentric (each flag its own size), so several flags on one point
stay visible; a failed level has no figure and is drawn filled on the x axis.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from bench.schema import EXCLUDING_FLAGS, Flag


@dataclass(frozen=True)
class Mark:
    marker: str
    size: float  # scatter area in points², at the size of a small-multiples panel
    label: str


MARKS: dict[str, Mark] = {
    Flag.FAILED: Mark("X", 60, "failed level (no figure, drawn on the x axis)"),
    Flag.INVALID: Mark("D", 45, "invalid row (the tool's own figure, not counted)"),
    Flag.CLIENT_BOUND: Mark("^", 85, "client-bound: measures the client"),
    Flag.DB_BOUND: Mark("s", 110, "db-bound: measures the database"),
    Flag.SHARED_CPUS_BOUND: Mark("H", 130, "shared-CPU-bound: measures the database side"),
    Flag.ERRORS: Mark("*", 140, "some requests failed"),
    Flag.DB_OPEN_TRANSACTIONS: Mark("P", 165, "transactions left open"),
    Flag.DB_BACKLOG_GROWTH: Mark("h", 190, "database backlog grew"),
    Flag.TOO_SHORT: Mark("v", 75, "too short (not counted)"),
    Flag.NOT_STEADY: Mark("<", 100, "not steady: Little's law, or an open loop's drift (not counted)"),
    Flag.NOT_DRAINED: Mark(">", 125, "server not drained (not counted)"),
    Flag.NOISY: Mark("p", 150, "noisy machine (not counted)"),
    Flag.RELAY_BOUND: Mark("d", 120, "the latency relay set the pace (not counted)"),
    Flag.SATURATED: Mark("x", 140, "saturated: did not take the offered rate (not counted)"),
    Flag.CLIENT_LATE: Mark("1", 140, "the open-loop generator sent late (not counted)"),
}
# Flags a counted level can carry (marked on the level's point); rows counted nowhere are
# marked row by row, at their own value, instead.
LEVEL_FLAGS = [f for f in MARKS if f not in EXCLUDING_FLAGS]
ROW_FLAGS = [f for f in MARKS if f in EXCLUDING_FLAGS and f != Flag.FAILED]


def mark(ax: Axes, flag: str, x: np.ndarray, y: np.ndarray, colour: str) -> set[str]:
    """Draw a flag's marker at (x, y); points without a y go on the x axis. Returns {flag} if drawn."""
    if len(x) == 0:
        return set()
    shape = MARKS[flag]
    filled = flag == Flag.FAILED
    style = {"marker": shape.marker, "s": shape.size, "linewidths": 1.2, "zorder": 5, "clip_on": False,
             "facecolors": colour if filled else "none", "edgecolors": colour}
    known = np.isfinite(y)
    if known.any():
        ax.scatter(x[known], y[known], **style)
    if (~known).any():
        ax.scatter(x[~known], np.full((~known).sum(), 0.0), transform=ax.get_xaxis_transform(), **style)
    return {flag}


def legend_handles(drawn: set[str], wrap: Callable[[str], str]) -> list[Line2D]:
    """One black legend entry per flag drawn, in the table's order."""
    return [Line2D([], [], linestyle="none", marker=MARKS[f].marker, markersize=8,
                   markerfacecolor="black" if f == Flag.FAILED else "none", markeredgecolor="black",
                   label=wrap(MARKS[f].label))
            for f in MARKS if f in drawn]
