"""Charts of one run (and, through `draw_measure`, of several): a handful of PNGs of a fixed
size, drawn without a display.

The ratio chart (ratio_chart.py) gives the answer at a glance; then one figure per measure,
small multiples with one panel per endpoint, so a measure reads across every endpoint on
one screen and a run's charts stay a few files. Every figure reads the same way: one
colour per stack (stacks.py), wrk solid and ab dashed, x = concurrency. Endpoints differ
by orders of magnitude, so each panel has its own y axis, from 0.

A point is a level. Throughput, the figure the verdicts rest on, is the geometric mean
over counted rounds with its 95 % interval as the bar; the other measures are the median
with the min-max of counted rounds as the bar (a description of spread, not an interval).
The series of a panel stand side by side around each level so their bars do not hide
each other; with several levels a series' points are joined by a line. Rows that cannot
be taken at face value are marked (marks.py), never dropped.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from bench.analysis.charts import marks
from bench.analysis.charts.ratio_chart import draw_ratios, ratio_points
from bench.analysis.frames import SERIES_KEYS, Run, aggregate
from bench.analysis.stacks import endpoint_sort_key, endpoint_title, stack_label, stack_style
from bench.load_tools import adapter
from bench.schema import Flag

CHART_SIZE_PX = (1200, 700)
DPI = 100
SUMMARY_CHART = "summary-ratios.png"
PANEL_COLUMNS = 3
DODGE_SPAN = 0.6  # share of the gap between two levels that the series of one level spread over


@dataclass(frozen=True)
class Metric:
    name: str  # file name stem
    column: str  # frames column (aggregated as <column>_median/_min/_max)
    title: str
    ylabel: str
    factor: float = 1.0  # from the stored unit to the plotted one
    threshold: tuple[float, str] | None = None  # a horizontal line and its legend label
    stats: tuple[str, str, str] = ("median", "min", "max")  # aggregate suffixes: point, bar low, bar high

    @property
    def band_short(self) -> str:
        return "95 % interval" if self.stats[1] == "low" else "min-max"

    @property
    def band(self) -> str:
        return "95 % interval" if self.stats[1] == "low" else "min-max of counted rounds"

    @property
    def centre(self) -> str:
        return "geometric mean" if self.stats[0] == "gmean" else "median"


# In the report's order: server CPU per request leads the efficiency story, as the measure a
# noisy machine moves least (time the server spent, not how much of the machine it got).
METRICS = (
    Metric("server-cpu-ms", "server_cpu_ms_per_req", "Server CPU per request", "server CPU (ms per request)"),
    Metric("throughput", "rps", "Throughput", "throughput (requests/s)", stats=("gmean", "low", "high")),
    Metric("latency-p99", "latency_ms_p99", "Latency p99", "p99 latency (ms)"),
    Metric("server-memory", "server_peak_memory_bytes", "Server peak memory", "peak memory (MiB)",
           factor=1 / 2**20),
    Metric("error-rate", "error_rate", "Error rate", "failed requests (%)", factor=100),
    Metric("client-cpu", "client_cpu_share", "Client CPU share", "client CPU (% of its CPUs)", factor=100,
           threshold=(80.0, "80 %: above it the level is client-bound")),
)


@dataclass(frozen=True)
class Series:
    """One stack x tool on one endpoint: its levels (aggregate rows) and every raw row."""

    label: str
    colour: str
    tool: str
    levels: pd.DataFrame
    rows: pd.DataFrame


def _stack_colour(stack: str) -> str:
    return stack_style(stack).colour


def endpoint_series(rows: pd.DataFrame, levels: pd.DataFrame, endpoint: str, prefix: str = "",
                    colour_of: Callable[[str], str] = _stack_colour) -> list[Series]:
    """A series per stack x tool that has rows on this endpoint, measured or not; `prefix`
    and `colour_of` let an overlay of several runs tell the runs apart."""
    series = []
    on_endpoint = rows[rows["endpoint"] == endpoint]
    for (stack, _, tool), series_rows in on_endpoint.groupby(SERIES_KEYS, sort=False):
        series_levels = levels[(levels["stack"] == stack) & (levels["endpoint"] == endpoint)
                               & (levels["tool"] == tool)]
        series.append(Series(f"{prefix}{stack_label(stack)} · {tool}", colour_of(stack), tool, series_levels,
                             series_rows))
    return series


def draw_measure(panels: dict[str, list[Series]], metric: Metric, title: str, footer: str, path: Path) -> Path:
    return _save(measure_figure(panels, metric, title, footer), path)


def measure_figure(panels: dict[str, list[Series]], metric: Metric, title: str, footer: str) -> Figure:
    """One figure: a panel per endpoint (in `panels`' order), the legends in the next cell."""
    fig = _figure(title, footer)
    cells = len(panels) + 1
    columns = min(PANEL_COLUMNS, cells)
    grid = fig.add_gridspec(math.ceil(cells / columns), columns, left=0.06, right=0.985, top=0.89, bottom=0.1,
                            hspace=0.42, wspace=0.25)
    drawn: set[str] = set()
    for index, (endpoint, series) in enumerate(panels.items()):
        drawn |= _panel(fig.add_subplot(grid[divmod(index, columns)]), series, metric, endpoint_title(endpoint))
    legend = fig.add_subplot(grid[divmod(cells - 1, columns)])
    _legends(legend, [s for series in panels.values() for s in series], metric, drawn)
    if not panels:
        legend.text(0.5, 0.5, "no endpoint measured in this run", ha="center", va="center", fontsize=14,
                    color="grey", transform=legend.transAxes)
    return fig


def _panel(ax: Axes, series: list[Series], metric: Metric, title: str) -> set[str]:
    """One endpoint's series side by side at each level; returns the flags it marked."""
    levels = sorted({int(c) for s in series for c in s.rows["concurrency"].dropna()})
    slot = {c: i for i, c in enumerate(levels)}
    width = DODGE_SPAN / max(len(series), 1)
    drawn: set[str] = set()
    peak = -np.inf  # the highest point or bar drawn; -inf: nothing counted
    for k, s in enumerate(series):
        offset = (k - (len(series) - 1) / 2) * width

        def at(concurrency: pd.Series, offset: float = offset) -> np.ndarray:
            return np.array([slot[int(c)] + offset for c in concurrency], dtype=float)

        x = at(s.levels["concurrency"])
        centre, low, high = (s.levels[f"{metric.column}_{stat}"].to_numpy(dtype=float) * metric.factor
                             for stat in metric.stats)
        drawn_values = np.concatenate([centre, high])
        peak = max(peak, float(np.nanmax(drawn_values, initial=-np.inf)))
        _points(ax, s, x, centre, low, high, joined=len(levels) > 1)
        _rounds(ax, x, high, centre, s.levels["rounds"].to_numpy(dtype=int))
        drawn |= _mark_flags(ax, s, metric, x, centre, at(s.rows["concurrency"]))
    _panel_axes(ax, title, levels, metric, peak)
    return drawn


def _mark_flags(ax: Axes, s: Series, metric: Metric, x: np.ndarray, centre: np.ndarray,
                row_x: np.ndarray) -> set[str]:
    """The flags of counted levels on their points, rows counted nowhere at their own value,
    failed rows on the x axis; returns the flags marked."""
    drawn: set[str] = set()
    level_flags = list(s.levels["flags"])
    for flag in marks.LEVEL_FLAGS:
        hit = np.array([flag in flags for flags in level_flags], dtype=bool)
        drawn |= marks.mark(ax, flag, x[hit], centre[hit], s.colour)
    reasons = list(s.rows["excluded_by"])
    values = s.rows[metric.column].to_numpy(dtype=float) * metric.factor
    for flag in marks.ROW_FLAGS:
        hit = np.array([flag in why for why in reasons], dtype=bool)
        drawn |= marks.mark(ax, flag, row_x[hit], values[hit], s.colour)
    failed = (s.rows["status"] == "failed").to_numpy(dtype=bool)
    return drawn | marks.mark(ax, Flag.FAILED, row_x[failed], np.full(int(failed.sum()), np.nan), s.colour)


def _rounds(ax: Axes, x: np.ndarray, high: np.ndarray, centre: np.ndarray, rounds: np.ndarray) -> None:
    """The counted rounds each point rests on, in small grey type above its bar."""
    top = np.where(np.isfinite(high), high, centre)
    for at, y, n in zip(x, top, rounds, strict=True):
        if np.isfinite(y):
            ax.annotate(f"n={n}", (at, y), xytext=(0, 3), textcoords="offset points", ha="center", va="bottom",
                        fontsize=6, color="dimgrey")


def _tool_style(tool: str) -> tuple[str, str]:
    """Line style and marker of a tool's series (dotted circles for a tool this checkout does not know)."""
    known = adapter(tool)
    return (known.linestyle, known.marker) if known else (":", "o")


def _points(ax: Axes, s: Series, x: np.ndarray, centre: np.ndarray, low: np.ndarray, high: np.ndarray,
            joined: bool) -> None:
    """The series' points with their bars (none where a level has no interval), joined when it has levels."""
    known = np.isfinite(centre)
    if not known.any():
        return
    below = np.where(np.isfinite(low), centre - low, 0.0)[known]
    above = np.where(np.isfinite(high), high - centre, 0.0)[known]
    linestyle, marker = _tool_style(s.tool)
    bars = ax.errorbar(x[known], centre[known], yerr=[below, above], color=s.colour,
                       linestyle=linestyle if joined else "none", marker=marker,
                       markersize=5, elinewidth=1.6, capsize=3, zorder=4)
    for line in bars[2]:
        line.set_linestyle(linestyle)


def _panel_axes(ax: Axes, title: str, levels: list[int], metric: Metric, peak: float) -> None:
    ax.set_title(title, fontsize=10)
    ax.set_xticks(range(len(levels)), [str(c) for c in levels])
    ax.set_xlim(-0.5, max(len(levels), 1) - 0.5)
    ax.set_xlabel("concurrency (open connections)", fontsize=8)
    ax.set_ylabel(metric.ylabel, fontsize=8)
    ax.tick_params(labelsize=8)
    if metric.threshold:
        ax.axhline(metric.threshold[0], color="black", linewidth=1, linestyle=":")
    ax.set_ylim(bottom=0)
    ax.grid(True, axis="y", alpha=0.3)
    note = "no counted rows" if peak == -np.inf else "0 in every counted round" if peak == 0 else ""
    if peak == 0:
        ax.set_ylim(0, 1)  # a zero drawn on a scale of its own would look like a value
    if note:
        ax.text(0.5, 0.5, note, transform=ax.transAxes, ha="center", va="center", fontsize=11, color="grey")


def _legends(ax: Axes, series: list[Series], metric: Metric, drawn: set[str]) -> None:
    """Series (one entry per label, every panel shares them), the threshold and the marks drawn."""
    ax.axis("off")
    unique: dict[str, Series] = {}
    for s in series:
        unique.setdefault(s.label, s)
    handles = [Line2D([], [], color=s.colour, linestyle=_tool_style(s.tool)[0], marker=_tool_style(s.tool)[1],
                      markersize=5, label=_wrap(label))
               for label, s in unique.items()]
    if metric.threshold:
        handles.append(Line2D([], [], color="black", linewidth=1, linestyle=":", label=_wrap(metric.threshold[1])))
    first = ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(-0.05, 1.05), fontsize=8, frameon=False,
                      title=f"over counted rounds:\npoint: {metric.centre}\nbar: {metric.band_short}\n"
                            "n=: rounds counted", title_fontsize=8,
                      alignment="left")
    if drawn:
        ax.add_artist(first)
        ax.legend(handles=marks.legend_handles(drawn, _wrap), loc="upper left", bbox_to_anchor=(0.5, 1.05),
                  fontsize=8, frameon=False, title="marked points", title_fontsize=8, alignment="left")


