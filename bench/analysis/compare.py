"""`python -m bench compare RUN_A RUN_B [...] [--out DIR]`: overlay charts and a ratio
table across runs, e.g. the manual flow where Django is served once with USE_ASGI=false
and once with USE_ASGI=true and each is measured with `bench/run_wrk.sh --url`.

Runs made on different machines, limits or versions are not comparable without saying
so: every differing key is named, with its values, loudly on stderr and at the top of
compare.md. Differing settings and profiles are listed too, but quietly, since toggling
USE_ASGI changes settings on purpose.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib import colormaps
from matplotlib.colors import to_hex

from bench.analysis import markdown, sentences
from bench.analysis.frames import UNKNOWN, Run, RunError, aggregate, best_levels, load_run
from bench.analysis.plots import METRICS, chart_name, draw_metric, endpoint_series
from bench.analysis.stacks import endpoint_sort_key, endpoint_title, stack_label, stack_sort_key

# Metadata that makes runs incomparable when it differs (dotted keys flatten nested dicts).
LOUD_KEYS = ("host", "cpu_model", "cpu_count", "kernel", "os", "python", "git_sha", "limiter", "placement",
             "packages", "tools", "database")
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


def ratio_table(runs: list[Run], labels: list[str]) -> dict[str, pd.DataFrame]:
    """Per endpoint: each run x stack x tool at its best level, with the ratio to the baseline
    (the first run's first stack in table order measured on that endpoint with that tool)."""
    frames = [best_levels(aggregate(run.rows)).assign(run=label, run_order=order)
              for order, (label, run) in enumerate(zip(labels, runs, strict=True))]
    every = pd.concat(frames, ignore_index=True)
    every["stack_order"] = every["stack"].map(stack_sort_key)
    every = every.sort_values(["run_order", "stack_order"], kind="stable")
    tables = {}
    for endpoint in sorted(every["endpoint"].unique(), key=endpoint_sort_key):
        rows = []
        for tool, group in every[every["endpoint"] == endpoint].groupby("tool", sort=False):
            baseline = group.iloc[0]
            for index, row in group.iterrows():
                comparison = sentences.Comparison(row, baseline)
                rows.append({"run": row["run"], "stack": row["stack"], "tool": tool,
                             "best median RPS": f"{row['rps_median']:,.1f}",
                             "at concurrency": row["concurrency"],
                             "RPS range (repeats)": f"{row['rps_min']:,.1f}–{row['rps_max']:,.1f}",
                             "p99 (ms)": sentences.fmt_ms(row["latency_ms_p99_median"]),
                             "ratio": f"{comparison.ratio:.2f}×",
                             "baseline": f"{baseline['run']} · {baseline['stack']}",
                             "within noise of baseline": _noise(comparison, index == group.index[0]),
                             "flags": ", ".join(row["flags"]) or "none"})
        tables[endpoint] = pd.DataFrame(rows)
    return tables


def _noise(comparison: sentences.Comparison, is_baseline: bool) -> str:
    if is_baseline:
        return "baseline"
    if comparison.single_repeat:
        return "unknown (1 repeat)"
    return "yes" if comparison.overlap else "no"


def _md_table(frame: pd.DataFrame) -> str:
    return markdown.table(list(frame.columns), frame.itertuples(index=False))


def _loud_block(labels: list[str], loud: list[Difference], incomplete: list[str]) -> str:
    text = []
    if loud:
        text += ["> **WARNING: THESE RUNS DIFFER IN MACHINE, LIMITS OR VERSIONS.** Ratios between them mix "
                 "those differences with the stacks' own: " + ", ".join(f"`{d.key}`" for d in loud) + ".", "",
                 markdown.table(["key", *labels], [(d.key, *d.values) for d in loud]), ""]
    if incomplete:
        text += ["> **WARNING: SOME RUNS ARE INCOMPLETE**: " + "; ".join(incomplete) + ".", ""]
    return "\n".join(text)


def render_compare(runs: list[Run], labels: list[str], charts: list[Path], out: Path) -> tuple[str, str]:
    """compare.md, and the ratio tables alone (printed to stdout)."""
    loud, quiet = loud_differences(runs), quiet_differences(runs)
    tables = ratio_table(runs, labels)
    ratio_text = "\n\n".join(f"### {endpoint_title(e)}\n\n{_md_table(t)}" for e, t in tables.items()) or \
        "No run has a valid measurement."
    parts = [f"# Comparison of runs {', '.join(labels)}", "",
             _loud_block(labels, loud, run_warnings(runs, labels))]
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
    parts += ["## Best throughput per run and stack", "",
              ("Each series at its best level (highest median RPS); the ratio is to the baseline named in "
               "each row, measured with the same tool. \"Within noise\" means the repeats' min-max ranges "
               "overlap."), "",
              ratio_text, "", "## Charts", ""]
    parts += [f"![{path.stem}]({path.relative_to(out).as_posix()})\n" for path in charts]
    return "\n".join(parts) + "\n", ratio_text


def draw_overlays(runs: list[Run], labels: list[str], out: Path) -> list[Path]:
    """Throughput and p99 vs concurrency per endpoint, one line per run x stack x tool."""
    colours: dict[tuple[str, str], str] = {}
    levels = [aggregate(run.rows) for run in runs]
    endpoints = sorted(set().union(*(set(run.rows["endpoint"]) for run in runs)), key=endpoint_sort_key)
    footer = "; ".join(f"{label} = {run.run_id}" for label, run in zip(labels, runs, strict=True))
    paths = []
    for endpoint in endpoints:
        series = []
        for label, run, run_levels in zip(labels, runs, levels, strict=True):
            def colour_of(stack: str, label: str = label) -> str:
                return colours.setdefault((label, stack), COLOURS[len(colours) % len(COLOURS)])

            series += endpoint_series(run.rows, run_levels, endpoint, prefix=f"{label} · ",
                                      colour_of=colour_of)
        for metric in OVERLAY_METRICS:
            title = f"{metric.title} vs concurrency — {endpoint_title(endpoint)}, runs {', '.join(labels)}"
            path = out / "charts" / chart_name(endpoint, metric)
            paths.append(draw_metric(series, metric, title, footer, path))
    return paths


def default_out(first_run: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return first_run.resolve().parent / f"compare-{stamp}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench compare",
        description="Overlay charts and a ratio table across runs; "
                    "warns when machine, limits or versions differ.")
    parser.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR", help="two or more run folders")
    parser.add_argument("--out", type=Path,
                        help="output folder (default: compare-<UTC timestamp> next to the first run)")
    args = parser.parse_args(argv)
    if len(args.runs) < 2:
        print("bench compare: give at least two run folders", file=sys.stderr)
        return 2
    try:
        runs = [load_run(path) for path in args.runs]
    except RunError as exc:
        print(f"bench compare: {exc}", file=sys.stderr)
        return 2
    labels = [chr(ord("A") + i) if i < 26 else f"R{i + 1}" for i in range(len(runs))]
    out = args.out or default_out(args.runs[0])
    out.mkdir(parents=True, exist_ok=True)
    charts = draw_overlays(runs, labels, out)
    text, ratio_text = render_compare(runs, labels, charts, out)
    (out / "compare.md").write_text(text, encoding="utf-8")
    print("\n".join(f"{label} = {run.run_id} ({run.path})" for label, run in zip(labels, runs, strict=True)))
    print()
    print(ratio_text)
    print()
    print(f"compare.md: {out / 'compare.md'}")
    print(f"charts:     {out / 'charts'}/")
    sys.stdout.flush()
    _warn(runs, labels)  # last, so it is the last thing on the screen
    return 0


def _warn(runs: list[Run], labels: list[str]) -> None:
    loud = loud_differences(runs)
    if loud:
        print("WARNING: THESE RUNS DIFFER IN MACHINE, LIMITS OR VERSIONS; ratios mix those differences with "
              "the stacks' own:", file=sys.stderr)
        for d in loud:
            values = ", ".join(f"{label}={value}" for label, value in zip(labels, d.values, strict=True))
            print(f"WARNING:   {d.key}: {values}", file=sys.stderr)
    for line in run_warnings(runs, labels):
        print(f"WARNING: {line}", file=sys.stderr)
