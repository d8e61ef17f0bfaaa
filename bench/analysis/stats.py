"""Confidence intervals and verdicts for throughput, and for ratios of throughputs.

Throughputs compare by ratio ("ASGI serves 0.9x what WSGI serves"), and ratios are
multiplicative, so every interval is computed on log values and transformed back: the
estimate is a geometric mean (of rates, or of per-round ratios) and the interval is
asymmetric around it, as a ratio's uncertainty is. The quantiles come from scipy's t
tests, not from hand-written formulas, so the arithmetic is the library's, tested there.

Two designs, two intervals:
- within a run, every round measures every stack back to back, so the rounds pair up:
  a one-sample t-interval on the per-round log ratios (`paired_ratio`);
- across runs nothing pairs, so a Welch interval on the difference of mean log values,
  with no equal-variance assumption (`welch_ratio`).

A verdict needs at least MIN_ROUNDS values: with two, a t-interval exists but is so wide
(t = 12.7 at one degree of freedom) that "within noise" would mean nothing, and with one
there is no noise estimate at all. This module is pure: numbers in, numbers out.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
MIN_ROUNDS = 3
MIN_RUNS = 3  # one value pooled over runs: a verdict needs as many runs as one run needs rounds, for the same reason
TARGET_HALF_WIDTH = 0.10  # a ratio known to ±10 %: the precision the lab aims its profiles at


class Kind(StrEnum):
    """What an interval says about a ratio a/b: a ahead (interval above 1), a behind
    (below 1), within noise (contains 1), or nothing (too few values)."""

    AHEAD = "ahead"
    BEHIND = "behind"
    WITHIN_NOISE = "within noise"
    NO_VERDICT = "no verdict"


@dataclass(frozen=True)
class Estimate:
    """A geometric mean (or a ratio of geometric means) with its CONFIDENCE interval.
    `low` and `high` are NaN when the values cannot give an interval (n < 2)."""

    estimate: float
    low: float
    high: float
    n: int

    @property
    def has_interval(self) -> bool:
        return not (math.isnan(self.low) or math.isnan(self.high))


@dataclass(frozen=True)
class Verdict(Estimate):
    kind: Kind

    @property
    def reason(self) -> str:
        """Why the kind is what it is, in words a reader can check against the interval."""
        if self.kind is Kind.NO_VERDICT:
            return f"no verdict: only {self.n} counted round(s), {MIN_ROUNDS} needed"
        if self.kind is Kind.WITHIN_NOISE:
            return "within noise: the interval contains 1"
        side = "above" if self.kind is Kind.AHEAD else "below"
        return f"the whole interval lies {side} 1"


@dataclass(frozen=True)
class Spread:
    """A machine-speed figure over rounds: median, extremes and coefficient of variation
    (sample standard deviation over mean); NaN where the values cannot give one."""

    median: float
    low: float
    high: float
    cv: float
    n: int


NAN_ESTIMATE = Estimate(math.nan, math.nan, math.nan, 0)


def positive(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """The finite, positive values as floats: a rate of 0 or a null has no logarithm."""
    array = np.asarray(values, dtype=float)
    return array[np.isfinite(array) & (array > 0)]


def _log_interval(logs: np.ndarray) -> tuple[float, float, float]:
    """Mean of the logs and its t-interval, back-transformed."""
    centre = float(np.mean(logs))
    if len(logs) < 2:
        return math.exp(centre), math.nan, math.nan
    if np.ptp(logs) == 0:  # identical values: no spread, the interval is the point itself
        return math.exp(centre), math.exp(centre), math.exp(centre)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy's precision note on near-identical values
        interval = stats.ttest_1samp(logs, 0.0).confidence_interval(CONFIDENCE)
    return math.exp(centre), math.exp(float(interval.low)), math.exp(float(interval.high))


def geometric_interval(values: Sequence[float] | np.ndarray) -> Estimate:
    """Geometric mean of positive values (throughputs over rounds) with its t-interval."""
    logs = np.log(positive(values))
    if len(logs) == 0:
        return NAN_ESTIMATE
    return Estimate(*_log_interval(logs), n=len(logs))


def verdict_kind(estimate: Estimate, least: int = MIN_ROUNDS) -> Kind:
    """The kind of a ratio's estimate: no verdict from fewer than `least` values, else where 1 lies."""
    if estimate.n < least or not estimate.has_interval:
        return Kind.NO_VERDICT
    if estimate.low > 1.0:
        return Kind.AHEAD
    if estimate.high < 1.0:
        return Kind.BEHIND
    return Kind.WITHIN_NOISE


