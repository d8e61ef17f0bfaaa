"""The report's "Noise and validity" section: how steady the machine was across rounds
(the driver's fixed CPU probe), how many rows were counted nowhere and by which rule, and
how far the counted rows sat from Little's law and from foreign CPU use. A reader
weighs every verdict above by these figures, so they are shown, not summarised away.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from bench.analysis import markdown, stats
from bench.analysis.frames import Run
from bench.schema import (
    CLIENT_LATE_MS,
    EXCLUDING_FLAGS,
    MIN_COMPLETIONS_PER_CONNECTION,
    RATE_DRIFT,
    RATE_DRIFT_MS,
    RATE_TOLERANCE,
    STEADY_TOLERANCE,
    Flag,
)

MARKED_FLAGS = (Flag.CLIENT_BOUND, Flag.DB_BOUND, Flag.SHARED_CPUS_BOUND, Flag.ERRORS, Flag.DB_OPEN_TRANSACTIONS,
                Flag.DB_BACKLOG_GROWTH)


def noise_rule(run: Run) -> str:
    """The noisy rule with the driver's thresholds when run.json records them."""
    thresholds = run.meta("noise_thresholds")
    if isinstance(thresholds, (int, float)) and not isinstance(thresholds, bool):
        return (f"processes not the lab's, or the hypervisor (steal), took more than {_share(thresholds)} of the "
                "lab's CPUs")
    if not isinstance(thresholds, dict) or not thresholds:
        return ("processes not the lab's, or the hypervisor (steal), took more CPU than the driver's "
                "threshold (not recorded in this run.json)")
    shown = ", ".join(f"{key.replace('_', ' ')} {_share(value)}" for key, value in thresholds.items())
    return f"processes not the lab's, or the hypervisor (steal), took more CPU than the driver's thresholds ({shown})"


def rules(run: Run) -> dict[str, str]:
    """Why each excluding flag excludes, as the driver applies it."""
    return {
        Flag.FAILED: "the level produced no measurement (server died, database gone, tool crashed)",
        Flag.INVALID: "the tool disowned its own figure (e.g. ab length failures, lost keep-alive)",
        Flag.TOO_SHORT: f"fewer than {MIN_COMPLETIONS_PER_CONNECTION} × concurrency requests completed, so "
                        "some connections barely finished a request",
        Flag.NOT_STEADY: f"|RPS / (concurrency / mean latency) − 1| > {STEADY_TOLERANCE:.0%}: the counted rate "
                         "and Little's law disagree, so the window did not see a steady state (open loop: the "
                         f"mean latency of one half of the window over {RATE_DRIFT:g}x the other's and "
                         f"{RATE_DRIFT_MS:g} ms above it, a queue growing or draining)",
        Flag.NOT_DRAINED: "a lab server still had work in flight when the level started",
        Flag.NOISY: noise_rule(run),
        Flag.RELAY_BOUND: "the latency relay sent the app's chunks later than its delay on average, by more than "
                          "10 % of the delay (at least 0.1 ms): the relay, not the stack, set the pace",
        Flag.SATURATED: f"an open-loop level fell behind its arrivals by more than {RATE_TOLERANCE:.0%} of them "
                        "and more than the requests in flight at the window's ends explain: the server did not "
                        "take the offered rate, so its latencies are not those of that rate",
        Flag.CLIENT_LATE: f"the open-loop generator's p99 send lateness passed {CLIENT_LATE_MS:g} ms and a tenth "
                          "of the level's p99: the generator, not the server, added the delay",
    }


def _share(value: Any) -> str:
    return f"{value:.0%}" if isinstance(value, (int, float)) else str(value)


def speed_lines(run: Run) -> list[str]:
    """The machine-speed probe over rounds: median, min, max and coefficient of variation."""
    spread = stats.spread(run.speeds)
    if spread.n == 0:
        return ["No machine-speed probe recorded in this run."]
    cv = "n/a (one round)" if math.isnan(spread.cv) else f"{spread.cv:.1%}"
    return [f"Machine-speed probe (a fixed CPU loop on the server CPU, million loop steps per second, once "
            f"per round): median {spread.median:,.1f}, min {spread.low:,.1f}, max {spread.high:,.1f}, "
            f"coefficient of variation {cv} over {spread.n} round(s). A spread well above the verdicts' "
            "interval widths means the machine itself changed speed during the run."]


def exclusion_table(run: Run) -> str:
    """Rows counted nowhere per flag (a row with two flags counts under both), then marked flags."""
    rows = run.rows
    table = []
    for flag, rule in rules(run).items():
        hit = int(rows["excluded_by"].apply(lambda reasons, f=flag: f in reasons).sum()) if len(rows) else 0
        table.append((f"`{flag}`", hit, "excluded: counted nowhere", rule))
    for flag in MARKED_FLAGS:
        hit = int(rows["flags"].apply(lambda flags, f=flag: f in flags).sum()) if len(rows) else 0
        table.append((f"`{flag}`", hit, "counted, marked", "see Flagged rows"))
    return markdown.table(("flag", "rows", "effect", "rule"), table)


def steadiness_lines(run: Run) -> list[str]:
    """How close the counted rows were to Little's law, and the most foreign CPU they saw."""
    counted = run.rows[run.rows["counted"]]
    deviation = np.abs(counted["steady_deviation"].to_numpy(dtype=float))
    foreign = counted["noise_foreign_cpu_share"].to_numpy(dtype=float)
    steal = counted["noise_steal_share"].to_numpy(dtype=float)
    lines = []
    if np.isfinite(deviation).any():
        lines.append(f"Little's law on counted rows: |RPS / (concurrency / mean latency) − 1| median "
                     f"{np.nanmedian(deviation):.1%}, at most {np.nanmax(deviation):.1%} "
                     f"(rows above {STEADY_TOLERANCE:.0%} are excluded as not_steady).")
    if np.isfinite(foreign).any() or np.isfinite(steal).any():
        lines.append(f"Foreign CPU on counted rows: at most {_nanmax(foreign)} of the lab's CPUs; "
                     f"steal at most {_nanmax(steal)}.")
    return lines


def _nanmax(values: np.ndarray) -> str:
    return f"{np.nanmax(values):.1%}" if np.isfinite(values).any() else "unknown"


def section(run: Run) -> str:
    total, counted = len(run.rows), int(run.rows["counted"].sum()) if len(run.rows) else 0
    excluded = [f.value for f in Flag if f in EXCLUDING_FLAGS]
    text = ["## Noise and validity", "", *speed_lines(run), "",
            (f"{counted} of {total} row(s) are counted. A row carrying any of {', '.join(excluded)} measured "
             "something other than the stack's steady state: it is listed under Flagged rows and counted in "
             "no figure, ratio or verdict."), "", exclusion_table(run)]
    extra = steadiness_lines(run)
    if extra:
        text += ["", *(f"- {line}" for line in extra)]
    return "\n".join(text)
