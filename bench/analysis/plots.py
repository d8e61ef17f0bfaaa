"""Charts of one run (and, through `draw_metric`, of several): PNGs of a fixed size drawn
without a display.

One function, `draw_metric`, draws any metric against concurrency for any set of
series, so every chart reads the same way: one colour per stack, wrk solid and ab
dashed, the median of the repeats as the line and their min-max as a band. Rows that
cannot be taken at face value are marked, never dropped: a level flagged client-bound
or db-bound measures the set-up rather than the stack, and a reader must see that on
the chart itself, not only in the report.
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
from matplotlib.patches import Patch
from matplotlib.ticker import LogFormatter

from bench.analysis.frames import SERIES_KEYS, Run, aggregate, best_levels
from bench.analysis.stacks import BASELINE, endpoint_sort_key, endpoint_title, stack_label, stack_style
from bench.schema import Flag

CHART_SIZE_PX = (1200, 700)
DPI = 100
SUMMARY_CHART = "summary-best-throughput.png"
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


METRICS = (
    Metric("throughput", "rps", "Throughput", "throughput (requests/s)"),
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
}
# Flags a counted level can carry; failed and invalid rows are marked row by row instead.
LEVEL_FLAGS = [f for f in MARKS if f not in (Flag.FAILED, Flag.INVALID)]


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
    """Metric vs concurrency, one line per series, bands for the repeats, marks for flags."""
    fig, ax = _figure(title, footer)
    seen_marks: set[str] = set()
    has_data = False
    for s in series:
        x = s.levels["concurrency"].astype(float).to_numpy()
        median, low, high = (s.levels[f"{metric.column}_{stat}"].to_numpy(dtype=float) * metric.factor
                             for stat in ("median", "min", "max"))
        has_data |= bool(np.isfinite(median).any())
        ax.plot(x, median, color=s.colour, linestyle=s.linestyle, marker="o", markersize=4, label=s.label)
        ax.fill_between(x, low, high, color=s.colour, alpha=0.15, linewidth=0)
        for flag in LEVEL_FLAGS:
            hit = s.levels["flags"].apply(lambda flags, f=flag: f in flags).to_numpy(dtype=bool)
            seen_marks |= _mark(ax, flag, x[hit], median[hit], s.colour)
        invalid = s.rows[(s.rows["status"] == "ok") & ~s.rows["valid"]]
        seen_marks |= _mark(ax, Flag.INVALID, invalid["concurrency"].astype(float).to_numpy(),
                            invalid[metric.column].to_numpy(dtype=float) * metric.factor, s.colour)
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
    _legends(fig, ax, extra, seen_marks)
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
        values = np.concatenate([s.levels[f"{metric.column}_min"].to_numpy(dtype=float) for s in series])
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


def _legends(fig: Figure, ax: Axes, extra: list[Line2D], marks: set[str]) -> None:
    handles, _ = ax.get_legend_handles_labels()
    for handle in handles + extra:
        handle.set_label(_wrap(handle.get_label()))
    fig.legend(handles=handles + extra, loc="upper left", bbox_to_anchor=(LEGEND_LEFT, 0.91), fontsize=9,
               title="median of repeats, band = min-max", title_fontsize=9, frameon=False)
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


def draw_summary(best: pd.DataFrame, footer: str, path: Path) -> Path:
    """Best median throughput per stack per endpoint (a panel per tool), each bar labelled
    with its ratio to django-wsgi (its RPS when the run has no django-wsgi). A bar is
    hatched when its best level carries a flag or some rows of its series failed or were
    invalid, since the best figure may hide them."""
    width, height = CHART_SIZE_PX
    fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    tools = list(dict.fromkeys(best["tool"])) or ["wrk"]
    endpoints = sorted(best["endpoint"].unique(), key=endpoint_sort_key)
    stacks = list(dict.fromkeys(best["stack"]))
    bar = 0.8 / max(len(stacks), 1)
    fig.suptitle("Best median throughput per stack and endpoint (label: ratio to Django WSGI, same tool)",
                 fontsize=13)
    fig.text(0.01, 0.01, footer, fontsize=8, color="dimgrey")
    if best.empty:
        fig.text(0.5, 0.5, "no valid measurement in this run", ha="center", fontsize=14, color="grey")
    any_flagged = False
    for index, tool in enumerate(tools):
        ax = fig.add_subplot(1, len(tools), index + 1)
        for offset, stack in enumerate(stacks):
            rows = best[(best["tool"] == tool) & (best["stack"] == stack)].set_index("endpoint")
            for position, endpoint in enumerate(endpoints):
                if endpoint not in rows.index:
                    continue
                row = rows.loc[endpoint]
                flagged = bool(row["flags"]) or row["series_set_aside"] > 0
                any_flagged |= flagged
                x = position - 0.4 + bar * (offset + 0.5)
                ax.bar(x, row["rps_median"], width=bar, color=stack_style(stack).colour,
                       hatch="//" if flagged else None, edgecolor="white" if flagged else None)
                label = f"{row['rps_median']:,.0f}" if math.isnan(row["ratio"]) else f"{row['ratio']:.2f}×"
                ax.annotate(label, (x, row["rps_median"]), xytext=(0, 3), textcoords="offset points",
                            ha="center", va="bottom", rotation=90, fontsize=8)
        ax.set_yscale("log")
        _plain_log_labels(ax.yaxis)
        ax.set_ylim(top=ax.get_ylim()[1] * 4)  # room for the labels above the tallest bar
        ax.set_xticks(range(len(endpoints)), [endpoint_title(e) for e in endpoints], rotation=20, fontsize=9)
        ax.set_title(f"{tool}", fontsize=11)
        ax.set_ylabel("best median throughput (requests/s, log scale)")
        ax.grid(True, axis="y", which="major", alpha=0.3)
    handles = [Patch(color=stack_style(s).colour, label=stack_label(s)) for s in stacks]
    if any_flagged:
        handles.append(Patch(facecolor="lightgrey", hatch="//", edgecolor="white",
                             label="best level flagged, or rows failed/invalid (see report)"))
    if BASELINE not in stacks:
        handles.append(Patch(color="none", label="no Django WSGI in this run: bars labelled with RPS"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=9, frameon=False,
               bbox_to_anchor=(0.5, 0.03))
    fig.subplots_adjust(left=0.07, right=0.98, top=0.88, bottom=0.22, wspace=0.25)
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
    paths.append(draw_summary(best_levels(levels), footer, out_dir / SUMMARY_CHART))
    return paths
