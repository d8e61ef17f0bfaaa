"""The window rule and the steady-state checks (bench/driver/window.py): pure logic."""

import pytest

from bench.driver.window import (
    TARGET_COMPLETIONS_PER_CONNECTION,
    Steady,
    Window,
    littles_law,
    plan_window,
    validity_flags,
)


def test_a_fast_level_gets_the_profiles_duration():
    window = plan_window(4, 12, 8, 5000.0)
    assert window == Window(4, 5000.0, 24, False)


def test_a_slow_level_gets_enough_completions_per_connection():
    # 10 per connection x 16 connections at 20 RPS = 8 s, rounded up to whole seconds
    window = plan_window(4, 12, 16, 20.0)
    assert window.planned_s == 8 == TARGET_COMPLETIONS_PER_CONNECTION * 16 / 20
    assert not window.capped
    assert plan_window(4, 12, 16, 19.0).planned_s == 9


def test_a_level_that_needs_more_than_the_cap_is_capped_and_says_so():
    window = plan_window(4, 12, 64, 10.0)
    assert window.planned_s == 12 and window.capped and window.min_requests == 192


def test_without_an_estimate_the_cap_is_used():
    assert plan_window(4, 12, 8, None).planned_s == 12
    assert plan_window(20, 12, 8, None).planned_s == 20  # the floor wins over a smaller cap


def test_littles_law():
    steady = littles_law(95.0, 8, 80.0)  # 8 / 0.080 s = 100 RPS
    assert steady.littles_rps == pytest.approx(100.0)
    assert steady.deviation == pytest.approx(-0.05)
    assert littles_law(None, 8, 80.0) == Steady(None, None)
    assert littles_law(10.0, 8, None) == Steady(None, None)


@pytest.mark.parametrize(("requests", "deviation", "flags"), [
    (24, 0.0, []),
    (23, 0.0, ["too_short"]),
    (100, 0.11, ["not_steady"]),
    (100, -0.11, ["not_steady"]),
    (100, 0.1, []),
    (5, 0.5, ["too_short", "not_steady"]),
    (100, None, []),
])
def test_validity_flags(requests, deviation, flags):
    window = plan_window(4, 12, 8, 1000.0)
    assert validity_flags(requests, window, Steady(1.0, deviation)) == flags
