"""Charts of one run (and, through `draw_metric`, of several): PNGs of a fixed size drawn
without a display.

One function, `draw_metric`, draws any metric against concurrency for any set of
series, so every chart reads the same way: one colour per stack, wrk solid and ab
dashed. Throughput, the figure the verdicts rest on, is drawn as the geometric mean over
counted rounds with its 95 % interval as the band; the other metrics as the median with
the min-max of counted rounds as the band (a description of spread, not an interval).
Rows that cannot be taken at face value are marked, never dropped: a level flagged
client-bound or db-bound measures the set-up rather than the stack, and a row counted
nowhere (too short, not steady, noisy...) is marked where it would have been, so a reader
sees both on the chart itself, not only in the report. The summary chart is the ratio
chart of `ratio_chart.py`.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import LogFormatter

from bench.analysis.frames import SERIES_KEYS, Run, aggregate
from bench.analysis.ratio_chart import draw_ratios, ratio_points
from bench.analysis.stacks import endpoint_sort_key, endpoint_title, stack_label, stack_style
from bench.schema import EXCLUDING_FLAGS, Flag

CHART_SIZE_PX = (1200, 700)
DPI = 100
SUMMARY_CHART = "summary-ratios.png"
TOOL_LINESTYLES = {"wrk": "-", "ab": "--"}
LEGEND_LEFT = 0.75  # figure fraction where the legends start; the axes end before it


@dataclass(frozen=True)
class Metric:
    name: str  # file name stem
    column: str  # frames column (aggregated as <column>_median/_min/_max)
    title: str
    ylabel: str
    factor: float = 1.0  # from the stored unit to the plotted one
    log: bool = False
    threshold: tuple[float, str] | None = None  # a horizontal line and its legend label
    stats: tuple[str, str, str] = ("median", "min", "max")  # aggregate suffixes: line, band low, band high

    @property
    def band(self) -> str:
        return "95 % interval" if self.stats[1] == "low" else "min-max"


METRICS = (
    Metric("throughput", "rps", "Throughput", "throughput (requests/s)", stats=("gmean", "low", "high")),
    Metric("latency-p50", "latency_ms_p50", "Latency p50", "p50 latency (ms, log scale)", log=True),
    Metric("latency-p99", "latency_ms_p99", "Latency p99", "p99 latency (ms, log scale)", log=True),
    Metric("error-rate", "error_rate", "Error rate", "failed requests (% of requests)", factor=100),
    Metric("server-cpu-ms", "server_cpu_ms_per_req", "Server CPU per request", "server CPU (ms per request)"),
    Metric("db-cpu-ms", "db_cpu_ms_per_req", "MariaDB CPU per request", "MariaDB CPU (ms per request)"),
    Metric("server-memory", "server_peak_memory_bytes", "Server peak memory", "server peak memory (MiB)",
           factor=1 / 2**20),
    Metric("client-cpu", "client_cpu_share", "Client CPU share", "client CPU (% of its CPUs)", factor=100,
           threshold=(80.0, "80 %: above it the level is client-bound")),
)


@dataclass(frozen=True)
class Mark:
    marker: str
    size: float
    label: str


# Concentric sizes, so several flags on one point stay visible.
MARKS: dict[str, Mark] = {
    Flag.FAILED: Mark("X", 120, "failed level (no figure, drawn on the x axis)"),
    Flag.INVALID: Mark("D", 90, "invalid row (the tool's own figure, not counted)"),
    Flag.CLIENT_BOUND: Mark("^", 170, "client-bound: measures the client"),
    Flag.DB_BOUND: Mark("s", 220, "db-bound: measures MariaDB"),
    Flag.ERRORS: Mark("*", 280, "some requests failed"),
    Flag.DB_OPEN_TRANSACTIONS: Mark("P", 330, "transactions left open"),
    Flag.DB_HISTORY_GROWTH: Mark("h", 380, "InnoDB history grew"),
    Flag.TOO_SHORT: Mark("v", 150, "too short (not counted)"),
    Flag.NOT_STEADY: Mark("<", 200, "not steady by Little's law (not counted)"),
    Flag.NOT_DRAINED: Mark(">", 250, "server not drained (not counted)"),
    Flag.NOISY: Mark("p", 300, "noisy machine (not counted)"),
}
# Flags a counted level can carry; rows counted nowhere are marked row by row instead.
LEVEL_FLAGS = [f for f in MARKS if f not in EXCLUDING_FLAGS]
ROW_FLAGS = [f for f in MARKS if f in EXCLUDING_FLAGS and f != Flag.FAILED]


@dataclass(frozen=True)
class Series:
    """One line: the levels (aggregate rows) and every raw row of one stack x tool."""

    label: str
    colour: str
    linestyle: str
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
        series.append(Series(f"{prefix}{stack_label(stack)} · {tool}", colour_of(stack),
                             TOOL_LINESTYLES.get(tool, ":"), series_levels, series_rows))
    return series


def draw_metric(series: list[Series], metric: Metric, title: str, footer: str, path: Path) -> Path:
    """Metric vs concurrency, one line per series, bands over counted rounds, marks for flags."""
    fig, ax = _figure(title, footer)
    seen_marks: set[str] = set()
    has_data = False
    for s in series:
        x = s.levels["concurrency"].astype(float).to_numpy()
        centre, low, high = (s.levels[f"{metric.column}_{stat}"].to_numpy(dtype=float) * metric.factor
                             for stat in metric.stats)
        has_data |= bool(np.isfinite(centre).any())
        ax.plot(x, centre, color=s.colour, linestyle=s.linestyle, marker="o", markersize=4, label=s.label)
        ax.fill_between(x, low, high, color=s.colour, alpha=0.15, linewidth=0)
        for flag in LEVEL_FLAGS:
            hit = s.levels["flags"].apply(lambda flags, f=flag: f in flags).to_numpy(dtype=bool)
            seen_marks |= _mark(ax, flag, x[hit], centre[hit], s.colour)
        for flag in ROW_FLAGS:
            hit = s.rows[s.rows["excluded_by"].apply(lambda reasons, f=flag: f in reasons)]
            seen_marks |= _mark(ax, flag, hit["concurrency"].astype(float).to_numpy(),
                                hit[metric.column].to_numpy(dtype=float) * metric.factor, s.colour)
        failed = s.rows[s.rows["status"] == "failed"]
        seen_marks |= _mark(ax, Flag.FAILED, failed["concurrency"].astype(float).to_numpy(),
                            np.full(len(failed), np.nan), s.colour)
    if not has_data:
        ax.text(0.5, 0.5, "not measured in this run", transform=ax.transAxes, ha="center", va="center",
                fontsize=14, color="grey")
    extra = []
    if metric.threshold:
        value, label = metric.threshold
        ax.axhline(value, color="black", linewidth=1, linestyle=":")
        extra.append(Line2D([], [], color="black", linewidth=1, linestyle=":", label=label))
    _axes(ax, series, metric, has_data)
    _legends(fig, ax, extra, seen_marks, metric)
    return _save(fig, path)


def _mark(ax: Axes, flag: str, x: np.ndarray, y: np.ndarray, colour: str) -> set[str]:
    """Draw a flag's marker at (x, y); points without a y go on the x axis. Returns {flag} if drawn."""
    if len(x) == 0:
        return set()
    mark = MARKS[flag]
    filled = flag == Flag.FAILED
    style = {"marker": mark.marker, "s": mark.size, "linewidths": 1.5, "zorder": 5, "clip_on": False,
             "facecolors": colour if filled else "none", "edgecolors": colour}
    known = np.isfinite(y)
    if known.any():
        ax.scatter(x[known], y[known], **style)
    if (~known).any():
        ax.scatter(x[~known], np.full((~known).sum(), 0.0), transform=ax.get_xaxis_transform(), **style)
    return {flag}


