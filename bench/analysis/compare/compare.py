"""`python -m bench compare RUN_A RUN_B [...] [--out DIR]`: runs against the first one,
with 95 % intervals, and the stack ratios pooled across all of them; e.g. the manual
flow where Django is served once with USE_ASGI=false and once with USE_ASGI=true and
each is measured with `bench/run_wrk.sh --url`, or three `make bench` runs of one
machine. The figures come from compare_tables.py; this module writes them and warns.

Runs made on different machines, limits or versions are not comparable without saying
so: every differing key is named, with its values, loudly on stderr and at the top of
compare.md, and so is a machine-speed probe that differs beyond noise. Differing
settings and profiles are listed too, but quietly, since toggling USE_ASGI changes
settings on purpose.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib import colormaps
from matplotlib.colors import to_hex

from bench.analysis import markdown
from bench.analysis.charts.plots import METRICS, Series, chart_name, draw_measure, endpoint_series
from bench.analysis.compare import compare_tables
from bench.analysis.frames import UNKNOWN, Run, RunError, aggregate, load_run
from bench.analysis.stacks import PAIRS, endpoint_sort_key, endpoint_title, stack_label

# Metadata that makes runs incomparable when it differs (dotted keys flatten nested dicts).
LOUD_KEYS = ("host", "cpu_model", "cpu_count", "kernel", "os", "python", "git_sha", "limiter", "placement",
             "packages", "tools", "database", "app")
QUIET_KEYS = ("settings",)
OVERLAY_METRICS = tuple(m for m in METRICS if m.name in ("throughput", "latency-p99"))
COLOURS = [to_hex(c) for c in colormaps["tab10"].colors]


@dataclass(frozen=True)
class Difference:
    key: str
    values: tuple[str, ...]  # one per run, in the runs' order


def flatten_metadata(value: Any, prefix: str) -> dict[str, str]:
    """{"placement": {"server_cpus": "1"}} -> {"placement.server_cpus": "1"}."""
    if isinstance(value, dict):
        flat: dict[str, str] = {}
        for key, inner in value.items():
            flat.update(flatten_metadata(inner, f"{prefix}.{key}"))
        return flat
    return {prefix: UNKNOWN if value is None else str(value)}


def metadata_view(run: Run, keys: tuple[str, ...]) -> dict[str, str]:
    """The run's metadata under `keys`, flattened to dotted keys."""
    metadata = run.info.get("metadata") or {}
    flat: dict[str, str] = {}
    for key in keys:
        flat.update(flatten_metadata(metadata.get(key), key))
    return flat


def differences(views: list[dict[str, str]]) -> list[Difference]:
    """Every key whose value is not the same in all views (a missing key reads "unknown")."""
    found = []
    for key in sorted(set().union(*views)):
        values = tuple(view.get(key, UNKNOWN) for view in views)
        if len(set(values)) > 1:
            found.append(Difference(key, values))
    return found


def loud_differences(runs: list[Run]) -> list[Difference]:
    return differences([metadata_view(run, LOUD_KEYS) for run in runs])


def quiet_differences(runs: list[Run]) -> list[Difference]:
    return differences([metadata_view(run, QUIET_KEYS) | flatten_metadata(run.info.get("profile"), "profile")
                        for run in runs])


def run_warnings(runs: list[Run], labels: list[str]) -> list[str]:
    """Runs that are themselves incomplete (not finished, stacks skipped, lines unreadable):
    their figures cover less than they should."""
    lines = []
    for label, run in zip(labels, runs, strict=True):
        status = run.info.get("status", UNKNOWN)
        if status != "complete":
            lines.append(f"run {label} ({run.run_id}) is {status}, not complete")
        lines += [f"run {label}: stack {stack} {info['status']} ({info.get('reason') or 'no reason'})"
                  for stack, info in run.stacks.items() if info.get("status") in ("skipped", "failed")]
        lines += [f"run {label}: {problem}" for problem in run.problems]
    return lines


def run_table_text(table: pd.DataFrame) -> str:
    """The run-vs-run table, one sub-table per endpoint (also printed to stdout)."""
    if table.empty:
        return "No run has a counted measurement."
    parts = []
    for endpoint in sorted(table["endpoint"].unique(), key=endpoint_sort_key):
        rows = table[table["endpoint"] == endpoint].drop(columns="endpoint")
        parts.append(f"### {endpoint_title(endpoint)}\n\n{_md_table(rows)}")
    return "\n\n".join(parts)


