"""What an open-loop run says: latency against offered load, the rate each stack sustains
within a latency target, and ASGI against WSGI at the same offered load; all over the
run's interleaved rounds, with intervals. Pure: frames in (Run.rate_rows), numbers out.

- A level's p50 and p99 are geometric means over its counted rounds with 95 % intervals.
  A saturated level has no latency "at that rate" (the server did not take that rate);
  it is counted as exceeding the target, never averaged in.
- The sustainable rate of a stack, in one round, is the highest offered rate below the
  first one it did not sustain (saturated, failed, failed requests, or p99 at or above
  the target). A level excluded for the measurement's sake (noisy, not drained, the
  generator late, too short) says nothing either way and is stepped over. Over rounds:
  a geometric mean with its interval; the rates offered set its resolution. When a stack
  sustained every rate it was offered, its figure is a lower bound ("at least").
- ASGI/WSGI at one offered rate: the paired ratio of the two stacks' p99 over the rounds
  where both were counted at that rate (the same seeded arrival times).
- The cross-check: at the lowest rate, the open loop's median latency must agree with
  the closed loop's at one connection (wrk, same run) within CROSS_CHECK_TOLERANCE or
  CROSS_CHECK_SLACK_MS, whichever is larger; at low load both are the service time. The
  slack: between arrivals an open loop's client and server go idle and wake for each
  request, and the generator's own path is Python's, not wrk's C; at sub-millisecond
  service times that adds a few tenths of a millisecond a busy closed loop never pays
  (measured on Django WSGI /ping/: 0.76-0.87 ms open at a twentieth of capacity, 0.21 ms
  closed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.analysis import stats
from bench.schema import Flag

CROSS_CHECK_TOLERANCE = 0.30
CROSS_CHECK_SLACK_MS = 1.0
NOT_SUSTAINED = {Flag.SATURATED.value, Flag.FAILED.value, Flag.INVALID.value}


@dataclass(frozen=True)
class Sustained:
    """One stack's sustainable rate on one endpoint, over rounds."""

    estimate: stats.Estimate  # rates per round (a round that sustained none counts as not positive: left out)
    per_round: dict[int, float]  # round -> rate; 0.0: not even the lowest rate offered
    at_least: bool  # every round sustained the highest rate offered: a lower bound
    highest_offered: float


def level_state(row: pd.Series, slo_ms: float) -> str:
    """'pass', 'fail' or 'unknown' for one open-loop row against the latency target."""
    flags = set(row["flags"]) | set(row["excluded_by"])
    if flags & NOT_SUSTAINED or row["status"] != "ok":
        return "fail"
    if not row["counted"]:
        return "unknown"
    if (row["error_count"] or 0) > 0 or not row["latency_ms_p99"] < slo_ms:
        return "fail"
    return "pass"


def sustainable(rows: pd.DataFrame, slo_ms: float) -> dict[tuple[str, str], Sustained]:
    """(stack, endpoint) -> its sustainable rate over the rounds (see the module docstring)."""
    result = {}
    for (stack, endpoint), own in rows.groupby(["stack", "endpoint"], sort=False):
        offered = sorted(own["rate_target_rps"].unique())
        per_round, all_pass = {}, True
        for repeat, one in own.groupby("repeat"):
            best, stopped = 0.0, False
            for _, row in one.sort_values("rate_target_rps").iterrows():
                state = level_state(row, slo_ms)
                if state == "fail":
                    stopped = True
                    break
                if state == "pass":
                    best = float(row["rate_target_rps"])
            all_pass &= not stopped and best == offered[-1]
            per_round[int(repeat)] = best
        result[(stack, endpoint)] = Sustained(stats.geometric_interval(list(per_round.values())), per_round,
                                              all_pass, float(offered[-1]))
    return result


