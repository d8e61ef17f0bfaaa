"""Turn the open-loop generator's output (bench/openloop.py, one JSON object) into a ToolResult.

Its `requests` are the measured arrivals that were answered, its `rps` the responses
received inside the measured window per second (the achieved rate), and its latencies
run from each request's intended send time. `rate` keeps what only an open loop has:
the target and the realised arrival rate, how late the generator itself sent (its own
error) and whether requests had to wait for a connection. No JSON object means the
generator failed before it could report; a report with no answered request is invalid.
"""

from __future__ import annotations

import json

from bench.schema import LATENCY_KEYS
from bench.tool_result import ParseError, ToolResult, first_line


def parse_openloop(stdout: str, stderr: str = "") -> ToolResult:
    """Parse one run; ParseError with the generator's first message when it printed no report."""
    report = None
    for line in stdout.splitlines():
        if line.startswith("{"):
            try:
                report = json.loads(line)
            except ValueError:
                continue
    if not isinstance(report, dict) or report.get("tool") != "openloop":
        said = first_line(stderr) or first_line(stdout) or "no output"
        raise ParseError(f"openloop printed no report: {said}")
    errors = {"connect": report["errors"]["connect"], "read": report["errors"]["read"],
              "write": report["errors"]["write"], "timeout": report["errors"]["timeout"],
              "non_2xx": report["errors"]["non_2xx"], "length": None, "exceptions": None,
              "incomplete": report["errors"]["incomplete"]}
    answered = report["answered"]
    reason = None
    if report.get("connect_error"):
        reason = f"openloop: no connection to the server ({report['connect_error']})"
    elif answered == 0:
        reason = f"openloop: none of {report['scheduled']} measured requests was answered"
    lateness, service = report["lateness_ms"], report["service_ms"]
    rate = {"target_rps": report["target_rps"], "scheduled_rps": report["scheduled_rps"],
            "achieved_rps": report["achieved_rps"], "scheduled": report["scheduled"], "sent": report["sent"],
            "lateness_p50_ms": lateness["p50"], "lateness_p99_ms": lateness["p99"],
            "lateness_max_ms": lateness["max"], "service_p50_ms": service["p50"], "service_p99_ms": service["p99"],
            "waited_for_connection": report["waited_for_connection"],
            "connections_peak": report["connections_peak"], "connections_limit": report["connections_limit"],
            "seed": report["seed"], "warmup_answered": report["warmup"]["answered"],
            "first_half_mean_ms": report["halves_mean_ms"][0], "second_half_mean_ms": report["halves_mean_ms"][1]}
    return ToolResult(
        requests=answered,
        elapsed_s=report["duration_s"],
        rps=report["achieved_rps"],
        bytes=report["bytes"],
        latency_ms={k: report["latency_ms"].get(k) for k in LATENCY_KEYS},
        errors=errors,
        valid=reason is None,
        invalid_reason=reason,
        measured_mean_ms=report["latency_ms"].get("mean"),
        rate=rate,
    )
