"""openloop: the lab's own open-loop generator (bench/openloop.py), for latency at a set arrival rate.

A level is a rate, not a concurrency: Poisson arrivals at `LoadRequest.rate`, each timed
from its intended send time, over keep-alive connections opened as needed up to the
level's `concurrency` (the connection limit, recorded as the row's concurrency). It runs
with the driver's own Python (the venv scripts/setup.sh builds from requirements.lock),
on uvloop, pinned to CLIENT_CPUS like wrk and ab. Its own warm-up (the first seconds of
arrivals, sent and discarded) replaces the driver's closed-loop warm-up. Little's law for
a closed loop does not apply; the rate checks do (bench/driver/rates.py).
docs/openloop.md says why the lab carries its own generator.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bench.load_tools.base import Invocation, LoadRequest, LoadTool, shown_header
from bench.parse_openloop import parse_openloop
from bench.schema import Tool
from bench.tool_result import ToolResult

SCRIPT = Path(__file__).resolve().parents[1] / "openloop.py"
LATENCY = "from each request's intended send time (Poisson arrivals at the level's rate): no coordinated omission"


def invocation(request: LoadRequest) -> Invocation:
    assert request.rate is not None, "an open-loop level needs a rate"
    command = [*request.pin, sys.executable, str(SCRIPT), "--url", request.url, "--rate", f"{request.rate:g}",
               "--duration", str(request.duration_s), "--warmup", f"{request.warmup_s:g}",
               "--connections", str(request.concurrency), "--timeout", str(request.timeout_s),
               "--seed", str(request.seed), "--method", request.method]
    if request.body is not None:
        command += ["--body-file", str(request.body)]
    shown = list(command)
    for key, value in request.headers:
        command += ["--header", f"{key}: {value}"]
        shown += ["--header", shown_header(key, value)]
    return Invocation(command, {}, {}, shown if shown != command else None)


def parse(stdout: str, stderr: str, side_text: str | None) -> ToolResult:
    return parse_openloop(stdout, stderr)


def missing() -> str | None:
    """Why the generator cannot run here, or None: it needs uvloop in the driver's Python."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return f"openloop needs uvloop, not installed in {sys.executable} (scripts/setup.sh installs it)"
    return None


OPENLOOP = LoadTool(Tool.OPENLOOP, program=sys.executable, version_command=(sys.executable, str(SCRIPT), "--version"),
                    invocation=invocation, parse=parse, notes={"openloop_latency": LATENCY}, linestyle="-.",
                    marker="s", missing=missing, rate_levels=True)
