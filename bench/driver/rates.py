"""The rate axis: which arrival rates the open-loop generator offers each stack, planned
once the run's closed-loop rounds have measured each stack's capacity.

`--rates` takes requests per second ("50 100 200": every stack is offered each) or
fractions of each stack's own closed-loop capacity ("0.3x 0.6x 0.9x 1.2x"), the capacity
being its best counted wrk throughput on that endpoint in this run (the median over
rounds at the level where it is highest). One endpoint's rates form one grid, the union
of every stack's, so two stacks can be compared at the same offered load; a rate within
MERGE_SHARE above the last one kept is the same point of the grid. A stack is offered
each grid rate up to its own highest fraction (with the merge's margin): a rate far above
its capacity would only say again that it saturated. Each grid rate is one round per
repeat, its stacks in a fresh random order, all sent the same seeded arrival times.

What counts at a rate (rate_flags): the server kept up with the arrivals, its latency
held steady through the window, and the generator sent on time; plus, as for every
level, enough answered requests, drained before, and the noise guard held.
"""

from __future__ import annotations

import math
import random
import statistics
import zlib
from collections import defaultdict
from dataclasses import dataclass

from bench.driver.schedule import Round
from bench.driver.window import Window
from bench.schema import (
    CLIENT_LATE_MS,
    MIN_RATE_REQUESTS,
    RATE_DRIFT,
    RATE_DRIFT_MS,
    RATE_TOLERANCE,
    RATE_TOOL_KEYS,
    Flag,
    Tool,
    exclusions,
)
from lab.errors import UsageError

MERGE_SHARE = 0.10
TARGET_RATE_REQUESTS = 1000  # a rate level's window asks for this many arrivals (p99 from its 10 slowest)
RATE_WARMUP_S = 2.0  # arrivals sent first and discarded, at the level's own rate
RATES_HELP = ('requests per second, e.g. "50 100 200", or fractions of each stack\'s closed-loop capacity, '
              'e.g. "0.3x 0.6x 0.9x 1.2x"')


class RatesError(UsageError, ValueError):
    """A --rates value that is not a rate; the message is one line."""


@dataclass(frozen=True)
class RateSpec:
    value: float
    relative: bool  # a fraction of the stack's capacity, else requests per second

    def __str__(self) -> str:
        return f"{self.value:g}x" if self.relative else f"{self.value:g}"


def parse_rates(text: str) -> tuple[RateSpec, ...]:
    words = [w for w in text.replace(",", " ").split() if w]
    specs = []
    for word in words:
        relative = word.endswith("x")
        try:
            value = float(word[:-1] if relative else word)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value <= 0 or (relative and value > 5) or (not relative and value > 1e6):
            raise RatesError(f"--rates {text!r} is not allowed: {RATES_HELP} (fractions up to 5x)")
        specs.append(RateSpec(value, relative))
    if not specs:
        raise RatesError(f"--rates {text!r} is not allowed: {RATES_HELP}")
    return tuple(dict.fromkeys(specs))


def counted(row: dict) -> bool:
    return bool(row.get("rps")) and not exclusions(row.get("status"), row.get("valid"), row.get("flags") or ())


def capacities(rows: list[dict], unit_of) -> dict[tuple[str, str], float]:
    """(unit, endpoint) -> its best counted closed-loop throughput in the run: the highest
    over its levels of the median over rounds (wrk rows; ab's beside it only cross-check)."""
    by_level: dict[tuple[str, str, int], list[float]] = defaultdict(list)
    for row in rows:
        if row.get("tool") == str(Tool.WRK) and row.get("rate") is None and counted(row):
            by_level[(unit_of(row), row["endpoint"], row["concurrency"])].append(row["rps"])
    best: dict[tuple[str, str], float] = {}
    for (unit, endpoint, _), values in by_level.items():
        best[(unit, endpoint)] = max(best.get((unit, endpoint), 0.0), statistics.median(values))
    return best


