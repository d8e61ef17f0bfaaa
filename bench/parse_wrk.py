"""Turn wrk's output into a ToolResult, from the one JSON line bench/wrk_summary.lua prints.

wrk's own report rounds to display units ("1.23ms", "4.56k"); the Lua summary gives
exact counts and microseconds, so only that line is read. wrk prints it only when it
finishes a run, so its absence means wrk failed (closed port, bad script, killed).
Its `latency_us` are the latencies wrk measured, with the samples wrk's coordinated-
omission correction adds taken out again (see the script); `latency_us_wrk`, wrk's
corrected figures, stay in the raw output only.
"""

from __future__ import annotations

import json

from bench.schema import LATENCY_KEYS
from bench.tool_result import ParseError, ToolResult, first_line

SUMMARY_MARKER = "WRK_SUMMARY_JSON "


def _samples_add_up(latency_us: dict, requests: int, timeouts: int) -> bool:
    """Whether the measured histogram holds one sample per completed request: wrk drops
    latencies beyond --timeout (counting them as timeouts), so requests − timeouts ≤
    samples ≤ requests. Outputs from before the correction was undone have no count."""
    samples = latency_us.get("samples")
    return samples is None or requests - timeouts <= samples <= requests


def parse_wrk(stdout: str, stderr: str = "") -> ToolResult:
    """Parse one wrk run. Raises ParseError with wrk's own first message (stderr first,
    since wrk reports connect and script errors there) when there is no summary line."""
    lines = [line for line in stdout.splitlines() if line.startswith(SUMMARY_MARKER)]
    if not lines:
        said = first_line(stderr) or first_line(stdout) or "no output"
        raise ParseError(f"wrk printed no summary: {said}")
    summary = json.loads(lines[-1][len(SUMMARY_MARKER):])

    requests = summary["requests"]
    elapsed_s = summary["duration_us"] / 1e6
    latency_us = summary["latency_us"] or {}
    wrk_errors = summary["errors"]
    errors = {
        "connect": wrk_errors["connect"],
        "read": wrk_errors["read"],
        "write": wrk_errors["write"],
        "timeout": wrk_errors["timeout"],
        "non_2xx": wrk_errors["status"],  # wrk counts status > 399 only
        "length": None,
        "exceptions": None,
        "incomplete": None,
    }
    reason = None
    if requests == 0:
        counts = ", ".join(f"{k} {wrk_errors[k]}" for k in ("connect", "read", "write", "timeout"))
        reason = f"wrk: no request completed (socket errors: {counts})"
    elif not _samples_add_up(latency_us, requests, wrk_errors["timeout"]):
        reason = (f"wrk: {latency_us['samples']} latency samples for {requests} requests ({wrk_errors['timeout']} "
                  "timed out) after undoing its correction: the latencies do not describe the requests")
    return ToolResult(
        requests=requests,
        elapsed_s=elapsed_s,
        rps=requests / elapsed_s if elapsed_s > 0 else None,
        bytes=summary["bytes"],
        latency_ms={k: latency_us[k] / 1000 if k in latency_us else None for k in LATENCY_KEYS},
        errors=errors,
        valid=reason is None,
        invalid_reason=reason,
        measured_mean_ms=latency_us["mean"] / 1000 if "mean" in latency_us else None,
    )
