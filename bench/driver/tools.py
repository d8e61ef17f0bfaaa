"""Running wrk and ab for one level: the exact command, pinned to CLIENT_CPUS, its raw
output written untouched, parsed into a ToolResult, and the client's own CPU time."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.parse_ab import parse_ab
from bench.parse_wrk import parse_wrk
from bench.rawfile import write_raw
from bench.schema import Tool
from bench.tool_result import ParseError, ToolResult
from lab.config import Settings, format_cpus

BENCH_DIR = Path(__file__).resolve().parents[1]
WRK_SCRIPT = BENCH_DIR / "wrk_summary.lua"
POST_BODY = BENCH_DIR / "post_body.json"
TIMEOUT_S = 30  # well above the slowest expected response: wrk's 2 s default fakes timeouts
AB_REQUEST_CAP = 10_000_000  # -n after -t: ab's -t alone caps the run at 50,000 requests


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class ToolOutcome:
    result: ToolResult | None  # None when the tool produced no report
    failure: str | None  # why, then
    client_cpu_s: float
    elapsed_s: float


def build_command(tool: Tool, url: str, method: str, concurrency: int, duration_s: int,
                  settings: Settings, csv_path: Path | None) -> tuple[list[str], dict[str, str]]:
    pin = ["taskset", "-c", format_cpus(settings.client_cpus)]
    env = {}
    if tool == Tool.WRK:
        threads = min(concurrency, len(settings.client_cpus))
        command = [*pin, "wrk", f"-t{threads}", f"-c{concurrency}", f"-d{duration_s}s", "--latency",
                   "--timeout", f"{TIMEOUT_S}s", "-s", str(WRK_SCRIPT), url]
        env = {"WRK_METHOD": method, "WRK_BODY_FILE": str(POST_BODY) if method == "POST" else "",
               "WRK_CONNECTIONS": str(concurrency)}
    else:
        command = [*pin, "ab", "-k", "-t", str(duration_s), "-n", str(AB_REQUEST_CAP), "-c", str(concurrency),
                   "-s", str(TIMEOUT_S)]
        if csv_path is not None:
            command += ["-e", str(csv_path)]
        if method == "POST":
            command += ["-p", str(POST_BODY), "-T", "application/json"]
        command.append(url)
    return command, env


def run_tool(tool: Tool, url: str, method: str, concurrency: int, duration_s: int, settings: Settings,
             raw_path: Path | None) -> ToolOutcome:
    """Run once; write raw output to raw_path (None: a discarded primer/warmup run)."""
    csv_path = raw_path.with_suffix(".csv") if raw_path else None
    if raw_path is not None:
        raw_path.parent.mkdir(parents=True, exist_ok=True)  # ab writes its CSV there while it runs
    command, extra_env = build_command(tool, url, method, concurrency, duration_s, settings, csv_path)
    started, t0 = now(), os.times().elapsed
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, **extra_env}, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=duration_s + TIMEOUT_S + 30)
    except BaseException:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    ended, elapsed = now(), os.times().elapsed - t0
    client_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    out = stdout.decode("utf-8", "surrogateescape")
    err = stderr.decode("utf-8", "surrogateescape")
    if raw_path is not None:
        extra = ({"percentiles_csv": csv_path.name} if tool == Tool.AB
                 else {"env": " ".join(f"{k}={v}" for k, v in extra_env.items())})
        write_raw(raw_path, command=command, cpus=f"client={format_cpus(settings.client_cpus)} "
                  f"server={format_cpus(settings.server_cpus)} db={format_cpus(settings.db_cpus)}",
                  started=started, ended=ended, exit_code=process.returncode, stdout=out, stderr=err,
                  extra=extra)
    try:
        if tool == Tool.WRK:
            result = parse_wrk(out, err)
        else:
            csv_text = csv_path.read_text() if csv_path and csv_path.exists() else None
            result = parse_ab(out, csv_text, err)
    except ParseError as error:
        return ToolOutcome(None, f"{tool} exit {process.returncode}: {error}", client_cpu, elapsed)
    return ToolOutcome(result, None, client_cpu, elapsed)
