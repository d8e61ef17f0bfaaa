"""bench/analysis/stats.py on hand-chosen values whose answers are checked independently:
t quantiles from printed tables, Welch's degrees of freedom written out, scipy's gmean."""

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from bench.analysis import stats

# Two-sided 95 % Student t quantiles, as printed in any t table.
T_975 = {1: 12.706204736, 2: 4.302652730, 3: 3.182446305, 4: 2.776445105}


def test_geometric_interval_of_powers_of_ten_matches_the_t_table():
    """log10 of 1, 10, 100 is 0, 1, 2: mean 1, sd 1, so the interval is 10**(1 ± t/sqrt(3))."""
    estimate = stats.geometric_interval([1.0, 10.0, 100.0])
    half = T_975[2] / math.sqrt(3)
    assert estimate.n == 3
    assert estimate.estimate == pytest.approx(10.0)
    assert estimate.low == pytest.approx(10 ** (1 - half), rel=1e-8)
    assert estimate.high == pytest.approx(10 ** (1 + half), rel=1e-8)


def test_geometric_interval_agrees_with_scipy_gmean_and_skips_what_has_no_log():
    values = [812.0, 790.5, 845.25, 0.0, float("nan"), -3.0, 801.0]
    estimate = stats.geometric_interval(values)
    kept = [812.0, 790.5, 845.25, 801.0]
    assert estimate.n == 4
    assert estimate.estimate == pytest.approx(scipy_stats.gmean(kept))
    assert estimate.low < estimate.estimate < estimate.high


def test_one_value_has_an_estimate_and_no_interval():
    estimate = stats.geometric_interval([42.0])
    assert (estimate.estimate, estimate.n) == (pytest.approx(42.0), 1)
    assert not estimate.has_interval
    assert stats.geometric_interval([]).n == 0


def test_paired_ratio_of_constant_ratios_is_exact_and_ahead():
    verdict = stats.paired_ratio([2.0, 4.0, 8.0], [1.0, 2.0, 4.0])
    assert (verdict.estimate, verdict.low, verdict.high) == pytest.approx((2.0, 2.0, 2.0))
    assert verdict.n == 3
    assert verdict.kind is stats.Kind.AHEAD


def test_paired_ratio_interval_containing_one_is_within_noise():
    a, b = [90.0, 110.0, 100.0], [100.0, 100.0, 100.0]
    verdict = stats.paired_ratio(a, b)
    logs = np.log(np.array(a) / np.array(b))
    half = T_975[2] * logs.std(ddof=1) / math.sqrt(3)
    assert verdict.estimate == pytest.approx(math.exp(logs.mean()))
    assert verdict.low == pytest.approx(math.exp(logs.mean() - half), rel=1e-8)
    assert verdict.high == pytest.approx(math.exp(logs.mean() + half), rel=1e-8)
    assert verdict.low < 1.0 < verdict.high
    assert verdict.kind is stats.Kind.WITHIN_NOISE
    assert "contains 1" in verdict.reason


def test_paired_ratio_whose_interval_lies_below_one_is_behind():
    verdict = stats.paired_ratio([50.0, 52.0, 48.0, 51.0], [100.0, 100.0, 100.0, 100.0])
    logs = np.log([0.50, 0.52, 0.48, 0.51])
    half = T_975[3] * logs.std(ddof=1) / 2
    assert verdict.high == pytest.approx(math.exp(logs.mean() + half), rel=1e-8)
    assert verdict.high < 1.0
    assert verdict.kind is stats.Kind.BEHIND


def test_identical_stacks_are_within_noise_with_a_point_interval():
    verdict = stats.paired_ratio([7.0, 9.0, 8.0], [7.0, 9.0, 8.0])
    assert (verdict.estimate, verdict.low, verdict.high) == (1.0, 1.0, 1.0)
    assert verdict.kind is stats.Kind.WITHIN_NOISE


@pytest.mark.parametrize("n", [0, 1, 2])
def test_fewer_than_three_rounds_give_no_verdict_and_say_so(n):
    verdict = stats.paired_ratio([2.0] * n, [1.0] * n)
    assert verdict.kind is stats.Kind.NO_VERDICT
    assert verdict.reason == f"no verdict: only {n} counted round(s), 3 needed"


def test_two_rounds_still_give_the_wide_interval():
    verdict = stats.paired_ratio([110.0, 90.0], [100.0, 100.0])
    logs = np.log([1.1, 0.9])
    half = T_975[1] * logs.std(ddof=1) / math.sqrt(2)
    assert verdict.low == pytest.approx(math.exp(logs.mean() - half), rel=1e-8)
    assert verdict.kind is stats.Kind.NO_VERDICT


