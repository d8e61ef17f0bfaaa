"""Charts of real saved runs: every expected PNG exists, is a valid image of the fixed size,
nothing a flag says can go unmarked, and the summary ratio chart plots the paired ratios
recomputed here from the rows."""

import contextlib
import json
import shutil
from collections import defaultdict
from pathlib import Path

import pytest
from PIL import Image
from saved_runs import RUN_DIRS, counted, read_rows
from scipy import stats as scipy_stats

from bench.analysis import plots, ratio_chart
from bench.analysis.frames import aggregate, load_run
from bench.analysis.stacks import FALLBACK_COLOURS, STACK_STYLES, stack_style
from bench.schema import Flag, Stack

# Written out here, not read from plots.METRICS, so a chart dropped from the code fails the test.
CHARTS_PER_ENDPOINT = ("throughput", "latency-p50", "latency-p99", "error-rate", "server-cpu-ms", "db-cpu-ms",
                       "server-memory", "client-cpu")
SUMMARY = "summary-ratios.png"
SIZE = (1200, 700)


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
    expected = {f"{e}-{name}.png" for e in endpoints_in(run_dir) for name in CHARTS_PER_ENDPOINT}
    expected.add(SUMMARY)
    assert plots.SUMMARY_CHART == SUMMARY
    assert {p.name for p in (run_dir / "charts").iterdir()} == expected
    assert {p.name for p in paths} == expected


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
    assert set(plots.MARKS) == {f.value for f in Flag}
    assert len({m.marker for m in plots.MARKS.values()}) == len(plots.MARKS)


def test_stack_colours_come_from_one_table_with_a_stable_fallback():
    assert set(STACK_STYLES) == {s.value for s in Stack}
    assert len({s.colour for s in STACK_STYLES.values()}) == len(STACK_STYLES)
    unknown = stack_style("my-custom-stack")
    assert unknown.label == "my-custom-stack"
    assert unknown.colour in FALLBACK_COLOURS
    assert unknown.colour not in {s.colour for s in STACK_STYLES.values()}
    assert stack_style("my-custom-stack") == unknown