def pair_tables_text(table_for: Callable[[str, str], pd.DataFrame], empty: str) -> str:
    """One table per compared stack pair a/b, as `table_for(a, b)` gives it (e.g. within_run or
    across_runs of compare_tables)."""
    parts = []
    for a, b in PAIRS:
        table = table_for(a, b)
        if not table.empty:
            table["endpoint"] = table["endpoint"].map(endpoint_title)
            parts.append(f"### {stack_label(a)} / {stack_label(b)}\n\n{_md_table(table)}")
    return "\n\n".join(parts) or empty


def _md_table(frame: pd.DataFrame) -> str:
    return markdown.table(list(frame.columns), frame.itertuples(index=False))


def _loud_block(labels: list[str], loud: list[Difference], incomplete: list[str], speed: list[str]) -> str:
    text = []
    if loud:
        text += ["> **WARNING: THESE RUNS DIFFER IN MACHINE, LIMITS OR VERSIONS.** Ratios between them mix "
                 "those differences with the stacks' own: " + ", ".join(f"`{d.key}`" for d in loud) + ".", "",
                 markdown.table(["key", *labels], [(d.key, *d.values) for d in loud]), ""]
    text += [f"> **WARNING: MACHINE SPEED DIFFERS**: {line}.\n" for line in speed]
    if incomplete:
        text += ["> **WARNING: SOME RUNS ARE INCOMPLETE**: " + "; ".join(incomplete) + ".", ""]
    return "\n".join(text)


def render_compare(runs: list[Run], labels: list[str], charts: list[Path], out: Path) -> tuple[str, str, str]:
    """compare.md, and the run-vs-run and across-runs tables alone (printed to stdout)."""
    loud, quiet = loud_differences(runs), quiet_differences(runs)
    speeds, speed_loud = compare_tables.speed_table(runs, labels)
    ratio_text = run_table_text(compare_tables.run_vs_run(runs, labels))
    across_text = pair_tables_text(lambda a, b: compare_tables.across_runs(runs, labels, a, b),
                                   "No two runs measured the same two stacks side by side.")
    parts = [f"# Comparison of runs {', '.join(labels)}", "",
             _loud_block(labels, loud, run_warnings(runs, labels), speed_loud)]
    parts += ["## Runs", "", markdown.table(
        ("label", "run", "folder", "started", "status", "stacks", "tools", "machine"),
        [(label, run.run_id, str(run.path.resolve()), run.info.get("started_at", UNKNOWN),
          run.info.get("status", UNKNOWN),
          ", ".join(stack_label(s) for s in run.stacks), ", ".join(run.info.get("tools") or []),
          f"{run.meta('host')}, {run.meta('cpu_model')}, {run.meta('cpu_count')} CPUs")
         for label, run in zip(labels, runs, strict=True)]), ""]
    if quiet:
        parts += ["Settings and profile differences (expected when e.g. USE_ASGI is toggled between runs):",
                  "",
                  markdown.table(["key", *labels], [(d.key, *d.values) for d in quiet]), ""]
    parts += ["## Machine speed", "",
              (f"The driver's fixed CPU probe, once per round (million loop steps per second). The ratio to run "
               f"{labels[0]} has a Welch 95 % interval; when it excludes 1 the machine itself ran at another "
               "speed."), "", _md_table(speeds), ""]
    parts += ["## Run against run", "", RUN_INTRO.format(first=labels[0]), "", ratio_text, ""]
    parts += ["## Stack ratios within each run", "", WITHIN_INTRO.format(first=labels[0]), "",
              pair_tables_text(lambda a, b: compare_tables.within_run(runs, labels, a, b),
                               "No run measured two of the stacks side by side."), ""]
    parts += ["## Stack ratios across runs", "", ACROSS_INTRO, "", across_text, "",
              "## Charts", ""]
    parts += [f"![{path.stem}]({path.relative_to(out).as_posix()})\n" for path in charts]
    return "\n".join(parts) + "\n", ratio_text, across_text


RUN_INTRO = ("Per endpoint, tool and level: each run's throughput (geometric mean over counted rounds, 95 % "
             "interval) and, for runs after {first}, the ratio to the same stack in run {first} (or, when "
             "{first} lacks that stack, to {first}'s Django WSGI or first stack) with a Welch 95 % interval: "
             "runs share no rounds, so nothing is paired. *faster*/*slower*: the interval excludes 1; "
             "*within noise*: it contains 1; fewer than 3 counted rounds on either side: no verdict.")
WITHIN_INTRO = ("Each run's own paired ratio (rounds that measured both stacks), side by side, with whether each "
                "later run's estimate lies inside run {first}'s interval and the other way round, and the "
                "ratio of the later run's ratio to {first}'s (Welch 95 % interval of their per-round ratios): "
                "*agree* when it contains 1, *disagree* when it does not. Containment is the stricter test: "
                "two runs with equal, honest intervals hold each other's estimate only about 5 times in 6.")

