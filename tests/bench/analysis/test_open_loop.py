"""The open loop's figures (bench/analysis/open_loop.py) on fixed rows: the sustainable rate
per round and over rounds, the paired ratios, and the low-load cross-check."""

import math

import pytest

from bench.analysis import open_loop, stats
from bench.analysis.frames import flatten
from bench.schema import Flag

SLO = 100.0


def row(stack, rate, repeat, p99, flags=(), status="ok", errors=0, p50=None, endpoint="ping"):
    ok = status == "ok"
    return {"stack": stack, "endpoint": endpoint, "tool": "openloop", "concurrency": 256, "repeat": repeat,
            "variant": "", "status": status, "valid": ok, "rps": rate if ok else None, "flags": list(flags),
            "error_count": errors if ok else None,
            "latency_ms": {"p50": p50 if p50 is not None else p99 / 3, "p99": p99} if ok else {},
            "rate": {"target_rps": rate, "scheduled_rps": rate, "achieved_rps": rate if ok else None,
                     "fraction": None, "lateness_p99_ms": 0.5}}


SAT = [Flag.SATURATED.value]
ROWS = [
    # WSGI: 100, 200 and 400 under the target in every round, 800 saturated
    *(row("django-wsgi", rate, r, 10) for r in (1, 2, 3) for rate in (100, 200, 400)),
    *(row("django-wsgi", 800, r, 900, SAT) for r in (1, 2, 3)),
    # ASGI: round 1 passes the target at 200; round 2 saturates at 400; round 3 is noisy at 100
    # (says nothing) and fails the target at 400
    row("django-asgi", 100, 1, 20), row("django-asgi", 200, 1, 150), row("django-asgi", 400, 1, 5, SAT),
    row("django-asgi", 100, 2, 20), row("django-asgi", 200, 2, 40), row("django-asgi", 400, 2, 900, SAT),
    row("django-asgi", 100, 3, 20, [Flag.NOISY.value]), row("django-asgi", 200, 3, 40), row("django-asgi", 400, 3, 120),
    # FastAPI sustains every rate offered; a failed level and failed requests stop raw ones at once
    *(row("fastapi", rate, r, 5) for r in (1, 2, 3) for rate in (100, 200)),
    row("raw-asgi", 100, 1, 1, status="failed", flags=[Flag.FAILED.value]),
    row("raw-asgi", 100, 2, 1, errors=3), row("raw-asgi", 100, 3, 1, errors=0),
]


@pytest.fixture(scope="module")
def rows():
    return flatten(ROWS)


def test_the_sustainable_rate_is_the_highest_rate_below_the_first_one_not_sustained(rows):
    found = open_loop.sustainable(rows, SLO)
    wsgi, asgi = found[("django-wsgi", "ping")], found[("django-asgi", "ping")]
    assert wsgi.per_round == {1: 400, 2: 400, 3: 400} and not wsgi.at_least and wsgi.highest_offered == 800
    assert wsgi.estimate.estimate == pytest.approx(400) and wsgi.estimate.low == wsgi.estimate.high
    assert asgi.per_round == {1: 100, 2: 200, 3: 200}  # round 3: the noisy 100 is stepped over
    assert asgi.estimate.estimate == pytest.approx((100 * 200 * 200) ** (1 / 3))
    assert asgi.estimate.low < asgi.estimate.estimate < asgi.estimate.high


def test_a_stack_that_sustained_every_rate_offered_is_a_lower_bound(rows):
    fastapi = open_loop.sustainable(rows, SLO)[("fastapi", "ping")]
    assert fastapi.at_least and fastapi.per_round == {1: 200, 2: 200, 3: 200}


def test_a_failed_level_or_failed_requests_sustain_nothing(rows):
    raw = open_loop.sustainable(rows, SLO)[("raw-asgi", "ping")]
    assert raw.per_round == {1: 0.0, 2: 0.0, 3: 100}
    assert raw.estimate.n == 1 and not raw.at_least  # the rounds that sustained none have no logarithm


def test_the_target_decides(rows):
    assert open_loop.sustainable(rows, 10.0)[("django-wsgi", "ping")].per_round == {1: 0.0, 2: 0.0, 3: 0.0}
    # round 3's 120 ms at 400 is under a 1 s target; rounds 1 and 2 saturated there
    assert open_loop.sustainable(rows, 1000.0)[("django-asgi", "ping")].per_round == {1: 200, 2: 200, 3: 400}


def test_the_ratio_of_sustainable_rates_pairs_rounds(rows):
    found = open_loop.sustainable(rows, SLO)
    ratio = open_loop.sustained_ratio(found[("django-asgi", "ping")], found[("django-wsgi", "ping")])
    assert ratio.n == 3 and ratio.estimate == pytest.approx((0.25 * 0.5 * 0.5) ** (1 / 3))
    assert ratio.kind == stats.Kind.WITHIN_NOISE  # 0.25, 0.5, 0.5: three rounds this far apart say no more


def test_p99_ratios_pair_the_rounds_both_were_counted_at_a_rate(rows):
    ratios = dict(open_loop.p99_ratios(rows, "django-asgi", "django-wsgi", "ping"))
    assert set(ratios) == {100.0, 200.0, 400.0}
    assert ratios[100.0].n == 2 and ratios[100.0].estimate == pytest.approx(2.0)  # round 3 noisy: left out
    assert ratios[200.0].n == 3
    assert ratios[400.0].n == 1  # rounds 1 and 2 saturated: no latency at that rate


def test_levels_count_saturated_rows_apart(rows):
    levels = open_loop.latency_levels(rows)
    asgi400 = levels[(levels["stack"] == "django-asgi") & (levels["rate"] == 400)].iloc[0]
    assert (asgi400["rounds"], asgi400["counted"], asgi400["saturated"]) == (3, 1, 2)
    assert asgi400["p99"].estimate == pytest.approx(120) and asgi400["p99"].n == 1
    wsgi800 = levels[(levels["stack"] == "django-wsgi") & (levels["rate"] == 800)].iloc[0]
    assert wsgi800["counted"] == 0 and math.isnan(wsgi800["p99"].estimate)


def test_the_cross_check_compares_low_load_with_one_connection():
    rates = flatten([row("django-wsgi", 50, r, 9, p50=3.3) for r in (1, 2, 3)]
                    + [row("django-wsgi", 500, 1, 9, p50=8.0), row("django-asgi", 50, 1, 9, p50=9.0)])
    closed = flatten([{**row("django-wsgi", 0, r, 9, p50=3.0), "tool": "wrk", "concurrency": 1, "rate": None}
                      for r in (1, 2)]
                     + [{**row("django-asgi", 0, 1, 9, p50=3.0), "tool": "wrk", "concurrency": 1, "rate": None}])
    checks = {c.stack: c for c in open_loop.cross_checks(rates, closed)}
    assert checks["django-wsgi"].rate == 50 and checks["django-wsgi"].agrees
    assert checks["django-wsgi"].deviation == pytest.approx(0.1)
    assert not checks["django-asgi"].agrees  # 3x the service time at low load: something is wrong
    sub_ms = open_loop.CrossCheck("django-wsgi", "ping", 50, 0.87, 0.21)
    assert sub_ms.agrees  # +0.66 ms: an idle machine waking for each request, within the slack
    assert not open_loop.CrossCheck("django-wsgi", "sync-io", 5, 110.0, 78.0).agrees  # +41 %