def test_a_round_missing_either_side_is_dropped_from_both():
    verdict = stats.paired_ratio([2.0, float("nan"), 4.0, 6.0], [1.0, 1.0, float("nan"), 0.0])
    assert (verdict.n, verdict.estimate) == (1, 2.0)
    with pytest.raises(ValueError):
        stats.paired_ratio([1.0, 2.0], [1.0])


def welch_by_hand(a: list[float], b: list[float]) -> tuple[float, float, float]:
    """Welch-Satterthwaite written out: ratio of geometric means and its 95 % interval."""
    la, lb = np.log(a), np.log(b)
    va, vb = la.var(ddof=1) / len(la), lb.var(ddof=1) / len(lb)
    df = (va + vb) ** 2 / (va**2 / (len(la) - 1) + vb**2 / (len(lb) - 1))
    diff = la.mean() - lb.mean()
    half = scipy_stats.t.ppf(0.975, df) * math.sqrt(va + vb)
    return math.exp(diff), math.exp(diff - half), math.exp(diff + half)


def test_welch_ratio_matches_the_formula_written_out():
    a, b = [1210.0, 1185.0, 1250.0, 1199.0], [1000.0, 1040.0, 980.0, 1015.0, 1002.0]
    verdict = stats.welch_ratio(a, b)
    estimate, low, high = welch_by_hand(a, b)
    assert verdict.estimate == pytest.approx(estimate)
    assert verdict.low == pytest.approx(low, rel=1e-9)
    assert verdict.high == pytest.approx(high, rel=1e-9)
    assert verdict.n == 4
    assert verdict.kind is stats.Kind.AHEAD


def test_welch_ratio_of_a_run_with_itself_is_one_within_noise():
    runs = [500.0, 520.0, 480.0, 505.0]
    verdict = stats.welch_ratio(runs, runs)
    assert verdict.estimate == pytest.approx(1.0)
    assert verdict.low < 1.0 < verdict.high
    assert verdict.kind is stats.Kind.WITHIN_NOISE


def test_welch_ratio_of_a_halved_run_is_exactly_half():
    runs = [500.0, 520.0, 480.0, 505.0]
    verdict = stats.welch_ratio([r / 2 for r in runs], runs)
    assert verdict.estimate == pytest.approx(0.5)
    assert verdict.kind is stats.Kind.BEHIND


def test_welch_ratio_needs_three_values_on_each_side():
    verdict = stats.welch_ratio([2.0, 2.1], [1.0, 1.1, 0.9, 1.0])
    assert verdict.n == 2
    assert verdict.kind is stats.Kind.NO_VERDICT
    assert stats.welch_ratio([2.0], [1.0]).has_interval is False


def test_spread_gives_median_extremes_and_coefficient_of_variation():
    spread = stats.spread([1.0, 2.0, 3.0, 4.0, float("nan")])
    assert (spread.median, spread.low, spread.high, spread.n) == (2.5, 1.0, 4.0, 4)
    assert spread.cv == pytest.approx(math.sqrt(5 / 3) / 2.5)
    assert math.isnan(stats.spread([3.0]).cv)
    assert stats.spread([]).n == 0


def test_half_width_and_log_spread_read_an_interval_back():
    """Rounds scattering by sd 0.2 in log over n=16: the log half-width is t(15) × 0.2 / 4
    (t(15) = 2.131449546 from the table), the relative half-width its sinh."""
    logs = np.array([0.2, -0.2] * 8)  # mean 0, sample sd 0.2 × sqrt(16/15)
    sd = float(np.std(logs, ddof=1))
    verdict = stats.paired_ratio(np.exp(logs), np.ones(16))
    assert stats.log_spread(verdict) == pytest.approx(sd, rel=1e-9)
    assert stats.half_width(verdict) == pytest.approx(math.sinh(2.131449546 * sd / 4), rel=1e-8)
    assert stats.expected_half_width(sd, 16) == pytest.approx(stats.half_width(verdict), rel=1e-9)
    assert math.isnan(stats.half_width(stats.paired_ratio([1.0], [1.0])))
    assert math.isnan(stats.log_spread(stats.paired_ratio([1.0], [1.0])))


def test_rounds_for_is_the_first_count_that_reaches_the_target():
    for sd in (0.05, 0.19, 0.21, 0.5):
        n = stats.rounds_for(sd)
        assert stats.expected_half_width(sd, n) <= stats.TARGET_HALF_WIDTH < stats.expected_half_width(sd, n - 1)
    assert stats.rounds_for(0.0) == 2
    assert stats.rounds_for(0.21) == 20  # sinh(t(19) × 0.21 / √20) = 0.0984; 19 rounds give 0.1014
    assert stats.rounds_for(float("nan")) is None
    assert stats.rounds_for(50.0) is None  # beyond any run


