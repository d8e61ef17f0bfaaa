"""Turn ApacheBench's report and its `-e` percentile CSV into a ToolResult, and judge it.

ab counts much of what goes wrong as its own "Failed requests" and keeps going, so a
figure is only trusted when the report shows a clean run (docs/design.md, Load generators and ab's own limits):
every request completed (no Connect/Receive failures, no write errors), every one on a
kept-alive connection (ab's HTTP/1.0 keep-alive is what the other tool's HTTP/1.1 is
compared with), and no Length or Exceptions failures (a varying body length, or a server
resetting connections, makes ab miscount). Non-2xx responses are errors, not by
themselves a reason to distrust the figure. When ab aborts it prints no report at all.
"""

from __future__ import annotations

import re

from bench.tool_result import ParseError, ToolResult

_FAILURES = re.compile(r"^\s+\(Connect: (\d+), Receive: (\d+), Length: (\d+), Exceptions: (\d+)\)", re.MULTILINE)
# "Total:" row of Connection Times (ms): min, mean, [+/-sd], median, max; whole ms but sd.
_TOTAL_ROW = re.compile(r"^Total:\s+(\d+)\s+(\d+)\s+([\d.]+)\s+(\d+)\s+(\d+)\s*$", re.MULTILINE)
_PERCENTILES = {"p50": 50, "p75": 75, "p90": 90, "p99": 99}


def _field(stdout: str, label: str, pattern: str = r"(\d+)") -> str | None:
    match = re.search(rf"^{re.escape(label)}:\s+{pattern}", stdout, re.MULTILINE)
    return match.group(1) if match else None


def _required(stdout: str, label: str, pattern: str) -> str:
    """A line every ab report has: without it the report is not one this parser knows."""
    value = _field(stdout, label, pattern)
    if value is None:
        raise ParseError(f"ab report without a {label!r} line")
    return value


def _count(stdout: str, label: str) -> int:
    """A count ab leaves out when it is zero (Write errors, Non-2xx responses) or was not
    asked for (Keep-Alive requests without -k)."""
    return int(_field(stdout, label) or 0)


def _abort_reason(stdout: str, stderr: str) -> str:
    said = [line.strip() for line in stderr.splitlines()
            if line.strip() and not line.startswith(("Completed ", "Finished "))]
    said += [line.strip() for line in stdout.splitlines() if line.startswith("Total of ")]
    return "ab printed no report: " + ("; ".join(said) or "no message")


def _read_percentiles(csv_text: str) -> dict[int, float]:
    """`-e` CSV rows "percent,ms" (0..100); unlike the report, microsecond precision."""
    rows = sorted((int(p), float(ms)) for p, ms in (line.split(",") for line in csv_text.splitlines()[1:]
                                                      if line.strip()))
    percentiles: dict[int, float] = {}
    highest = 0.0
    for percent, ms in rows:
        # With fewer than ~100 requests ab writes 0.000 for some top percentiles (below
        # lower ones): such a value is not a measurement, so it is left out (None).
        if ms >= highest:
            percentiles[percent] = highest = ms
    return percentiles


def parse_ab(stdout: str, percentiles_csv: str | None, stderr: str = "") -> ToolResult:
    """Parse one `ab -k -t D -n N -c C -e FILE.csv ...` run; `percentiles_csv` is the text of
    FILE.csv (None when there is none). Raises ParseError with ab's own message when ab
    aborted ("apr_socket_recv: ...", "Test aborted after 10 failures")."""
    complete = _field(stdout, "Complete requests")
    if complete is None:
        raise ParseError(_abort_reason(stdout, stderr))
    requests = int(complete)
    failures = _FAILURES.search(stdout)
    connect, receive, length, exceptions = (int(n) for n in failures.groups()) if failures else (0, 0, 0, 0)
    write = _count(stdout, "Write errors")
    keep_alive = _count(stdout, "Keep-Alive requests")
    rps = _field(stdout, "Requests per second", r"([\d.]+)")
    mean = _field(stdout, "Time per request", r"([\d.]+) \[ms\] \(mean\)$")
    total = _TOTAL_ROW.search(stdout)
    percent = _read_percentiles(percentiles_csv) if percentiles_csv else {}
    latency_ms: dict[str, float | None] = {
        # concurrency x elapsed / requests, to 0.001 ms; the Total row's mean is whole ms.
        "mean": float(mean) if mean else None,
        "stdev": float(total.group(3)) if total else None,
        **{key: percent.get(p) for key, p in _PERCENTILES.items()},
        "p99_9": None,  # the CSV has whole percents only
        "max": percent.get(100, float(total.group(5)) if total else None),
    }

    problems = [
        (requests == 0, "no request completed"),
        (connect > 0, f"{connect} Connect failures"),
        (receive > 0, f"{receive} Receive failures"),
        (write > 0, f"{write} write errors"),
        (keep_alive < requests, f"only {keep_alive} of {requests} requests were keep-alive"),
        (length > 0, f"{length} of {requests} requests had Length failures"),
        (exceptions > 0, f"{exceptions} Exceptions failures"),
    ]
    reasons = [text for failed, text in problems if failed]
    return ToolResult(
        requests=requests,
        elapsed_s=float(_required(stdout, "Time taken for tests", r"([\d.]+) seconds")),
        rps=float(rps) if rps else None,
        bytes=int(_required(stdout, "Total transferred", r"(\d+) bytes")),
        latency_ms=latency_ms,
        errors={
            "connect": connect,
            "read": receive,
            "write": write,
            "timeout": None,  # ab aborts on its -s timeout instead of counting
            "non_2xx": _count(stdout, "Non-2xx responses"),
            "length": length,
            "exceptions": exceptions,
            "incomplete": None,
        },
        valid=not reasons,
        invalid_reason="ab: " + "; ".join(reasons) if reasons else None,
        measured_mean_ms=float(total.group(2)) if total else None,  # whole ms
    )
