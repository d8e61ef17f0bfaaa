"""Running a load tool for one level: its adapter's command (bench/load_tools/), pinned to
CLIENT_CPUS, its raw output written untouched, parsed into a ToolResult, and the client's
own CPU time. The adapters only describe; this is the one place a tool is started."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.load_tools import TOOLS
from bench.load_tools.base import LoadRequest
from bench.rawfile import write_raw
from bench.schema import ENDPOINT_PATHS, Endpoint, Tool
from bench.tool_result import ParseError, ToolResult
from lab.config import Settings, format_cpus

BENCH_DIR = Path(__file__).resolve().parents[1]
POST_BODY = BENCH_DIR / "post_body.json"
TIMEOUT_S = 30  # well above the slowest expected response: wrk's 2 s default fakes timeouts
JSON_BODY = (("Content-Type", "application/json"),)


@dataclass(frozen=True)
class Sent:
    """The request a level sends: one of the lab's endpoints, or an app file's request."""

    method: str
    path: str
    body_file: Path | None = None
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # values may hold secrets

    def body(self) -> bytes:
        return self.body_file.read_bytes() if self.body_file else b""


def endpoint_request(endpoint: Endpoint) -> Sent:
    """What the lab sends to one of its own endpoints: a POST carries bench/post_body.json."""
    method, path = ENDPOINT_PATHS[endpoint]
    return Sent(method, path, POST_BODY, JSON_BODY) if method == "POST" else Sent(method, path)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class ToolOutcome:
    result: ToolResult | None  # None when the tool produced no report
    failure: str | None  # why, then
    client_cpu_s: float
    elapsed_s: float


def run_tool(tool: Tool, base_url: str, sent: Sent, concurrency: int, duration_s: int, settings: Settings,
             raw_path: Path | None, rate: float | None = None, warmup_s: float = 0.0, seed: int = 0) -> ToolOutcome:
    """Run once; write raw output to raw_path (None: a discarded primer/warmup run). `rate`,
    `warmup_s`, `seed`: an open-loop level's arrivals (bench/load_tools/openloop.py)."""
    adapter = TOOLS[tool]
    side_file = raw_path.with_suffix(adapter.side_suffix) if raw_path and adapter.side_suffix else None
    if raw_path is not None:
        raw_path.parent.mkdir(parents=True, exist_ok=True)  # a side file is written there while the tool runs
    invocation = adapter.invocation(LoadRequest(
        base_url + sent.path, sent.method, concurrency, duration_s, threads=len(settings.client_cpus),
        pin=("taskset", "-c", format_cpus(settings.client_cpus)), body=sent.body_file, timeout_s=TIMEOUT_S,
        side_file=side_file, headers=sent.headers, rate=rate, warmup_s=warmup_s, seed=seed))
    started, t0 = now(), os.times().elapsed
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    process = subprocess.Popen(invocation.command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, **invocation.env}, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=warmup_s + duration_s + TIMEOUT_S + 30)
    except BaseException:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:  # it ended on its own meanwhile: the interruption still goes on
            pass
        process.wait()
        raise
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    ended, elapsed = now(), os.times().elapsed - t0
    client_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    out = stdout.decode("utf-8", "surrogateescape")
    err = stderr.decode("utf-8", "surrogateescape")
    if raw_path is not None:
        write_raw(raw_path, command=invocation.recorded_command, cpus=f"client={format_cpus(settings.client_cpus)} "
                  f"server={format_cpus(settings.server_cpus)} db={format_cpus(settings.db_cpus)}",
                  started=started, ended=ended, exit_code=process.returncode, stdout=out, stderr=err,
                  extra=invocation.raw_header)
    try:
        side_text = side_file.read_text() if side_file and side_file.exists() else None
        result = adapter.parse(out, err, side_text)
    except ParseError as error:
        return ToolOutcome(None, f"{tool} exit {process.returncode}: {error}", client_cpu, elapsed)
    return ToolOutcome(result, None, client_cpu, elapsed)