def _wrap(label: str) -> str:
    return textwrap.fill(label, 24)


def _figure(title: str, footer: str) -> Figure:
    width, height = CHART_SIZE_PX
    fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    fig.suptitle(title, fontsize=13, x=0.01, ha="left")
    fig.text(0.01, 0.01, footer, fontsize=8, color="dimgrey")
    return fig


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    return path


def draw_summary(run: Run, levels: pd.DataFrame, footer: str, path: Path) -> Path:
    """The ratio chart (see ratio_chart.py) at the fixed size, with the run's footer."""
    width, height = CHART_SIZE_PX
    fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    draw_ratios(fig, ratio_points(run.rows, levels))
    fig.text(0.01, 0.01, footer, fontsize=8, color="dimgrey")
    return _save(fig, path)


def chart_footer(run: Run) -> str:
    """One line that keeps a chart honest when it travels without its report."""
    placement = run.meta("placement")
    quota = placement.get("server_cpu_quota", "?") if isinstance(placement, dict) else "?"
    return (f"run {run.run_id} · {run.meta('cpu_model')} · {run.meta('cpu_count')} CPUs · "
            f"server quota {quota} CPU · limiter {run.meta('limiter')}")


def chart_name(metric: Metric) -> str:
    return f"{metric.name}.png"


def measure_title(metric: Metric) -> str:
    return f"{metric.title} per endpoint and stack ({metric.centre} of counted rounds; bar: {metric.band})"


def draw_run_charts(run: Run, out_dir: Path) -> list[Path]:
    """Every chart of a run: the ratio chart, then one figure per measure. Old PNGs go
    first, so the folder never shows a chart the current data did not draw."""
    for old in out_dir.glob("*.png"):
        old.unlink()
    levels = aggregate(run.rows)
    footer = chart_footer(run)
    panels = {endpoint: endpoint_series(run.rows, levels, endpoint)
              for endpoint in sorted(run.rows["endpoint"].unique(), key=endpoint_sort_key)}
    paths = [draw_summary(run, levels, footer, out_dir / SUMMARY_CHART)]
    paths += [draw_measure(panels, metric, measure_title(metric), footer, out_dir / chart_name(metric))
              for metric in METRICS]
    return paths