ACROSS_INTRO = ("One estimate from all the runs: the geometric mean of the runs' own ratios, with a 95 % interval "
                "over runs (t with runs − 1 degrees of freedom; its variance never below what the runs' rounds "
                "give), so that drift between runs, which no single run's interval can show, widens it; three "
                "runs are needed for a verdict. *runs scatter*: the standard deviation of the runs' ratios, "
                "beside what their rounds alone predict. *runs alike?*: the Alexander-Govern test of equal "
                "means (each run with its own scatter); **no** means the runs drifted apart by more than a "
                "run's interval admits: quote the across-runs interval, not one run's.")


def draw_overlays(runs: list[Run], labels: list[str], out: Path) -> list[Path]:
    """Throughput and p99, a panel per endpoint, one series per run x stack x tool."""
    colours: dict[tuple[str, str], str] = {}
    levels = [aggregate(run.rows) for run in runs]
    endpoints = sorted(set().union(*(set(run.rows["endpoint"]) for run in runs)), key=endpoint_sort_key)
    footer = "; ".join(f"{label} = {run.run_id}" for label, run in zip(labels, runs, strict=True))
    panels: dict[str, list[Series]] = {endpoint: [] for endpoint in endpoints}
    for label, run, run_levels in zip(labels, runs, levels, strict=True):
        def colour_of(stack: str, label: str = label) -> str:
            return colours.setdefault((label, stack), COLOURS[len(colours) % len(COLOURS)])

        for endpoint in endpoints:
            panels[endpoint] += endpoint_series(run.rows, run_levels, endpoint, prefix=f"{label} · ",
                                                colour_of=colour_of)
    return [draw_measure(panels, metric, f"{metric.title} per endpoint, runs {', '.join(labels)} ({metric.centre} "
                         f"of counted rounds; bar: {metric.band})", footer, out / "charts" / chart_name(metric))
            for metric in OVERLAY_METRICS]


def run_labels(count: int) -> list[str]:
    """A, B, C, ... (R27, R28, ... past Z): how compare and the report name runs."""
    return [chr(ord("A") + i) if i < 26 else f"R{i + 1}" for i in range(count)]


def default_out(first_run: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return first_run.resolve().parent / f"compare-{stamp}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench compare",
        description="Runs against the first one with 95 % intervals, within-run ratios side by side, "
                    "overlay charts; warns when machine, limits, versions or machine speed differ.")
    parser.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR", help="two or more run folders")
    parser.add_argument("--out", type=Path,
                        help="output folder (default: compare-<UTC timestamp> next to the first run)")
    args = parser.parse_args(argv)
    if len(args.runs) < 2:
        print("bench compare: give at least two run folders", file=sys.stderr)
        return 2
    try:
        # A run that varied a setting is compared at its axis's first value (e.g. the direct database).
        runs = [(run := load_run(path)).only_variant(run.variants[0]) for path in args.runs]
    except RunError as exc:
        print(f"bench compare: {exc}", file=sys.stderr)
        return 2
    labels = run_labels(len(runs))
    out = args.out or default_out(args.runs[0])
    out.mkdir(parents=True, exist_ok=True)
    charts = draw_overlays(runs, labels, out)
    text, ratio_text, across_text = render_compare(runs, labels, charts, out)
    (out / "compare.md").write_text(text, encoding="utf-8")
    print("\n".join(f"{label} = {run.run_id} ({run.path})" for label, run in zip(labels, runs, strict=True)))
    print()
    print(ratio_text)
    print()
    print("Stack ratios across runs (compare.md says how to read them):")
    print()
    print(across_text)
    print()
    print(f"compare.md: {out / 'compare.md'}")
    print(f"charts:     {out / 'charts'}/")
    sys.stdout.flush()
    _warn(runs, labels)  # last, so it is the last thing on the screen
    return 0


def _warn(runs: list[Run], labels: list[str]) -> None:
    for line in compare_tables.speed_table(runs, labels)[1]:
        print(f"WARNING: MACHINE SPEED DIFFERS: {line}", file=sys.stderr)
    loud = loud_differences(runs)
    if loud:
        print("WARNING: THESE RUNS DIFFER IN MACHINE, LIMITS OR VERSIONS; ratios mix those differences with "
              "the stacks' own:", file=sys.stderr)
        for d in loud:
            values = ", ".join(f"{label}={value}" for label, value in zip(labels, d.values, strict=True))
            print(f"WARNING:   {d.key}: {values}", file=sys.stderr)
    for line in run_warnings(runs, labels):
        print(f"WARNING: {line}", file=sys.stderr)
