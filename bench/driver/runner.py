"""The measurement loop (DESIGN.md section 5): per stack, start the server under its
limits, verify, prime and warm up, measure every tool x endpoint x level x repeat, stop
and reset the database. Rows are appended as each level ends; any exit leaves every
finished row on disk, the run marked as it ended, and no process or cgroup behind.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bench.driver.dbprobe import DatabaseGone, DbProbe, empty_io_dir, mariadbd_pid
from bench.driver.metadata import collect_metadata
from bench.driver.profiles import Profile
from bench.driver.results import RunFiles
from bench.driver.sampling import LevelSample, wait_until_idle
from bench.driver.tools import now, run_tool
from bench.driver.verify import verify
from bench.schema import (
    DB_KEYS,
    ENDPOINT_PATHS,
    ERROR_KEYS,
    LATENCY_KEYS,
    SCHEMA_VERSION,
    SERVER_KEYS,
    Endpoint,
    Flag,
    Tool,
)
from lab import db
from lab.config import ROOT, Settings
from lab.limits import Cgroup, CgroupV1, CgroupV2, Limiter
from lab.net import free_port
from lab.serve import RUN_DIR, PortTaken, Server, ServerDied

CLIENT_BOUND_SHARE = 0.8
DB_BOUND_SHARE = 0.8
HISTORY_GROWTH_LIMIT = 1000  # undo log records left unpurged after a level
MANAGE = [sys.executable, str(ROOT / "project" / "manage.py")]


@dataclass(frozen=True)
class Plan:
    stacks: tuple[str, ...]
    endpoints: tuple[Endpoint, ...]
    tools: tuple[Tool, ...]
    profile: Profile
    seed: int
    url: str | None = None

    def record(self) -> dict:
        data = asdict(self)
        data["profile"] = self.profile.record()
        return data

    def levels(self) -> list[tuple[Tool, Endpoint, int, int]]:
        return [(tool, endpoint, c, r) for tool in self.tools for endpoint in self.endpoints
                for c in self.profile.concurrency for r in range(1, self.profile.repeats + 1)]


class StackAbort(RuntimeError):
    """The stack cannot go on (its server died twice); str() is the recorded reason."""


class ExternalServer:
    """A server started elsewhere (`--url`), e.g. by scripts/serve.sh: measured, never
    started or stopped; its cgroup is sampled when serve.sh recorded one."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")
        self.port = urlsplit(self.url).port or 80
        record_path = RUN_DIR / f"server-{self.port}.json"
        self.record = json.loads(record_path.read_text()) if record_path.exists() else None
        self.cgroup = _cgroup_from_record(self.record["cgroup"]) if self.record else None
        self.command = self.record["command"] if self.record else None
        self.stack = self.info()["stack"]

    def info(self) -> dict:
        with urllib.request.urlopen(f"{self.url}/info/", timeout=10) as response:
            return json.load(response)

    def check_alive(self) -> None:
        """A foreign server is not ours to watch: its failures show up as tool errors."""

    def pids(self) -> set[int]:
        return self.cgroup.pids() if self.cgroup else set()


def _cgroup_from_record(record: dict | None) -> Cgroup | None:
    if not record or record["limiter"] == Limiter.TASKSET:
        return None
    kind = CgroupV2 if record["limiter"] == Limiter.CGROUP_V2 else CgroupV1
    group = kind(Path(record["paths"][0]).name)
    return group if all(Path(p).exists() for p in group.paths()) else None