def _axes(ax: Axes, series: list[Series], metric: Metric, has_data: bool) -> None:
    levels = sorted({int(c) for s in series for c in s.rows["concurrency"].dropna()})
    if len(levels) > 1 and levels[0] > 0 and levels[-1] / levels[0] >= 4:
        ax.set_xscale("log", base=2)
        ax.set_xlabel("concurrency (open connections, log scale)")
    else:
        ax.set_xlabel("concurrency (open connections)")
    if levels:
        ax.set_xticks(levels, [str(c) for c in levels])
        ax.minorticks_off()
    if metric.log and has_data:
        values = np.concatenate([s.levels[f"{metric.column}_{metric.stats[1]}"].to_numpy(dtype=float)
                                 for s in series])
        # ab reports whole milliseconds: a 0 ms p50 must stay on the chart, so go linear below 1 ms.
        if (values[np.isfinite(values)] <= 0).any():
            ax.set_yscale("symlog", linthresh=1.0)
            ax.set_ylim(bottom=0)
            ax.set_ylabel(metric.ylabel.replace("log scale", "log scale above 1 ms"))
        else:
            ax.set_yscale("log")
            ax.set_ylabel(metric.ylabel)
        _plain_log_labels(ax.yaxis)
    else:
        ax.set_ylabel(metric.ylabel)
        ax.set_ylim(bottom=0)
    ax.grid(True, which="major", alpha=0.3)