def sustained_ratio(a: Sustained, b: Sustained) -> stats.Verdict:
    """a / b of two stacks' sustainable rates, paired by round (a round where either sustained none is left out)."""
    repeats = sorted(set(a.per_round) & set(b.per_round))
    return stats.paired_ratio([a.per_round[r] for r in repeats], [b.per_round[r] for r in repeats])


def latency_levels(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per stack x endpoint x offered rate: rounds, counted, saturated, p50 and p99
    (geometric mean and 95 % interval over counted rounds), the achieved share of the
    arrivals (median), the generator's worst p99 send lateness, and the fraction of capacity."""
    out = []
    for (stack, endpoint, rate), own in rows.groupby(["stack", "endpoint", "rate_target_rps"], sort=False):
        counted = own[own["counted"]]
        p50 = stats.geometric_interval(counted["latency_ms_p50"].to_numpy())
        p99 = stats.geometric_interval(counted["latency_ms_p99"].to_numpy())
        achieved = (own["rate_achieved_rps"] / own["rate_scheduled_rps"]).median()
        out.append({
            "stack": stack, "endpoint": endpoint, "rate": float(rate), "rounds": len(own), "counted": len(counted),
            "saturated": int(own["flags"].apply(lambda f: Flag.SATURATED.value in f).sum()),
            "p50": p50, "p99": p99, "achieved_share": float(achieved) if pd.notna(achieved) else math.nan,
            "lateness_p99_ms": float(own["rate_lateness_p99_ms"].max()),
            "fraction": float(own["rate_fraction"].median()),
            "excluded": tuple(sorted({f for why in own["excluded_by"] for f in why})),
        })
    return pd.DataFrame(out)


def p99_ratios(rows: pd.DataFrame, stack: str, baseline: str, endpoint: str) -> list[tuple[float, stats.Verdict]]:
    """(offered rate, stack/baseline p99 paired over the rounds both were counted at it), ascending."""
    counted = rows[rows["counted"] & (rows["endpoint"] == endpoint)]
    table = counted.pivot_table(index=["rate_target_rps", "repeat"], columns="stack", values="latency_ms_p99",
                                aggfunc="first")
    if stack not in table.columns or baseline not in table.columns:
        return []
    ratios = []
    for rate, one in table[[stack, baseline]].dropna().groupby(level=0):
        ratios.append((float(rate), stats.paired_ratio(one[stack].to_numpy(), one[baseline].to_numpy())))
    return ratios


@dataclass(frozen=True)
class CrossCheck:
    stack: str
    endpoint: str
    rate: float
    open_p50_ms: float
    closed_p50_ms: float

    @property
    def deviation(self) -> float:
        return self.open_p50_ms / self.closed_p50_ms - 1

    @property
    def agrees(self) -> bool:
        gap = abs(self.open_p50_ms - self.closed_p50_ms)
        return gap <= max(CROSS_CHECK_TOLERANCE * self.closed_p50_ms, CROSS_CHECK_SLACK_MS)


def cross_checks(rate_rows: pd.DataFrame, closed_rows: pd.DataFrame) -> list[CrossCheck]:
    """Per stack and endpoint: the open loop's median p50 at its lowest counted rate against
    the closed loop's median p50 at one connection (wrk); none where either is missing."""
    checks = []
    one = closed_rows[closed_rows["counted"] & (closed_rows["tool"] == "wrk") & (closed_rows["concurrency"] == 1)]
    for (stack, endpoint), own in rate_rows[rate_rows["counted"]].groupby(["stack", "endpoint"], sort=False):
        lowest = own["rate_target_rps"].min()
        closed = one[(one["stack"] == stack) & (one["endpoint"] == endpoint)]["latency_ms_p50"]
        if closed.empty:
            continue
        open_p50 = float(np.median(own[own["rate_target_rps"] == lowest]["latency_ms_p50"]))
        checks.append(CrossCheck(stack, endpoint, float(lowest), open_p50, float(closed.median())))
    return checks