def _rate(value: float) -> float:
    """Rates are offered to 0.1 request per second (the generator prints them with %g)."""
    return max(0.1, round(value, 1))


def grid(specs: tuple[RateSpec, ...], capacity: dict[str, float]) -> list[tuple[float, dict[str, float | None]]]:
    """One endpoint's rates: (rate, {unit: the fraction of its capacity it is, None for an explicit
    rate}) ascending. `capacity`: unit -> capacity (a unit without one gets explicit rates only)."""
    explicit = [s.value for s in specs if not s.relative]
    fractions = [s.value for s in specs if s.relative]
    wanted = sorted({*explicit, *(f * c for c in capacity.values() if c for f in fractions)})
    kept: list[float] = []
    for rate in wanted:
        if rate in explicit or not kept or rate > kept[-1] * (1 + MERGE_SHARE):
            kept.append(rate)
    points = []
    for rate in sorted({_rate(r) for r in kept}):
        offered: dict[str, float | None] = {}
        for unit, cap in capacity.items():
            if fractions and cap and rate <= max(fractions) * cap * (1 + MERGE_SHARE):
                offered[unit] = rate / cap
            elif any(_rate(e) == rate for e in explicit):
                offered[unit] = rate / cap if cap else None
        if offered:
            points.append((rate, offered))
    return points


def level_seed(seed: int, endpoint: str, rate: float, repeat: int) -> int:
    """The arrival times' seed: the same for every stack of a round (common random numbers)."""
    return zlib.crc32(f"{seed}:{endpoint}:{rate:g}:{repeat}".encode()) & 0x7FFFFFFF


def rate_window(duration_s: int, max_window_s: int, rate: float) -> int:
    """Seconds to measure: enough for TARGET_RATE_REQUESTS arrivals, within the profile's floor and cap."""
    return min(max(duration_s, math.ceil(TARGET_RATE_REQUESTS / rate)), max(duration_s, max_window_s))


def plan_rate_window(duration_s: int, max_window_s: int, rate: float) -> Window:
    """An open-loop level's window (rate_window), the answered requests it needs (min_requests),
    and whether the profile's cap cut it below TARGET_RATE_REQUESTS arrivals."""
    planned = rate_window(duration_s, max_window_s, rate)
    return Window(planned, rate, min_requests(rate, planned), planned < math.ceil(TARGET_RATE_REQUESTS / rate))


def rate_warmup(duration_s: int) -> float:
    """Seconds of arrivals sent and discarded before the window: RATE_WARMUP_S, no longer than the window's floor."""
    return float(min(RATE_WARMUP_S, duration_s))


def min_requests(rate: float, window_s: int) -> int:
    """The answered requests a rate level needs to count: MIN_RATE_REQUESTS, or half of the
    arrivals expected when fewer were planned (a slow endpoint at a low rate)."""
    return min(MIN_RATE_REQUESTS, max(1, int(rate * window_s / 2)))


def plan_rate_rounds(units: tuple[str, ...], endpoints: tuple[str, ...], specs: tuple[RateSpec, ...],
                     capacity: dict[tuple[str, str], float], repeats: int, seed: int, connections: int,
                     serves=lambda unit, endpoint: True) -> tuple[list[Round], list[str]]:
    """The open-loop rounds, repeat first (as closed-loop rounds are), rates ascending within
    a repeat; and one line per unit left without relative rates (no counted capacity)."""
    rng = random.Random(seed + 1)
    notes, grids = [], {}
    for endpoint in endpoints:
        serving = [u for u in units if serves(u, endpoint)]
        caps = {u: capacity.get((u, endpoint)) for u in serving}
        if any(s.relative for s in specs):
            notes += [f"{u} {endpoint}: no counted closed-loop level, so no capacity to offer fractions of"
                      for u, c in caps.items() if not c]
        grids[endpoint] = grid(specs, {u: c or 0.0 for u, c in caps.items()})
    rounds = []
    for repeat in range(1, repeats + 1):
        for endpoint in endpoints:
            for rate, offered in grids[endpoint]:
                order = tuple(rng.sample(list(offered), len(offered)))
                rounds.append(Round(Tool.OPENLOOP, endpoint, connections, repeat, order, rate=rate,
                                    fractions={u: (round(f, 4) if f is not None else None) for u, f in offered.items()},
                                    capacities={u: capacity.get((u, endpoint)) for u in offered}))
    return rounds, notes