def _flags(status: str, valid: bool, error_count: int | None, client: dict, database: dict) -> list[str]:
    flags = []
    if status == "failed":
        flags.append(Flag.FAILED)
    elif not valid:
        flags.append(Flag.INVALID)
    if error_count:
        flags.append(Flag.ERRORS)
    if (client.get("cpu_share") or 0) > CLIENT_BOUND_SHARE:
        flags.append(Flag.CLIENT_BOUND)
    if (database.get("cpu_share") or 0) > DB_BOUND_SHARE:
        flags.append(Flag.DB_BOUND)
    if database.get("open_trx_after"):
        flags.append(Flag.DB_OPEN_TRANSACTIONS)
    before, after = database.get("history_before"), database.get("history_after")
    if before is not None and after is not None and after - before > HISTORY_GROWTH_LIMIT:
        flags.append(Flag.DB_HISTORY_GROWTH)
    return [str(f) for f in flags]


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C (server stopped, rows kept, run marked interrupted),
    with its own exit status: 143, not 130."""


def _terminate(signum, frame):
    raise Terminated


def stop_on_sigterm() -> None:
    """Make SIGTERM stop the driver the way Ctrl-C does; set before anything is started."""
    signal.signal(signal.SIGTERM, _terminate)


def interrupted_status(stop: KeyboardInterrupt) -> int:
    return 143 if isinstance(stop, Terminated) else 130


class Runner:
    def __init__(self, plan: Plan, settings: Settings, files: RunFiles, run: dict):
        self.plan = plan
        self.settings = settings
        self.files = files
        self.run = run
        self.done = {(r["stack"], r["tool"], r["endpoint"], r["concurrency"], r["repeat"]) for r in files.rows()}
        self.total = len(plan.stacks) * len(plan.levels())
        self.finished = len(self.done)
        self.level_seconds: list[float] = []
        self.probe: DbProbe | None = None

    # --- bookkeeping -------------------------------------------------------------------
    def save(self) -> None:
        self.files.write_run(self.run)

    def stack_info(self, stack: str) -> dict:
        return self.run["stacks"].setdefault(stack, {"status": "pending", "reason": None, "server_command": None,
                                                     "verification": None, "restarts": 0})

    def eta(self) -> str:
        remaining = self.total - self.finished
        if not self.level_seconds:
            return "?"
        seconds = int(remaining * sum(self.level_seconds) / len(self.level_seconds))
        return f"{seconds // 60}m{seconds % 60:02d}s"

    def progress(self, row: dict) -> None:
        self.finished += 1
        p99 = row["latency_ms"].get("p99")
        rps = f"{row['rps']:.1f} rps" if row["rps"] is not None else "FAILED"
        errors = row["error_count"] if row["error_count"] is not None else "-"
        print(f"[{self.finished}/{self.total} ETA {self.eta()}] {row['stack']} {row['endpoint']} {row['tool']} "
              f"c={row['concurrency']} r{row['repeat']}: {rps}, p99 {p99 if p99 is not None else '-'} ms, "
              f"errors {errors}, flags {','.join(row['flags']) or '-'}"
              + (f" ({row['failure'] or row['invalid_reason']})" if row["failure"] or row["invalid_reason"] else ""),
              flush=True)

    # --- the loop ----------------------------------------------------------------------
    def execute(self) -> int:
        """Measure every stack; returns the exit code (0 complete, 1 failed, 130/143 stopped)."""
        code = 0
        try:
            self.probe = DbProbe(self.settings)
            if not self.run["metadata"]:
                self.run["metadata"] = collect_metadata(self.settings, self.probe)
            self.run["status"] = "running"
            self.save()
            for stack in self.run["stack_order"]:
                if self.stack_info(stack)["status"] in ("skipped", "measured"):
                    continue
                self.measure_stack(stack)
            self.run["status"] = "complete"
        except KeyboardInterrupt as stop:
            print("\nbench: interrupted; finished rows are kept; resume with --resume " + str(self.files.dir),
                  file=sys.stderr)
            self.run["status"], code = "interrupted", interrupted_status(stop)
        except DatabaseGone as error:
            print(f"bench: {error}; stopping the run (finished rows are kept)", file=sys.stderr)
            self.run["status"], code = "failed", 1
        finally:
            self.run["ended_at"] = now()
            self.save()
            if self.probe:
                self.probe.close()
        return code

    def reset_database_state(self) -> None:
        """Every stack starts from the same state: no io files, no bench_records rows (io
        files first: they go even when the database has gone away)."""
        assert self.probe is not None
        empty_io_dir(self.settings.io_dir)
        self.probe.reset_bench_records()

    def measure_stack(self, stack: str) -> None:
        info = self.stack_info(stack)
        print(f"bench: {stack}: starting", flush=True)
        self.reset_database_state()
        server = (ExternalServer(self.plan.url) if self.plan.url else
                  Server(stack, self.settings, port=free_port(), log_path=self.files.dir / "logs" / f"{stack}.log",
                         cgroup_name=f"bench-{self.run['run_id']}-{stack}"))
        try:
            if isinstance(server, Server):
                server.start()
                if server.warning:
                    print(server.warning, file=sys.stderr)
                server.wait_ready()
                self.run["metadata"]["limiter"] = str(server.cgroup.limiter)
            elif self.run["metadata"]["limiter"] is None:
                self.run["metadata"]["limiter"] = str(server.cgroup.limiter) if server.cgroup else "unknown (--url)"
            info["server_command"] = server.command
            outcome = verify(stack, server.url, self.settings, self.probe)
            info["verification"] = outcome
            print(f"bench: {stack}: verification {'passed' if outcome['passed'] else 'FAILED'}; "
                  f"{outcome['summary']}", flush=True)
            if not outcome["passed"]:
                info["status"], info["reason"] = "skipped", "verification failed: " + "; ".join(outcome["failed"][:5])
                print(f"bench: {stack}: skipped ({info['reason']})", file=sys.stderr)
                return
            self.save()
            self.warm_up(server)
            for tool, endpoint, concurrency, repeat in self.plan.levels():
                if (stack, str(tool), str(endpoint), concurrency, repeat) in self.done:
                    continue
                self.measure_level(server, stack, tool, endpoint, concurrency, repeat)
            info["status"] = "measured"
        except (ServerDied, PortTaken, StackAbort) as error:
            info["status"], info["reason"] = "failed", str(error)
            print(f"bench: {stack}: {error}", file=sys.stderr)
        except DatabaseGone as error:  # the run stops (Runner.execute); the stack says why
            info["status"], info["reason"] = "failed", str(error)
            raise
        finally:
            if isinstance(server, Server):
                server.stop()
            self.save()
            self.reset_database_state()

    def warm_up(self, server) -> None:
        """Primer (concurrency 1) then warmup (highest level) per endpoint; discarded."""
        top = max(self.plan.profile.concurrency)
        for endpoint in self.plan.endpoints:
            method, path = ENDPOINT_PATHS[endpoint]
            for concurrency, seconds in ((1, self.plan.profile.primer_s), (top, self.plan.profile.warmup_s)):
                if seconds:
                    run_tool(Tool.WRK, server.url + path, method, concurrency, seconds, self.settings, None)
            server.check_alive()

    def measure_level(self, server, stack: str, tool: Tool, endpoint: Endpoint, concurrency: int,
                      repeat: int) -> None:
        started_clock = time.monotonic()
        method, path = ENDPOINT_PATHS[endpoint]
        raw_path = self.files.raw_path(tool, stack, endpoint, concurrency, repeat)
        cgroup = server.cgroup
        wait_until_idle(cgroup, self.settings.server_cpu_quota)
        sample = LevelSample(self.settings, self.probe, cgroup, server.pids if cgroup is None and isinstance(
            server, Server) else None, mariadbd_pid(self.settings))
        started = now()
        outcome = run_tool(tool, server.url + path, method, concurrency, self.plan.profile.duration_s,
                           self.settings, raw_path)
        ended = now()
        died = None
        try:
            server.check_alive()
        except ServerDied as error:
            died = str(error)
        result = outcome.result
        try:
            server_section, db_section = sample.finish(result.requests if result else None)
        except DatabaseGone as error:  # a failed row, then the run stops
            gone = error
            server_section, db_section = dict.fromkeys(SERVER_KEYS), dict.fromkeys(DB_KEYS)
        else:
            gone = None
        client = {"cpu_pct": outcome.client_cpu_s / outcome.elapsed_s * 100,
                  "cpu_share": outcome.client_cpu_s / outcome.elapsed_s / len(self.settings.client_cpus),
                  "cpus": list(self.settings.client_cpus)}
        failure = died or (str(gone) if gone else None) or outcome.failure
        if failure:
            status, valid, reason = "failed", False, None
            errors = {}
            latency = {}
        else:
            status, valid, reason = "ok", result.valid, result.invalid_reason
            errors, latency = result.errors, result.latency_ms
        error_count = sum(v for v in errors.values() if v) if errors else None
        requests = result.requests if result and not failure else None
        row = {
            "schema_version": SCHEMA_VERSION, "run_id": self.run["run_id"], "stack": stack,
            "endpoint": str(endpoint), "tool": str(tool), "concurrency": concurrency, "repeat": repeat,
            "duration_s": self.plan.profile.duration_s, "started_at": started, "ended_at": ended,
            "status": status, "failure": failure, "valid": valid, "invalid_reason": reason,
            "rps": result.rps if result and not failure else None, "requests": requests,
            "elapsed_s": result.elapsed_s if result and not failure else None,
            "bytes": result.bytes if result and not failure else None,
            "latency_ms": {**dict.fromkeys(LATENCY_KEYS), **latency},
            "errors": {**dict.fromkeys(ERROR_KEYS), **errors},
            "error_count": error_count,
            "error_rate": error_count / requests if requests and error_count is not None else None,
            "server": server_section, "db": db_section, "client": client,
            "flags": [], "raw": self.files.relative(raw_path),
        }
        row["flags"] = _flags(status, valid, error_count, client, db_section)
        self.files.append_row(row)
        self.level_seconds.append(time.monotonic() - started_clock)
        self.progress(row)
        if gone:
            raise gone
        if died:
            self.restart(server, stack, died)

    def restart(self, server, stack: str, reason: str) -> None:
        info = self.stack_info(stack)
        if not isinstance(server, Server) or info["restarts"] >= 1:
            raise StackAbort(f"server died again, stack abandoned: {reason}")
        info["restarts"] += 1
        print(f"bench: {stack}: server died ({reason}); restarting it once", file=sys.stderr)
        server.stop()
        self.reset_database_state()
        server.start()
        server.wait_ready()


def database_needs_starting(settings: Settings) -> bool:
    """Whether prepare_database will start the private MariaDB (then the driver stops it at
    exit). Asked before starting it, so an interruption during start-up still stops it."""
    return settings.database.private and db.running_pid() is None


def prepare_database(settings: Settings) -> None:
    """Start the private MariaDB if needed, migrate, seed; db.DatabaseError with the tail
    of manage.py's output when that fails."""
    db.start(settings)
    for command in (["migrate", "--noinput", "-v", "0"], ["seed_users"]):
        result = subprocess.run(MANAGE + command, cwd=ROOT / "project", capture_output=True, text=True)
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
            raise db.DatabaseError(f"manage.py {command[0]} exited with status {result.returncode}: {tail[0]}")


def new_run(plan: Plan, run_id: str) -> dict:
    order = list(plan.stacks)
    random.Random(plan.seed).shuffle(order)
    return {
        "schema_version": SCHEMA_VERSION, "run_id": run_id, "started_at": now(), "ended_at": None,
        "status": "running", "tools": [str(t) for t in plan.tools], "endpoints": [str(e) for e in plan.endpoints],
        "profile": plan.profile.record(), "stack_order": order, "shuffle_seed": plan.seed,
        "plan": plan.record(), "metadata": {}, "stacks": {},
    }
