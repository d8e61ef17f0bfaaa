"""Interleaved rounds (bench/driver/schedule.py) and which levels each tool gets
(bench/profiles.py): pure logic."""

from collections import Counter

from bench.driver.schedule import build_rounds
from bench.driver.variants import build_variants, stack_units
from bench.profiles import PROFILES, ToolPlan
from bench.schema import Endpoint, Tool

STACKS = ("django-wsgi", "django-asgi", "fastapi")
ENDPOINTS = (Endpoint.PING, Endpoint.SYNC_IO)


def rounds(tools=(Tool.WRK, Tool.AB), profile="quick", seed=1):
    plan = ToolPlan(PROFILES[profile], tools)
    return build_rounds(STACKS, tools, ENDPOINTS, plan.levels, plan.repeats, seed)


def test_every_round_measures_every_stack_once():
    for rnd in rounds():
        assert sorted(rnd.order) == sorted(STACKS)


def test_the_same_seed_gives_the_same_orders_and_another_seed_others():
    assert rounds(seed=5) == rounds(seed=5)
    assert [r.order for r in rounds(seed=5)] != [r.order for r in rounds(seed=6)]


def test_orders_are_drawn_afresh_for_every_round():
    orders = Counter(r.order for r in rounds())
    assert len(orders) > 1 and max(orders.values()) < len(rounds())


def test_rounds_go_repeat_first():
    repeats = [r.repeat for r in rounds(tools=(Tool.WRK,))]
    assert repeats == sorted(repeats)
    assert repeats.count(1) == len(ENDPOINTS)


def test_the_headline_endpoints_get_more_rounds_in_the_quick_profile():
    per_endpoint = Counter(r.endpoint for r in rounds(tools=(Tool.WRK,)))
    assert per_endpoint == {Endpoint.PING: 22, Endpoint.SYNC_IO: 18}
    plan = ToolPlan(PROFILES["quick"], (Tool.WRK,))
    assert plan.repeats(Tool.WRK, Endpoint.SYNC) == 4
    assert ToolPlan(PROFILES["quick"].with_repeats(3), (Tool.WRK,)).repeats(Tool.WRK, Endpoint.PING) == 3


def test_quick_profile_levels_and_ab_as_a_one_round_cross_check():
    quick = [r for r in rounds() if r.tool == Tool.WRK]
    assert {(r.endpoint, r.concurrency) for r in quick} == {(Endpoint.PING, 16), (Endpoint.SYNC_IO, 4)}
    ab = [r for r in rounds() if r.tool == Tool.AB]
    assert len(ab) == len(ENDPOINTS) and {r.repeat for r in ab} == {1}
    plan = ToolPlan(PROFILES["quick"], (Tool.WRK, Tool.AB))
    assert plan.levels(Tool.AB, Endpoint.SYNC) == () and plan.levels(Tool.WRK, Endpoint.SYNC) == (2,)


def test_ab_alone_is_measured_like_wrk():
    plan = ToolPlan(PROFILES["standard"], (Tool.AB,))
    assert plan.levels(Tool.AB, Endpoint.SYNC) == (4, 16, 64) and plan.repeats(Tool.AB, Endpoint.SYNC) == 5
    both = ToolPlan(PROFILES["standard"], (Tool.WRK, Tool.AB))
    assert both.levels(Tool.AB, Endpoint.SYNC) == (4,) and both.repeats(Tool.AB, Endpoint.SYNC) == 3


def test_profiles_round_trip_through_run_json():
    for profile in PROFILES.values():
        assert type(profile).from_record(profile.record()) == profile


def test_the_latency_profile_measures_django_at_each_round_trip_with_wsgi_at_each_thread_count():
    latency = PROFILES["latency"]
    assert latency.endpoints == ("sync-io",) and latency.stacks == ("django-wsgi", "django-asgi")
    assert latency.vary == {"DB_LATENCY_MS": ("0", "2", "5"), "DJANGO_WSGI_BLOCKING_THREADS": ("8", "32", "64")}
    units = stack_units(build_variants(latency.vary), latency.stacks)
    # ASGI reads no WSGI thread setting: one server per round trip, not three
    assert len(units) == 3 * 3 + 3 and "django-asgi@DB_LATENCY_MS=5" in units
    assert "django-wsgi@DB_LATENCY_MS=5,DJANGO_WSGI_BLOCKING_THREADS=32" in units
    plan = ToolPlan(latency, (Tool.WRK, Tool.AB))
    found = build_rounds(units, (Tool.WRK, Tool.AB), (Endpoint.SYNC_IO,), plan.levels, plan.repeats, 3)
    assert {r.tool for r in found} == {Tool.WRK} and len(found) == 2 * latency.repeats
    assert all(sorted(r.order) == sorted(units) for r in found)
