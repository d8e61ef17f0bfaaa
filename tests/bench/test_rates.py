"""The rate axis (bench/driver/rates.py) and what counts at a rate: pure planning and checks."""

import pytest

from bench.driver.rates import (
    RatesError,
    RateSpec,
    capacities,
    drifted,
    grid,
    keeping_up,
    level_seed,
    min_requests,
    parse_rates,
    plan_rate_rounds,
    rate_flags,
    rate_record,
    rate_window,
)
from bench.driver.schedule import Round
from bench.schema import CLIENT_LATE_MS, MIN_RATE_REQUESTS, RATE_KEYS, Flag, Tool


def test_rates_are_requests_per_second_or_fractions_of_capacity():
    assert parse_rates("50 100,200") == (RateSpec(50, False), RateSpec(100, False), RateSpec(200, False))
    assert parse_rates("0.3x 1.2x") == (RateSpec(0.3, True), RateSpec(1.2, True))
    assert [str(s) for s in parse_rates("0.5x 75 0.5x")] == ["0.5x", "75"]  # once each


@pytest.mark.parametrize("bad", ["", "fast", "0", "-5", "0x", "nanx", "inf", "6x", "2e6"])
def test_a_bad_rate_is_one_line_naming_it_and_what_is_allowed(bad):
    with pytest.raises(RatesError) as error:
        parse_rates(bad)
    message = str(error.value)
    assert f"--rates {bad!r} is not allowed" in message and "0.3x" in message and "\n" not in message


def test_capacity_is_the_best_level_of_counted_wrk_rows():
    def row(unit, concurrency, rps, tool="wrk", flags=(), rate=None):
        return {"stack": unit, "variant": "", "endpoint": "ping", "tool": tool, "concurrency": concurrency,
                "status": "ok", "valid": True, "rps": rps, "flags": list(flags), "rate": rate}

    rows = [row("a", 1, 100), row("a", 1, 120), row("a", 16, 400), row("a", 16, 500), row("a", 16, 450),
            row("a", 16, 9000, flags=[Flag.NOISY.value]),  # excluded: not counted
            row("a", 16, 9000, tool="ab"), row("a", 4, 9000, tool="openloop", rate={"target_rps": 9000})]
    assert capacities(rows, lambda r: r["stack"]) == {("a", "ping"): 450}


def test_each_stack_is_offered_its_fractions_and_the_others_rates_below_its_own():
    points = grid(parse_rates("0.5x 1x"), {"slow": 100.0, "fast": 1000.0})
    assert [rate for rate, _ in points] == [50, 100, 500, 1000]
    offered = dict(points)
    assert offered[50] == {"slow": 0.5, "fast": 0.05} and offered[100] == {"slow": 1.0, "fast": 0.1}
    assert offered[500] == {"fast": 0.5} and offered[1000] == {"fast": 1.0}  # far above slow's capacity


def test_rates_within_ten_percent_are_one_point_of_the_grid():
    points = grid(parse_rates("1x"), {"a": 100.0, "b": 105.0, "c": 200.0})
    assert [rate for rate, _ in points] == [100, 200]
    assert set(dict(points)[100]) == {"a", "b", "c"}  # b's own 105 merged into 100; c may take it too


def test_explicit_rates_are_offered_to_every_stack_even_without_a_capacity():
    points = grid(parse_rates("50 5000"), {"a": 100.0, "b": 0.0})
    assert [rate for rate, _ in points] == [50, 5000]
    assert dict(points)[5000] == {"a": 50.0, "b": None}


def test_the_rounds_go_repeat_first_with_the_same_arrival_seed_for_every_stack_of_a_round():
    rounds, notes = plan_rate_rounds(("a", "b", "c"), ("ping", "sync-io"), parse_rates("0.5x 1x"),
                                     {("a", "ping"): 100.0, ("b", "ping"): 1000.0, ("a", "sync-io"): 10.0,
                                      ("b", "sync-io"): 10.0}, repeats=2, seed=5, connections=256)
    assert notes == ["c ping: no counted closed-loop level, so no capacity to offer fractions of",
                     "c sync-io: no counted closed-loop level, so no capacity to offer fractions of"]
    assert [r.repeat for r in rounds] == [1] * 6 + [2] * 6
    assert {(r.endpoint, r.rate) for r in rounds if r.repeat == 1} == {
        ("ping", 50), ("ping", 100), ("ping", 500), ("ping", 1000), ("sync-io", 5), ("sync-io", 10)}
    assert all(r.tool == Tool.OPENLOOP and r.concurrency == 256 for r in rounds)
    five = next(r for r in rounds if r.endpoint == "sync-io" and r.rate == 5 and r.repeat == 1)
    assert sorted(five.order) == ["a", "b"] and five.fractions == {"a": 0.5, "b": 0.5}
    assert five.capacities == {"a": 10.0, "b": 10.0}
    record = five.record()
    assert Round.from_record(record, "sync-io") == five and record["rate"] == 5
    assert level_seed(5, "sync-io", 5, 1) == level_seed(5, "sync-io", 5.0, 1) != level_seed(5, "sync-io", 5, 2)