def rate_record(round_: Round, unit: str, tool_rate: dict | None) -> dict:
    """The row's `rate` (schema.RATE_KEYS): the generator's figures (None each when it gave
    none: a failed level still says which rate it was) and the plan's fraction and capacity."""
    record = {key: None for key in RATE_TOOL_KEYS} | (tool_rate or {}) | {"target_rps": round_.rate}
    record["fraction"] = (round_.fractions or {}).get(unit)
    record["capacity_rps"] = (round_.capacities or {}).get(unit)
    return record


def rate_flags(rate: dict, latency_ms: dict) -> list[str]:
    """What counts at a rate: `saturated` when the server answered fewer of the window's arrivals
    inside the window than a server keeping up would (keeping_up); `client_late` when the
    generator's p99 send lateness passed CLIENT_LATE_MS and a tenth of the p99 latency it adds to;
    `not_steady` when the latency moved between the window's halves (drifted)."""
    flags = []
    first, second = rate.get("first_half_mean_ms"), rate.get("second_half_mean_ms")
    if not keeping_up(rate.get("scheduled"), rate.get("achieved_rps"), rate.get("scheduled_rps"),
                      latency_ms.get("mean"), growing=bool(first and second and second > first)):
        flags.append(str(Flag.SATURATED))
    late, p99 = rate.get("lateness_p99_ms"), latency_ms.get("p99")
    if late is not None and late > CLIENT_LATE_MS and (p99 is None or late > 0.1 * p99):
        flags.append(str(Flag.CLIENT_LATE))
    if drifted(first, second):
        flags.append(str(Flag.NOT_STEADY))
    return flags


def keeping_up(scheduled: int | None, achieved_rps: float | None, scheduled_rps: float | None,
               mean_ms: float | None, growing: bool = False) -> bool:
    """Whether a server answered the window's arrivals as they came (the generator fixes their
    count at rate x window, bench/openloop.py `arrivals`). A server that keeps up answers inside
    the window as many as arrived, give or take the requests in flight at its two ends, each
    about rate x mean latency (Little's law) with a Poisson-like scatter; one that cannot falls
    behind by (rate - capacity) x window, and its latency grows through the window. Saturated:
    behind by more than RATE_TOLERANCE of the arrivals and either more than 3 standard
    deviations of that scatter, or with the latency `growing` (the second half's mean above
    the first's): then the shortfall is the queue building, not the scatter."""
    if not scheduled or achieved_rps is None or not scheduled_rps:
        return True  # nothing to judge: a failed level is flagged failed
    window_s = scheduled / scheduled_rps
    behind = scheduled - achieved_rps * window_s
    if behind <= RATE_TOLERANCE * scheduled:
        return True
    in_flight = scheduled_rps * (mean_ms or 0.0) / 1000
    return not growing and behind <= 3 * math.sqrt(2 * in_flight + 1)


def drifted(first_ms: float | None, second_ms: float | None) -> bool:
    """Whether the window's latency moved between its halves: a queue that grew (the server
    falling behind) or drained (one left by the warm-up). Then the window saw no steady state:
    one half's mean over RATE_DRIFT times the other's, and RATE_DRIFT_MS above it."""
    if not first_ms or not second_ms:
        return False
    low, high = sorted((first_ms, second_ms))
    return high > RATE_DRIFT * low and high - low > RATE_DRIFT_MS

