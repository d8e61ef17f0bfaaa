"""ab (ApacheBench): one thread, HTTP/1.0 keep-alive; beside wrk it cross-checks wrk's figures.

`-t` alone stops ab at 50,000 requests, so a request cap far above any level follows it.
Its percentiles come from the `-e` CSV, a side file next to the raw output. Its measured
mean latency is whole milliseconds: below MEAN_FLOOR_MS the rounding alone could exceed
the steady-state tolerance, so Little's law is not checked for such levels. Some servers
it cannot measure validly at all; lab/stacks.py says which, and the report says so once.
"""

from __future__ import annotations

from bench.load_tools.base import Invocation, LoadRequest, LoadTool, shown_header
from bench.parse_ab import parse_ab
from bench.schema import Tool
from bench.tool_result import ToolResult
from lab.stacks import StackEntry

REQUEST_CAP = 10_000_000
MEAN_FLOOR_MS = 20.0


def invocation(request: LoadRequest) -> Invocation:
    command = [*request.pin, "ab", "-k", "-t", str(request.duration_s), "-n", str(REQUEST_CAP),
               "-c", str(request.concurrency), "-s", str(request.timeout_s)]
    if request.side_file is not None:
        command += ["-e", str(request.side_file)]
    command += method_options(request)
    shown = list(command)
    for key, value in request.other_headers():
        command += ["-H", f"{key}: {value}"]
        shown += ["-H", shown_header(key, value)]
    command.append(request.url)
    shown.append(request.url)
    header = {"percentiles_csv": request.side_file.name} if request.side_file is not None else {}
    return Invocation(command, {}, header, shown if shown != command else None)


# ab sends a body only with POST (-p) and PUT (-u); any other method it names with -m, bodiless.
BODY_OPTIONS = {"POST": "-p", "PUT": "-u"}


def cannot_send(method: str, has_body: bool) -> str | None:
    """Why ab cannot send this request as given, or None."""
    if has_body and method not in BODY_OPTIONS:
        return f"ab cannot send a body with {method} (only with {' or '.join(BODY_OPTIONS)}): measure it with wrk"
    return None


def method_options(request: LoadRequest) -> list[str]:
    if request.body is not None:
        return [BODY_OPTIONS[request.method], str(request.body), "-T", request.content_type or "text/plain"]
    return [] if request.method == "GET" else ["-m", request.method]


def parse(stdout: str, stderr: str, side_text: str | None) -> ToolResult:
    return parse_ab(stdout, side_text, stderr)


def stack_note(stack: StackEntry) -> str | None:
    return stack.ab_note


AB = LoadTool(Tool.AB, program="ab", version_command=("ab", "-V"), invocation=invocation, parse=parse,
              side_suffix=".csv", mean_floor_ms=MEAN_FLOOR_MS, cross_checks=Tool.WRK, linestyle="--", marker="D",
              stack_note=stack_note)