def test_a_closed_loop_rounds_record_is_unchanged():
    assert "rate" not in Round(Tool.WRK, "ping", 16, 1, ("a",)).record()


def test_the_window_asks_for_a_thousand_arrivals_within_the_profiles_floor_and_cap():
    assert rate_window(4, 12, 1000) == 4
    assert rate_window(4, 12, 200) == 5
    assert rate_window(4, 12, 10) == 12
    assert min_requests(1000, 4) == MIN_RATE_REQUESTS and min_requests(10, 12) == 60


def test_keeping_up_allows_for_the_requests_in_flight_at_the_windows_ends():
    # 25 arrivals at 8.3/s, 200 ms each: ~1.7 in flight at each end; 2 behind is no finding
    assert keeping_up(25, 23 / 3, 25 / 3, 200)
    # 1,600 arrivals in 1 s, answered 1,030: the server took 64 %
    assert not keeping_up(1600, 1030, 1600, 900)
    # 10,000 arrivals, 6 % behind, 1 ms each: far beyond the in-flight scatter
    assert not keeping_up(10_000, 9_400 / 10, 1000, 1)
    assert keeping_up(None, None, None, None)  # a failed level: flagged failed, not saturated
    # 290 arrivals at 24/s, 800 ms each: 5.2 % behind is within the in-flight scatter (about 21), unless the
    # latency grew through the window: then it is the queue building (a real row: halves 573 and 1,085 ms)
    assert keeping_up(290, 0.948 * 24.2, 24.2, 806)
    assert not keeping_up(290, 0.948 * 24.2, 24.2, 806, growing=True)
    assert keeping_up(290, 0.966 * 24.2, 24.2, 816, growing=True)  # 3.4 % behind: within the tolerance


def test_a_late_generator_is_flagged_only_when_its_lateness_matters():
    late = {"scheduled": 1000, "achieved_rps": 1000, "scheduled_rps": 1000, "lateness_p99_ms": CLIENT_LATE_MS + 1}
    assert rate_flags(late, {"mean": 1, "p99": 5}) == [Flag.CLIENT_LATE.value]
    assert rate_flags(late, {"mean": 100, "p99": 300}) == []  # a tenth of 300 ms: the lateness is noise there
    on_time = {**late, "lateness_p99_ms": 0.5}
    assert rate_flags(on_time, {"mean": 1, "p99": 2}) == []


def test_a_failed_levels_rate_record_still_names_its_rate_and_share():
    round_ = Round(Tool.OPENLOOP, "ping", 256, 1, ("a",), 50.0, {"a": 0.5}, {"a": 100.0})
    record = rate_record(round_, "a", None)
    assert set(record) == set(RATE_KEYS)
    assert record["target_rps"] == 50.0 and record["fraction"] == 0.5 and record["capacity_rps"] == 100.0
    assert record["achieved_rps"] is None


def test_a_window_whose_latency_moved_between_its_halves_is_not_steady():
    assert drifted(300.0, 20.0) and drifted(20.0, 300.0)  # a warm-up's queue draining; a queue growing
    assert not drifted(0.7, 1.4)  # twice, but under a millisecond apart: a burst, no trend
    assert not drifted(60.0, 110.0)  # within twice: a slow endpoint's halves scatter that much by chance
    assert not drifted(None, 5.0)
    rate = {"scheduled": 100, "achieved_rps": 10, "scheduled_rps": 10, "lateness_p99_ms": 0.5,
            "first_half_mean_ms": 400.0, "second_half_mean_ms": 30.0}
    assert rate_flags(rate, {"mean": 200, "p99": 600}) == [Flag.NOT_STEADY.value]
