"""Charts of real saved runs: every expected PNG exists, is a valid image of the fixed size,
and nothing a flag says can go unmarked."""

import contextlib
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image
from saved_runs import RUN_DIRS

from bench.analysis import plots
from bench.analysis.frames import load_run
from bench.analysis.stacks import FALLBACK_COLOURS, STACK_STYLES, stack_style
from bench.schema import Flag, Stack

# Written out here, not read from plots.METRICS, so a chart dropped from the code fails the test.
CHARTS_PER_ENDPOINT = ("throughput", "latency-p50", "latency-p99", "error-rate", "server-cpu-ms", "db-cpu-ms",
                       "server-memory", "client-cpu")
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
    expected.add("summary-best-throughput.png")
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