class _PlainLogFormatter(LogFormatter):
    """Log-axis labels as plain numbers (1,000 rather than 10^3), where LogFormatter puts one."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        return f"{x:,.10g}" if super().__call__(x, pos) else ""


def _plain_log_labels(axis) -> None:
    axis.set_major_formatter(_PlainLogFormatter())
    axis.set_minor_formatter(_PlainLogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5)))


def _figure(title: str, footer: str) -> tuple[Figure, Axes]:
    width, height = CHART_SIZE_PX
    fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    ax = fig.add_axes((0.08, 0.13, LEGEND_LEFT - 0.11, 0.78))
    ax.set_title(title, fontsize=13)
    fig.text(0.01, 0.01, footer, fontsize=8, color="dimgrey")
    return fig, ax


def _legends(fig: Figure, ax: Axes, extra: list[Line2D], marks: set[str], metric: Metric) -> None:
    handles, _ = ax.get_legend_handles_labels()
    for handle in handles + extra:
        handle.set_label(_wrap(handle.get_label()))
    line = "geometric mean" if metric.stats[0] == "gmean" else "median"
    fig.legend(handles=handles + extra, loc="upper left", bbox_to_anchor=(LEGEND_LEFT, 0.91), fontsize=9,
               title=f"line: {line} of counted rounds\nband: {metric.band}", title_fontsize=9, frameon=False)
    if marks:
        mark_handles = [Line2D([], [], linestyle="none", marker=MARKS[f].marker, markersize=9,
                               markerfacecolor="black" if f == Flag.FAILED else "none",
                               markeredgecolor="black", label=_wrap(MARKS[f].label))
                        for f in MARKS if f in marks]
        fig.legend(handles=mark_handles, loc="lower left", bbox_to_anchor=(LEGEND_LEFT, 0.13), fontsize=9,
                   title="marked points", title_fontsize=9, frameon=False)


def _wrap(label: str) -> str:
    return textwrap.fill(label, 34)


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


def chart_name(endpoint: str, metric: Metric) -> str:
    return f"{endpoint}-{metric.name}.png"


def draw_run_charts(run: Run, out_dir: Path) -> list[Path]:
    """Every chart of a run: each metric for each endpoint with rows, then the summary. Old
    PNGs go first, so the folder never shows a chart the current data did not draw."""
    for old in out_dir.glob("*.png"):
        old.unlink()
    levels = aggregate(run.rows)
    footer = chart_footer(run)
    paths = []
    for endpoint in sorted(run.rows["endpoint"].unique(), key=endpoint_sort_key):
        series = endpoint_series(run.rows, levels, endpoint)
        for metric in METRICS:
            title = f"{metric.title} vs concurrency — {endpoint_title(endpoint)}"
            paths.append(draw_metric(series, metric, title, footer, out_dir / chart_name(endpoint, metric)))
    paths.append(draw_summary(run, levels, footer, out_dir / SUMMARY_CHART))
    return paths
