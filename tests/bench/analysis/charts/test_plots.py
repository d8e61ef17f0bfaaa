"""Charts of real saved runs: the ratio chart and one figure per measure, nothing else, each a
valid image of the fixed size with a panel per endpoint; nothing a flag says can go
unmarked, and the summary ratio chart plots the paired ratios recomputed here from the rows."""

import contextlib
import json
import shutil
from collections import defaultdict
from pathlib import Path

import pytest
from matplotlib.colors import to_hex
from PIL import Image
from saved_runs import EXCLUDING, RUN_DIRS, counted, read_rows
from scipy import stats as scipy_stats

from bench.analysis.charts import marks, plots, ratio_chart
from bench.analysis.frames import aggregate, load_run
from bench.analysis.stacks import FALLBACK_COLOURS, STACK_STYLES, endpoint_sort_key, endpoint_title, stack_style
from bench.schema import Flag
from lab.stacks import STACKS

# Written out here, not read from plots.METRICS, so a chart dropped from the code fails the test.
MEASURES = ("server-cpu-ms", "throughput", "latency-p99", "server-memory", "error-rate", "client-cpu")
SUMMARY = "summary-ratios.png"
SIZE = (1200, 700)
MOST_FILES = 10  # the "at most about ten" charts per run


def endpoints_in(run_dir: Path) -> set[str]:
    lines = (run_dir / "results.jsonl").read_text().splitlines()
    endpoints = set()
    for line in lines:
        with contextlib.suppress(ValueError):  # an interrupted run's cut-short last line
            endpoints.add(json.loads(line)["endpoint"])
    return endpoints


@pytest.fixture(scope="module", params=RUN_DIRS, ids=[p.name for p in RUN_DIRS])
def drawn(request, tmp_path_factory) -> tuple[Path, list[Path]]:
    run_dir = tmp_path_factory.mktemp("run") / request.param.name
    shutil.copytree(request.param, run_dir)
    return run_dir, plots.draw_run_charts(load_run(run_dir), run_dir / "charts")


def test_every_expected_chart_exists_and_nothing_else(drawn):
    run_dir, paths = drawn
    expected = {f"{name}.png" for name in MEASURES} | {SUMMARY}
    assert plots.SUMMARY_CHART == SUMMARY
    assert {p.name for p in (run_dir / "charts").iterdir()} == expected
    assert [p.name for p in paths][:2] == [SUMMARY, "server-cpu-ms.png"]  # the report's order
    assert {p.name for p in paths} == expected
    assert len(paths) <= MOST_FILES


def test_a_measure_has_a_panel_per_endpoint_in_one_colour_per_stack(drawn):
    """A titled panel per endpoint, in table order, each showing exactly the stacks with a
    counted figure there, each in its stack's colour."""
    run_dir, _ = drawn
    run = load_run(run_dir)
    levels = aggregate(run.rows)
    endpoints = sorted(endpoints_in(run_dir), key=endpoint_sort_key)
    metric = plots.METRICS[0]
    panels = {e: plots.endpoint_series(run.rows, levels, e) for e in endpoints}
    fig = plots.measure_figure(panels, metric, "title", "footer")
    titled = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in titled] == [endpoint_title(e) for e in endpoints]
    for endpoint, ax in zip(endpoints, titled, strict=True):
        expected = {stack_style(r["stack"]).colour for r in read_rows(run_dir)
                    if r["endpoint"] == endpoint and counted(r) and r["server"]["cpu_ms_per_req"] is not None}
        assert {to_hex(line.get_color()) for line in ax.get_lines()} == expected, endpoint


def test_every_flagged_point_is_marked(drawn):
    """Each series carrying a flag (any flag of a counted row, the excluding flag of a row
    counted nowhere, a failed row) adds its marker to its endpoint's panel: at least one
    marker collection per such series and flag."""
    run_dir, _ = drawn
    run = load_run(run_dir)
    levels = aggregate(run.rows)
    endpoints = sorted(endpoints_in(run_dir), key=endpoint_sort_key)
    fig = plots.measure_figure({e: plots.endpoint_series(run.rows, levels, e) for e in endpoints},
                               plots.METRICS[0], "title", "footer")
    titled = [ax for ax in fig.axes if ax.get_title()]
    for endpoint, ax in zip(endpoints, titled, strict=True):
        pairs = set()
        for row in read_rows(run_dir):
            if row["endpoint"] == endpoint:
                series = (row["stack"], row["tool"])
                shown = row["flags"] if counted(row) else [f for f in row["flags"] if f in EXCLUDING]
                pairs |= {(series, f) for f in shown}
                pairs |= {(series, "failed")} if row["status"] == "failed" else set()
        assert len(ax.collections) >= len(pairs), endpoint


def test_charts_are_valid_pngs_of_the_fixed_size(drawn):
    _, paths = drawn
    assert plots.CHART_SIZE_PX == SIZE
    for path in paths:
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            assert (image.format, image.size) == ("PNG", SIZE), path.name


@pytest.mark.parametrize("run_dir", RUN_DIRS, ids=[p.name for p in RUN_DIRS])
def test_ratio_points_are_the_paired_ratios_of_the_rows(run_dir):
    """Each point: geometric mean of stack/django-wsgi over rounds where both were counted."""
    run = load_run(run_dir)
    points = ratio_chart.ratio_points(run.rows, aggregate(run.rows))
    by_round = defaultdict(dict)
    for row in read_rows(run_dir):
        if counted(row):
            by_round[(row["stack"], row["endpoint"], row["tool"], row["concurrency"])][row["repeat"]] = row["rps"]
    stacks = {r["stack"] for r in read_rows(run_dir)}
    assert bool(points) == ("django-wsgi" in stacks and len(stacks) > 1)
    for point in points:
        assert point.tool == "wrk" or not any(k[2] == "wrk" for k in by_round)
        wsgi = {k[3]: v for k, v in by_round.items() if k[0:3] == ("django-wsgi", point.endpoint, point.tool)}
        if not wsgi:  # django-wsgi has rows here but none counted: nothing to pair
            assert point.verdict.n == 0
            continue
        headline = max(wsgi, key=lambda c: (len(wsgi[c]), scipy_stats.gmean(list(wsgi[c].values())), -c))
        assert point.concurrency == headline
        mine = by_round[(point.stack, point.endpoint, point.tool, point.concurrency)]
        base = by_round[("django-wsgi", point.endpoint, point.tool, point.concurrency)]
        rounds = sorted(set(mine) & set(base))
        assert point.verdict.n == len(rounds)
        if rounds:
            assert point.verdict.estimate == pytest.approx(scipy_stats.gmean([mine[r] / base[r] for r in rounds]))
        assert (point.verdict.kind == "no verdict") == (len(rounds) < 3)


def test_every_flag_has_its_own_marker():
    assert set(marks.MARKS) == {f.value for f in Flag}
    assert len({m.marker for m in marks.MARKS.values()}) == len(marks.MARKS)


def test_stack_colours_come_from_the_registry_with_a_stable_fallback():
    assert set(STACK_STYLES) == set(STACKS)
    assert len({s.colour for s in STACK_STYLES.values()}) == len(STACK_STYLES)
    unknown = stack_style("my-custom-stack")
    assert unknown.label == "my-custom-stack"
    assert unknown.colour in FALLBACK_COLOURS
    assert unknown.colour not in {s.colour for s in STACK_STYLES.values()}
    assert stack_style("my-custom-stack") == unknown
