"""How long a level is measured, and whether what it measured was a steady state.

The rule: a window lasts at least the profile's duration *and* long enough for every
connection to complete TARGET_COMPLETIONS_PER_CONNECTION requests at the rate expected
(the same stack's last counted rate at this level, else the warm-up's), in whole
seconds, up to the profile's cap. On a CPU-bound server every open request progresses
together, so completions arrive in batches of about `concurrency`: with k completions
per connection a window miscounts by up to 1/k, hence 10 (at most ~10 %, and the
Little's law check below catches the rest).

Afterwards a level counts only when it completed at least MIN_COMPLETIONS_PER_CONNECTION
x concurrency requests (else too_short) and its counted rate agrees with Little's law,
concurrency / mean latency, within STEADY_TOLERANCE (else not_steady): a closed loop in
steady state obeys it, a window that caught a ramp or a backlog does not.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from bench.schema import MIN_COMPLETIONS_PER_CONNECTION, STEADY_TOLERANCE, Flag

TARGET_COMPLETIONS_PER_CONNECTION = 10


@dataclass(frozen=True)
class Window:
    planned_s: int
    rps_estimate: float | None
    min_requests: int
    capped: bool

    def record(self) -> dict:
        return asdict(self)


def plan_window(duration_s: int, max_window_s: int, concurrency: int, rps_estimate: float | None) -> Window:
    """The measured window for one level (see the module docstring for the rule)."""
    if rps_estimate and rps_estimate > 0:
        wanted = max(duration_s, math.ceil(TARGET_COMPLETIONS_PER_CONNECTION * concurrency / rps_estimate))
    else:
        wanted = max(duration_s, max_window_s)  # nothing to plan from: the cap; the checks still apply
    planned = min(wanted, max(max_window_s, duration_s))
    return Window(planned, rps_estimate, MIN_COMPLETIONS_PER_CONNECTION * concurrency, wanted > planned)


@dataclass(frozen=True)
class Steady:
    littles_rps: float | None
    deviation: float | None  # counted / Little's - 1

    def record(self) -> dict:
        return asdict(self)


def littles_law(rps: float | None, concurrency: int, mean_latency_ms: float | None) -> Steady:
    """Throughput a closed loop of `concurrency` connections must show at this mean latency."""
    if not rps or not mean_latency_ms or mean_latency_ms <= 0:
        return Steady(None, None)
    expected = concurrency / (mean_latency_ms / 1000)
    return Steady(expected, rps / expected - 1)


def validity_flags(requests: int | None, window: Window, steady: Steady) -> list[str]:
    """too_short and not_steady for a level that produced a measurement."""
    flags = []
    if requests is not None and requests < window.min_requests:
        flags.append(str(Flag.TOO_SHORT))
    if steady.deviation is not None and abs(steady.deviation) > STEADY_TOLERANCE:
        flags.append(str(Flag.NOT_STEADY))
    return flags
