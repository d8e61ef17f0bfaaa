"""frames.py on real saved runs: the new per-row dicts are flattened, `counted` follows the
contract's rule, the per-round ratio frame pairs rows of the same round, and rows of the
old schema are refused with one line."""

import pytest
from saved_runs import RUN_DIRS, counted, read_info, read_rows, write_run

from bench.analysis.frames import RunError, flatten, load_run, round_ratios


@pytest.mark.parametrize("run_dir", RUN_DIRS, ids=[p.name for p in RUN_DIRS])
def test_new_dicts_are_flattened_and_counted_follows_the_contract(run_dir):
    rows = read_rows(run_dir)
    frame = load_run(run_dir).rows
    for column in ("window_planned_s", "window_min_requests", "warmup_connections_answered", "drain_drained",
                   "steady_littles_rps", "steady_deviation", "noise_foreign_cpu_share", "noise_steal_share",
                   "speed", "position"):
        assert column in frame.columns, column
    expected = sorted((r["stack"], r["endpoint"], r["tool"], r["concurrency"], r["repeat"]) for r in rows
                      if counted(r))
    shown = sorted(frame.loc[frame["counted"], ["stack", "endpoint", "tool", "concurrency", "repeat"]]
                   .itertuples(index=False, name=None))
    assert shown == expected
    with_deviation = [r for r in rows if r["steady"]["deviation"] is not None]
    assert frame["steady_deviation"].notna().sum() == len(with_deviation)


@pytest.mark.parametrize("run_dir", RUN_DIRS, ids=[p.name for p in RUN_DIRS])
def test_round_ratios_pair_rows_of_the_same_round(run_dir):
    rows = read_rows(run_dir)
    stacks = sorted({r["stack"] for r in rows})
    if len(stacks) < 2:
        pytest.skip("one stack only")
    a, b = stacks[0], stacks[1]
    rps = {(r["stack"], r["endpoint"], r["tool"], r["concurrency"], r["repeat"]): r["rps"]
           for r in rows if counted(r)}
    ratios = round_ratios(load_run(run_dir).rows, a, b)
    expected = {key[1:]: value / rps[(b, *key[1:])] for key, value in rps.items()
                if key[0] == a and (b, *key[1:]) in rps}
    shown = {(r.endpoint, r.tool, r.concurrency, r.repeat): r.ratio for r in ratios.itertuples()}
    assert shown == pytest.approx(expected)


def test_an_empty_run_flattens_to_no_rows():
    frame = flatten([])
    assert frame.empty and "counted" in frame.columns


def test_old_schema_rows_are_refused_in_one_line(tmp_path):
    rows = [dict(r, schema_version=1) for r in read_rows(RUN_DIRS[0])]
    run = load_run(write_run(RUN_DIRS[0], tmp_path / "run", rows))
    assert run.rows.empty
    assert [p for p in run.problems if "schema_version" in p] == [
        f"results.jsonl: {len(rows)} row(s) of another schema_version refused (this analysis reads 2 and 3: every "
        "stack measured in interleaved rounds)"]


def test_an_old_run_folder_is_refused(tmp_path):
    info = dict(read_info(RUN_DIRS[0]), schema_version=1)
    run_dir = write_run(RUN_DIRS[0], tmp_path / "run", info=info)
    with pytest.raises(RunError, match="schema_version 1, this analysis reads 2"):
        load_run(run_dir)