def test_across_runs_is_a_t_interval_over_the_runs_estimates():
    """Runs whose estimates scatter more than their rounds: the interval is the one-sample t
    interval of the runs' log estimates (here written out with the t table's quantile)."""
    runs = [[0.17, 0.18, 0.19], [0.20, 0.21, 0.22], [0.18, 0.19, 0.20]]
    means = [float(np.mean(np.log(r))) for r in runs]
    centre, sd = float(np.mean(means)), float(np.std(means, ddof=1))
    verdict = stats.across_runs(runs)
    assert verdict.n == 3 and verdict.kind is stats.Kind.BEHIND
    assert verdict.estimate == pytest.approx(math.exp(centre))
    assert verdict.low == pytest.approx(math.exp(centre - T_975[2] * sd / math.sqrt(3)), rel=1e-9)
    assert verdict.high == pytest.approx(math.exp(centre + T_975[2] * sd / math.sqrt(3)), rel=1e-9)


def test_across_runs_never_narrower_than_the_runs_rounds_allow():
    """Three runs whose estimates agree exactly (by construction) still carry their rounds'
    uncertainty: the variance of the mean is the runs' mean squared standard error."""
    runs = [[0.15, 0.18, 0.21], [0.21, 0.18, 0.15], [0.18, 0.15, 0.21]]
    logs = np.log(runs)
    floor = float(np.mean(logs.var(axis=1, ddof=1) / 3))
    centre = float(logs.mean())
    verdict = stats.across_runs(runs)
    assert verdict.high == pytest.approx(math.exp(centre + T_975[2] * math.sqrt(floor / 3)), rel=1e-9)
    assert verdict.low < verdict.estimate < verdict.high


def test_across_runs_needs_three_runs_for_a_verdict():
    assert stats.across_runs([[0.9, 1.0, 1.1], [1.0, 1.1, 1.2]]).kind is stats.Kind.NO_VERDICT
    assert stats.across_runs([[0.9, 1.0, 1.1]]).kind is stats.Kind.NO_VERDICT
    assert stats.across_runs([]).n == 0


def test_runs_needed_for_a_verdict_are_their_own_setting(monkeypatch):
    monkeypatch.setattr(stats, "MIN_RUNS", 2)
    assert stats.across_runs([[0.9, 1.0, 1.1], [1.0, 1.1, 1.2]]).kind is not stats.Kind.NO_VERDICT
    assert stats.paired_ratio([1.0, 1.1], [1.0, 1.0]).kind is stats.Kind.NO_VERDICT  # rounds: still MIN_ROUNDS


def test_run_agreement_matches_scipy_and_tells_drift_from_noise():
    rng = np.random.default_rng(7)
    alike = [np.exp(rng.normal(math.log(0.18), 0.18, 22)) for _ in range(3)]
    drifted = [alike[0], alike[1] * 1.25, alike[2]]
    same = stats.run_agreement(alike)
    moved = stats.run_agreement(drifted)
    assert same.p_value == pytest.approx(scipy_stats.alexandergovern(*np.log(alike)).pvalue)
    assert not same.differ and moved.differ
    assert moved.scatter > moved.expected
    means = [float(np.mean(np.log(r))) for r in drifted]
    assert moved.scatter == pytest.approx(float(np.std(means, ddof=1)))
    errors = [float(np.var(np.log(r), ddof=1)) / 22 for r in drifted]
    assert moved.expected == pytest.approx(math.sqrt(float(np.mean(errors))))


def test_run_agreement_of_identical_runs_and_of_too_little():
    runs = [[0.17, 0.18, 0.19]] * 3
    agreement = stats.run_agreement(runs)
    assert agreement.p_value == pytest.approx(1.0) and agreement.scatter == 0 and not agreement.differ
    assert math.isnan(stats.run_agreement([[0.17, 0.18]]).p_value)
    assert math.isnan(stats.run_agreement([[0.17], [0.18]]).p_value)


def test_across_runs_of_one_round_each_is_the_t_interval_of_those_rounds():
    verdict = stats.across_runs([[0.15], [0.20], [0.25]])
    expected = stats.geometric_interval([0.15, 0.20, 0.25])
    assert (verdict.low, verdict.high) == (pytest.approx(expected.low), pytest.approx(expected.high))
