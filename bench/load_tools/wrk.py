"""wrk: multi-threaded HTTP/1.1 keep-alive, the lab's measuring tool.

It reads no human report: bench/wrk_summary.lua sends the level's method and body and
prints one JSON line, with wrk's coordinated-omission samples taken out again, since a
closed loop never sent those requests (the script says how). Its latencies are in
microseconds, fine enough for the Little's law check at any level.
"""

from __future__ import annotations

from pathlib import Path

from bench.load_tools.base import Invocation, LoadRequest, LoadTool, shown_header
from bench.parse_wrk import parse_wrk
from bench.schema import Tool
from bench.tool_result import ToolResult

SCRIPT = Path(__file__).resolve().parents[1] / "wrk_summary.lua"
# What wrk rows' latencies are; runs from before the script undid wrk's correction lack
# the key, so `bench compare` names the difference.
LATENCY = "as measured: wrk's coordinated-omission samples taken out (bench/wrk_summary.lua)"


def invocation(request: LoadRequest) -> Invocation:
    """One thread per client CPU (never more than connections); the script reads the rest from its environment."""
    threads = min(request.concurrency, request.threads)
    command = [*request.pin, "wrk", f"-t{threads}", f"-c{request.concurrency}", f"-d{request.duration_s}s",
               "--latency", "--timeout", f"{request.timeout_s}s", "-s", str(SCRIPT), request.url]
    env = {"WRK_METHOD": request.method, "WRK_BODY_FILE": str(request.body) if request.body else "",
           "WRK_CONNECTIONS": str(request.concurrency)}
    shown = dict(env)
    if request.headers:
        env["WRK_HEADERS"] = "\n".join(f"{key}: {value}" for key, value in request.headers)
        shown["WRK_HEADERS"] = repr("\n".join(shown_header(key, value) for key, value in request.headers))
    return Invocation(command, env, {"env": " ".join(f"{k}={v}" for k, v in shown.items())})


def parse(stdout: str, stderr: str, side_text: str | None) -> ToolResult:
    return parse_wrk(stdout, stderr)


WRK = LoadTool(Tool.WRK, program="wrk", version_command=("wrk", "-v"), invocation=invocation, parse=parse,
               notes={"wrk_latency": LATENCY}, linestyle="-", marker="o")
