"""What a load tool's output says, in the units of a results row (bench/schema.py).

`parse_wrk`, `parse_ab` and `parse_openloop` each return a `ToolResult`, so the driver fills a row the
same way whatever tool ran, and a tool that produced no report raises `ParseError`
(the driver records that as a failed level, never as 0 RPS).
"""

from __future__ import annotations

from dataclasses import dataclass

from lab.errors import LabError


class ParseError(LabError, ValueError):
    """The tool's output holds no report to parse; the message is one line saying why."""


@dataclass(frozen=True)
class ToolResult:
    """One tool run. `latency_ms` has the keys of schema.LATENCY_KEYS and `errors` those of
    schema.ERROR_KEYS; None where the tool does not report that figure or kind."""

    requests: int
    elapsed_s: float
    rps: float | None
    bytes: int
    latency_ms: dict[str, float | None]
    errors: dict[str, int | None]
    valid: bool
    invalid_reason: str | None
    # The mean latency the tool measured request by request, for the Little's law check
    # (ab's "Time per request" is computed from the count itself, so it cannot serve).
    measured_mean_ms: float | None = None
    # An open-loop run's rate figures (schema.RATE_TOOL_KEYS); None for a closed loop.
    rate: dict | None = None


def first_line(text: str) -> str | None:
    """A tool's first non-empty output line: what a ParseError quotes when there is no report."""
    return next((line.strip() for line in text.splitlines() if line.strip()), None)