def _verdict(estimate: Estimate, least: int = MIN_ROUNDS) -> Verdict:
    return Verdict(estimate.estimate, estimate.low, estimate.high, estimate.n, verdict_kind(estimate, least))


def paired_ratio(numerator: Sequence[float] | np.ndarray, denominator: Sequence[float] | np.ndarray) -> Verdict:
    """a/b from rounds that measured both (element i of each is round i): the geometric
    mean of the per-round ratios with a t-interval on their logs. A round where either
    value is missing or not positive is dropped from both sides."""
    a, b = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired values differ in length: {a.shape} vs {b.shape}")
    keep = np.isfinite(a) & np.isfinite(b) & (a > 0) & (b > 0)
    logs = np.log(a[keep]) - np.log(b[keep])
    if len(logs) == 0:
        return _verdict(NAN_ESTIMATE)
    return _verdict(Estimate(*_log_interval(logs), n=len(logs)))


def welch_ratio(numerator: Sequence[float] | np.ndarray, denominator: Sequence[float] | np.ndarray) -> Verdict:
    """a/b from two unpaired samples (two runs): the ratio of geometric means with the
    Welch interval of the difference of mean logs. `n` is the smaller sample's size."""
    log_a, log_b = np.log(positive(numerator)), np.log(positive(denominator))
    n = min(len(log_a), len(log_b))
    if n == 0:
        return _verdict(NAN_ESTIMATE)
    centre = float(np.mean(log_a) - np.mean(log_b))
    if n < 2:
        return _verdict(Estimate(math.exp(centre), math.nan, math.nan, n))
    if np.ptp(log_a) == 0 and np.ptp(log_b) == 0:
        return _verdict(Estimate(math.exp(centre), math.exp(centre), math.exp(centre), n))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        interval = stats.ttest_ind(log_a, log_b, equal_var=False).confidence_interval(CONFIDENCE)
    return _verdict(Estimate(math.exp(centre), math.exp(float(interval.low)), math.exp(float(interval.high)), n))


def spread(values: Sequence[float] | np.ndarray) -> Spread:
    """Median, min, max and coefficient of variation of the finite values."""
    array = np.asarray(values, dtype=float)
    array = array[np.isfinite(array)]
    if len(array) == 0:
        return Spread(math.nan, math.nan, math.nan, math.nan, 0)
    cv = float(np.std(array, ddof=1) / np.mean(array)) if len(array) > 1 and np.mean(array) else math.nan
    return Spread(float(np.median(array)), float(array.min()), float(array.max()), cv, len(array))


def half_width(estimate: Estimate) -> float:
    """The interval's half-width relative to its estimate, (high − low) / (2 × estimate): 0.08
    for 1.00× [0.92–1.08]. On log values [e^(m−h), e^(m+h)] it is sinh(h). NaN without one."""
    if not estimate.has_interval or not estimate.estimate > 0:
        return math.nan
    return (estimate.high - estimate.low) / (2 * estimate.estimate)


def _t_quantile(n: int) -> float:
    return float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1))


def log_spread(estimate: Estimate) -> float:
    """The standard deviation of the per-round log values behind a t-interval, read back from
    it (the log half-width is t × sd / √n): what one round scatters, whatever n was."""
    if not estimate.has_interval or estimate.n < 2 or not estimate.low > 0:
        return math.nan
    return (math.log(estimate.high) - math.log(estimate.low)) / 2 * math.sqrt(estimate.n) / _t_quantile(estimate.n)


def expected_half_width(sd: float, n: int) -> float:
    """The relative half-width (as half_width) that n rounds scattering by `sd` in log give."""
    if n < 2 or not math.isfinite(sd):
        return math.nan
    return math.sinh(_t_quantile(n) * sd / math.sqrt(n))


def rounds_for(sd: float, target: float = TARGET_HALF_WIDTH, limit: int = 100_000) -> int | None:
    """The fewest rounds (at least 2) whose interval is expected to be at most ±target, for
    rounds scattering by `sd` in log; None when `sd` is unknown or more than `limit` are needed."""
    if not math.isfinite(sd) or sd < 0:
        return None
    if expected_half_width(sd, limit) > target:
        return None
    low, high = 2, limit  # the half-width falls as n grows: bisect for the first n that fits
    while low < high:
        middle = (low + high) // 2
        if expected_half_width(sd, middle) <= target:
            high = middle
        else:
            low = middle + 1
    return low


@dataclass(frozen=True)
class RunAgreement:
    """Whether several runs measured one value alike, from each run's per-round values.
    `p_value`: the Alexander-Govern test (scipy) of equal means of their logs, which lets
    each run scatter by its own amount; below 1 − CONFIDENCE the runs differ by more than
    their rounds explain. `scatter`: the standard deviation of the runs' log estimates;
    `expected`: what their rounds alone predict (root mean square of their standard
    errors). Scatter well above expected is drift between runs that no single run's
    interval can show. NaN where fewer than two runs have two values."""

    runs: int
    p_value: float
    scatter: float
    expected: float

    @property
    def differ(self) -> bool:
        return self.p_value < 1 - CONFIDENCE


def _run_logs(runs: Sequence[Sequence[float] | np.ndarray], least: int) -> list[np.ndarray]:
    """Each run's per-round values as logs (those that have one), for runs with at least `least`."""
    logs = [np.log(positive(values)) for values in runs]
    return [values for values in logs if len(values) >= least]


def _squared_error(logs: np.ndarray) -> float:
    """The squared standard error of one run's mean log value (it needs two values)."""
    return float(logs.var(ddof=1) / len(logs))


def run_agreement(runs: Sequence[Sequence[float] | np.ndarray]) -> RunAgreement:
    logs = _run_logs(runs, 2)
    if len(logs) < 2:
        return RunAgreement(len(logs), math.nan, math.nan, math.nan)
    means = np.array([values.mean() for values in logs])
    if all(np.ptp(values) == 0 for values in logs):  # no scatter inside any run: no test to make
        p_value = 1.0 if np.ptp(means) == 0 else 0.0
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            p_value = float(stats.alexandergovern(*logs).pvalue)
    expected = math.sqrt(float(np.mean([_squared_error(values) for values in logs])))
    return RunAgreement(len(logs), p_value, float(np.std(means, ddof=1)), expected)


def across_runs(runs: Sequence[Sequence[float] | np.ndarray]) -> Verdict:
    """One value measured by several runs (each a list of per-round values): the geometric
    mean of the runs' own estimates with a t-interval over runs (k − 1 degrees of freedom),
    so drift between runs widens it. Three runs can agree closely by chance, so the
    variance of their mean is never taken below what their rounds alone give: the larger
    of the runs' scatter and their mean squared standard error (the guard of the modified
    Hartung-Knapp interval, here with equal weights; runs of a single round give no such
    floor). A verdict needs MIN_RUNS runs, as one run needs MIN_ROUNDS rounds."""
    logs = _run_logs(runs, 1)
    if not logs:
        return _verdict(NAN_ESTIMATE, MIN_RUNS)
    means = np.array([values.mean() for values in logs])
    centre, k = float(means.mean()), len(means)
    if k < 2:
        return _verdict(Estimate(math.exp(centre), math.nan, math.nan, k), MIN_RUNS)
    errors = [_squared_error(values) for values in logs if len(values) >= 2]
    floor = float(np.mean(errors)) if errors else 0.0  # runs of one round each: their scatter alone
    reach = _t_quantile(k) * math.sqrt(max(float(np.var(means, ddof=1)), floor) / k)
    return _verdict(Estimate(math.exp(centre), math.exp(centre - reach), math.exp(centre + reach), k), MIN_RUNS)
