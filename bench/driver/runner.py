"""The measurement loop: every stack's server up for the whole run, each verified by the
gate, then the run's interleaved rounds (bench/driver/schedule.py), each level measured
by bench/driver/level.py. Rows are appended as each level ends; any exit leaves every
finished row on disk, run.json saying how the run ended (and why, if it died), and no
process or cgroup behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field

from bench.driver.app_run import gate as app_gate
from bench.driver.app_run import request_files
from bench.driver.dbprobe import DatabaseGone, DbProbe, open_probe
from bench.driver.drain import wait_drained
from bench.driver.fleet import Fleet
from bench.driver.level import LevelContext, measure_level
from bench.driver.metadata import collect_database, collect_metadata
from bench.driver.noise import NOISY_SHARE, speed_probe
from bench.driver.rates import capacities, parse_rates, plan_rate_rounds
from bench.driver.relay_process import RelayFailed, RelayProcess
from bench.driver.results import RunFiles
from bench.driver.round_trip import failed_delays, verify_relay
from bench.driver.schedule import Round, build_rounds
from bench.driver.tools import now
from bench.driver.variants import (
    UNIT_SEPARATOR,
    Variant,
    build_variants,
    engine_settings,
    split_unit,
    stack_units,
    unit_settings,
)
from bench.driver.verify import verify
from bench.driver.window import TARGET_COMPLETIONS_PER_CONNECTION
from bench.profiles import Profile, ToolPlan
from bench.schema import MIN_COMPLETIONS_PER_CONNECTION, SCHEMA_VERSION, STEADY_TOLERANCE, Endpoint, Tool
from lab import db
from lab.app_file import AppFile
from lab.config import ROOT, Settings, format_cpus
from lab.errors import LabError
from lab.io_files import prepare_io_dir, remove_io_files
from lab.serve import PortTaken, Server, ServerDied
from lab.stacks import STACKS, serves

MANAGE = [sys.executable, str(ROOT / "project" / "manage.py")]


@dataclass(frozen=True)
class Plan:
    stacks: tuple[str, ...]
    endpoints: tuple[Endpoint, ...]
    tools: tuple[Tool, ...]
    profile: Profile
    seed: int
    url: str | None = None
    vary: dict[str, tuple[str, ...]] = field(default_factory=dict)  # the run's axes (bench/driver/variants.py)
    app: str | None = None  # an app file's path: its project is measured, not the lab's (bench/driver/app_run.py)
    rates: tuple[str, ...] = ()  # the open-loop generator's rates (bench/driver/rates.py), after the closed-loop rounds
    slo_ms: float | None = None  # the latency target an open-loop run's sustainable rate is read against

    def record(self) -> dict:
        data = asdict(self)
        data["profile"] = self.profile.record()
        data["vary"] = {k: list(v) for k, v in self.vary.items()}
        data["rates"] = list(self.rates)
        return data

    def variants(self) -> list[Variant]:
        return build_variants(self.vary)

    def units(self) -> tuple[str, ...]:
        """Every (stack, variant) the run measures, variant by variant (variants.stack_units)."""
        return stack_units(self.variants(), self.stacks)

    def rounds(self, units: tuple[str, ...] | None = None) -> list[Round]:
        tool_plan = ToolPlan(self.profile, self.tools)
        return build_rounds(units or self.units(), self.tools, self.endpoints, tool_plan.levels,
                            tool_plan.repeats, self.seed, unit_serves)


def unit_serves(unit: str, endpoint: Endpoint) -> bool:
    return serves(split_unit(unit)[0], str(endpoint))


def row_unit(row: dict) -> str:
    return f"{row['stack']}{UNIT_SEPARATOR}{row['variant']}" if row.get("variant") else row["stack"]


class AppNotMeasurable(LabError):
    """No WSGI or no ASGI stack of an app file's project started and passed its gate: nothing to compare."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C (servers stopped, rows kept, run marked interrupted),
    with its own exit status: 143, not 130."""


def _terminate(signum, frame):
    raise Terminated


def handle_stop_signals() -> None:
    """SIGINT and SIGTERM stop the driver cleanly, however it was started: a background job
    of a non-interactive shell inherits SIGINT ignored, and Python then installs no
    KeyboardInterrupt handler, so it is restored explicitly."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)


def interrupted_status(stop: KeyboardInterrupt) -> int:
    return 143 if isinstance(stop, Terminated) else 130


class Runner:
    def __init__(self, plan: Plan, settings: Settings, files: RunFiles, run: dict, app: AppFile | None = None,
                 app_info: dict | None = None):
        """`app`, `app_info`: an app file's project and what run.json records of it (app_run.app_record)."""
        self.plan = plan
        self.app = app
        self.app_info = app_info
        self.requests = request_files(app, files.dir) if app else None
        self.settings = settings
        self.files = files
        self.run = run
        self.done = {level_key(row_unit(r), r, (r.get("rate") or {}).get("target_rps")) for r in files.rows()}
        self.last_rps = {(row_unit(r), r["tool"], r["endpoint"], r["concurrency"]): r["rps"] for r in files.rows()
                         if r["status"] == "ok" and r["rps"]}
        self.total = sum(len(r["order"]) for r in run["rounds"])
        self.finished = len(self.done)
        self.level_seconds: list[float] = []
        # One probe and one latency relay per database engine of the run (DB_ENGINE may be an axis).
        self.engines = {} if app else engine_settings(plan.units(), settings)
        self.probes: dict[str, DbProbe] = {}
        self.relays: dict[str, RelayProcess] = {}
        self.fleet: Fleet | None = None
        self.abandoned: set[str] = set()
        self.first_round_at: float | None = None

    # --- bookkeeping -------------------------------------------------------------------
    def save(self) -> None:
        self.files.write_run(self.run)

    def stack_info(self, stack: str) -> dict:
        return self.run["stacks"].setdefault(stack, {"status": "pending", "reason": None, "server_command": None,
                                                     "verification": None, "restarts": 0})

    def eta(self) -> str:
        if not self.level_seconds:
            return "?"
        seconds = int((self.total - self.finished) * sum(self.level_seconds) / len(self.level_seconds))
        return f"{seconds // 60}m{seconds % 60:02d}s"

    def progress(self, row: dict) -> None:
        self.finished += 1
        p99 = row["latency_ms"].get("p99")
        rps = f"{row['rps']:.1f} rps" if row["rps"] is not None else "FAILED"
        why = row["failure"] or row["invalid_reason"]
        errors = row["error_count"] if row["error_count"] is not None else "-"
        level = (f"at {row['rate']['target_rps']:g}/s" if row.get("rate") else f"c={row['concurrency']}")
        print(f"[{self.finished}/{self.total} ETA {self.eta()}] round {row['repeat']} {row['tool']} {row['endpoint']} "
              f"{level} {row_unit(row)}: {rps} in {row['duration_s']} s, "
              f"p99 {p99 if p99 is not None else '-'} ms, errors {errors}, "
              f"flags {','.join(row['flags']) or '-'}" + (f" ({why})" if why else ""), flush=True)

    # --- the run -----------------------------------------------------------------------
    def execute(self) -> int:
        """Measure every round; returns the exit code (0 complete, 1 failed, 130/143 stopped)."""
        code = 0
        try:
            for engine, own in self.engines.items():
                self.probes[engine] = open_probe(own)
            if not self.run["metadata"]:
                first = next(iter(self.engines), None)
                self.run["metadata"] = collect_metadata(self.engines.get(first, self.settings), self.probes.get(first))
                if len(self.engines) > 1:
                    self.run["metadata"]["databases"] = {engine: collect_database(own, self.probes[engine])
                                                         for engine, own in self.engines.items()}
                if self.app_info:
                    self.run["metadata"]["app"] = self.app_info
                self.run["metadata"]["measuring"] = measuring_rules()
                self.run["metadata"]["noise_thresholds"] = {"foreign_cpu_share": NOISY_SHARE,
                                                            "steal_share": NOISY_SHARE}
            self.run["status"], self.run["failure"] = "running", None
            self.save()
            self.reset_database_state()
            units = self.start_relay({u: unit_settings(u, self.settings) for u in self.plan.units()})
            self.ensure_max_connections(units)
            self.fleet = Fleet(units, self.settings, self.files.dir, self.run["run_id"], self.plan.url, self.relays,
                               self.app)
            self.start_and_verify()
            for number, round_ in enumerate(self.run["rounds"]):
                self.measure_round(number, round_)
            for number, round_ in enumerate(self.plan_rates(), start=len(self.run["rounds"])):
                self.measure_round(number, round_)
            self.record_budget()
            for stack in self.fleet.servers:
                if self.stack_info(stack)["status"] == "pending":
                    self.stack_info(stack)["status"] = "measured"
            self.run["status"] = "complete"
        except KeyboardInterrupt as stop:
            print(f"\nbench: interrupted; finished rows are kept; resume with: make bench RESUME={self.files.dir} "
                  f"(or --resume {self.files.dir})",
                  file=sys.stderr)
            self.run["status"], code = "interrupted", interrupted_status(stop)
            self.run["failure"] = "stopped by SIGTERM" if isinstance(stop, Terminated) else "stopped by SIGINT"
        except (DatabaseGone, RelayFailed) as error:
            print(f"bench: {error}; stopping the run (finished rows are kept)", file=sys.stderr)
            self.run["status"], self.run["failure"], code = "failed", str(error), 1
            for info in self.run["stacks"].values():  # also when it went between two levels
                if info["status"] == "pending":
                    info["status"], info["reason"] = "failed", str(error)
        except Exception as error:
            self.run["status"], self.run["failure"] = "failed", f"{type(error).__name__}: {error}"
            raise
        finally:
            self.finish()
        return code

    def finish(self) -> None:
        try:
            if self.fleet:
                self.fleet.stop()
            for relay in self.relays.values():
                relay.stop()
            if self.probes:
                try:
                    self.reset_database_state()
                except DatabaseGone:
                    pass
                for probe in self.probes.values():
                    probe.close()
        finally:
            self.run["ended_at"] = now()
            self.save()

    def reset_database_state(self) -> None:
        """Every run starts and ends with no io files and no lab_records rows (io files
        first: they go even when the database has gone away). An app file's run: nothing,
        the app's data is the user's."""
        if self.app:
            return
        prepare_io_dir(self.settings.io_dir)
        remove_io_files(self.settings.io_dir)
        for probe in self.probes.values():
            probe.reset_lab_records()

    def probe_for(self, unit: str) -> DbProbe:
        return self.probes[unit_settings(unit, self.settings).database.engine]

    def start_relay(self, units: dict[str, Settings]) -> dict[str, Settings]:
        """Start a latency relay per database engine whose units need one and check every
        setting's round trip; returns the units to serve with their settings (those of a
        setting that missed are skipped, saying why). run.json `relay`: the first engine's
        record; `relays`: every engine's, when the run has more than one."""
        if self.plan.url or self.app:
            return units
        kept = dict(units)
        for engine, own in self.engines.items():
            on_engine = {unit: s for unit, s in kept.items() if s.database.engine == engine}
            if any(s.db_latency_ms for s in on_engine.values()):
                log = f"relay-{engine}.log" if len(self.engines) > 1 else "relay.log"
                skipped = self._start_engine_relay(engine, own, on_engine, log)
                kept = {unit: s for unit, s in kept.items() if unit not in skipped}
        self.save()
        return kept

    def _start_engine_relay(self, engine: str, own: Settings, units: dict[str, Settings], log: str) -> set[str]:
        latency = {unit: s.db_latency_ms for unit, s in units.items()}
        relay = self.relays[engine] = RelayProcess(own, [v for v in latency.values() if v > 0],
                                                   self.files.dir / "logs" / log)
        relay.start()
        print(f"bench: latency relay to {engine} on CPUs {format_cpus(own.db_cpus)}: "
              f"{', '.join(f'{d:g} ms' for d in relay.ports)}; measuring its round trips", flush=True)
        record = verify_relay(own, relay)
        self.run["metadata"].setdefault("relay", record)
        if len(self.engines) > 1:
            self.run["metadata"].setdefault("relays", {})[engine] = record
        cost = record["relay_cost_ms"]
        drivers = " / ".join(cost)
        print(f"bench: database round trip {next(iter(record['direct_round_trip_ms'].values())):.3f} ms direct; "
              f"the relay itself adds {' / '.join(f'{v:.3f}' for v in cost.values())} ms ({drivers})", flush=True)
        missed = failed_delays(record)
        for entry in record["listeners"]:
            added = entry["added_ms"]
            if entry["delay_ms"]:
                print(f"bench: relay {entry['delay_ms']:g} ms (holds {entry['hold_ms']:.3f} ms): adds "
                      f"{' / '.join(f'{v:.3f}' for v in added.values())} ms ({drivers}) "
                      f"{'ok' if entry['passed'] else 'MISSED'}", flush=True)
        skipped = set()
        for unit in units:  # at 0 ms the apps connect directly: nothing skipped
            if latency[unit] > 0 and latency[unit] in missed:
                info = self.stack_info(unit)
                info["status"], info["reason"] = "skipped", missed[latency[unit]]
                print(f"bench: {unit}: skipped ({info['reason']})", file=sys.stderr)
                skipped.add(unit)
        return skipped

    def ensure_max_connections(self, units: dict[str, Settings]) -> None:
        """Every unit's server holds its persistent connections for the whole run: raise the
        private server's max_connections to fit them all (one under load at a time)."""
        if self.plan.url or self.app:
            return
        for engine, probe in self.probes.items():
            needed = sum(persistent_connections(u, own) for u, own in units.items()
                         if own.database.engine == engine) + self.settings.max_concurrency + 32
            current = probe.max_connections()
            if needed <= current:
                continue
            if not (self.engines[engine].database.private and probe.raise_max_connections(needed)):
                print(f"bench: warning: the run's servers may hold {needed} connections; {engine} allows "
                      f"{current} (DB_MAX_CONNECTIONS in settings.env)", file=sys.stderr)
                continue
            if engine == self.run["metadata"].get("database", {}).get("engine", engine):
                self.run["metadata"].setdefault("database", {})["max_connections"] = needed

    def start_and_verify(self) -> None:
        assert self.fleet is not None
        print(f"bench: starting {len(self.fleet.servers)} server(s) on CPUs {format_cpus(self.settings.server_cpus)}",
              flush=True)
        failed = self.fleet.start()
        self.run["metadata"]["limiter"] = self.fleet.limiter()
        started = self.record_starts(failed)
        if self.app:
            return self.gate_app(started)
        for stack in started:
            server, info = self.fleet.servers[stack], self.stack_info(stack)
            if info["status"] != "pending" and info.get("verification"):
                continue
            endpoints = tuple(e for e in Endpoint if unit_serves(stack, e))
            outcome = verify(stack, server.url, unit_settings(stack, self.settings), self.probe_for(stack), endpoints)
            info["verification"] = outcome
            print(f"bench: {stack}: verification {'passed' if outcome['passed'] else 'FAILED'}; "
                  f"{outcome['summary']}", flush=True)
            if not outcome["passed"]:
                info["status"], info["reason"] = "skipped", "verification failed: " + "; ".join(outcome["failed"][:5])
                print(f"bench: {stack}: skipped ({info['reason']})", file=sys.stderr)
            self.save()

    def record_starts(self, failed: dict[str, str]) -> list[str]:
        """Each server's command into run.json, a stack whose server did not start failed
        with why; returns the units whose server started."""
        assert self.fleet is not None
        started = []
        for unit, server in self.fleet.servers.items():
            info = self.stack_info(unit)
            info["server_command"] = server.command
            if unit in failed:
                info["status"], info["reason"] = "failed", f"server did not start: {failed[unit]}"
                print(f"bench: {unit}: {info['reason']}", file=sys.stderr)
            else:
                started.append(unit)
        return started

    def gate_app(self, started: list[str]) -> None:
        """The app file's gate (bench/driver/app_run.py) over every server that started and
        is still to measure (also when resumed: the code it serves may be new)."""
        assert self.fleet is not None and self.app is not None
        urls = {unit: self.fleet.servers[unit].url for unit in started if self.stack_info(unit)["status"] == "pending"}
        for unit, outcome in app_gate(self.app, urls).items():
            info = self.stack_info(unit)
            info["verification"] = outcome
            print(f"bench: {unit}: app gate {'passed' if outcome['passed'] else 'FAILED'}; {outcome['summary']}",
                  flush=True)
            if not outcome["passed"]:
                info["status"], info["reason"] = "skipped", "app gate failed: " + "; ".join(outcome["failed"][:3])
                print(f"bench: {unit}: skipped ({info['reason']})", file=sys.stderr)
        self.save()
        ready = {STACKS[split_unit(u)[0]].interface for u in self.fleet.servers
                 if self.stack_info(u)["status"] == "pending"}
        if ready != {"wsgi", "asgi"}:  # nothing to compare: stop now, not after the rounds of one side
            first = next((i["reason"] for i in self.run["stacks"].values() if i.get("reason")), "not started")
            raise AppNotMeasurable(f"app {self.app.name} has no {'WSGI' if 'wsgi' not in ready else 'ASGI'} stack to "
                                   f"measure: {first}")

    def plan_rates(self) -> list[dict]:
        """The open-loop rounds, planned from the closed-loop rounds just measured (each unit's
        capacity) and appended to run.json; none when the run has no rates or planned them already
        (a resumed run measures those that are left in the loop before)."""
        if not self.plan.rates or any(r.get("rate") is not None for r in self.run["rounds"]):
            return []
        assert self.fleet is not None
        units = tuple(u for u in self.fleet.servers if self.stack_info(u)["status"] == "pending")
        found = capacities(self.files.rows(), row_unit)
        rounds, notes = plan_rate_rounds(units, tuple(str(e) for e in self.plan.endpoints), parse_rates(
            " ".join(self.plan.rates)), found, self.plan.profile.rate_repeats, self.plan.seed,
            self.settings.max_concurrency, unit_serves)
        self.run["rate_plan"] = {"capacities": [{"unit": u, "endpoint": e, "rps": round(c, 2)}
                                                for (u, e), c in sorted(found.items())],
                                 "notes": notes, "rounds": len(rounds)}
        for note in notes:
            print(f"bench: rates: {note}", file=sys.stderr)
        records = [{**r.record(), "speed": None, "started_at": None} for r in rounds]
        grid = sorted({r.rate for r in rounds if r.rate is not None})
        print(f"bench: open loop: {len(records)} round(s) at {len(grid)} rate(s), "
              f"{', '.join(f'{rate:g}' for rate in grid)} requests/s", flush=True)
        self.run["rounds"] += records
        self.total += sum(len(r["order"]) for r in records)
        self.save()
        return records

    def over_budget(self, round_: dict) -> bool:
        """The profile's round budget has run out for a round still to measure: it is marked
        skipped, not measured (a resumed run measures it, its clock starting again)."""
        budget = self.plan.profile.round_budget_s
        if self.first_round_at is None:
            self.first_round_at = time.monotonic()
        if not budget or time.monotonic() - self.first_round_at <= budget:
            return False
        round_["skipped"] = f"time budget: started after {budget} s of rounds"
        return True

    def record_budget(self) -> None:
        """run.json `round_budget`: the budget and what it left unmeasured; said on the console."""
        skipped = [r for r in self.run["rounds"] if r.get("skipped")]
        rows = sum(len(r["order"]) for r in skipped)
        self.run["round_budget"] = {"seconds": self.plan.profile.round_budget_s, "skipped_rounds": len(skipped),
                                    "skipped_rows": rows}
        if skipped:
            counts = Counter(f"{r['tool']} {r['endpoint']}" for r in skipped)
            where = ", ".join(f"{n} {key}" for key, n in counts.items())
            print(f"bench: the round budget ({self.plan.profile.round_budget_s} s) ran out: {len(skipped)} round(s), "
                  f"{rows} row(s) not measured ({where}); the figures use the rounds measured", flush=True)

    def measure_round(self, number: int, round_: dict) -> None:
        assert self.fleet is not None
        todo = [s for s in round_["order"] if level_key(s, round_, round_.get("rate")) not in self.done
                and s in self.fleet.servers and self.stack_info(s)["status"] == "pending"]
        if not todo or self.over_budget(round_):
            return
        round_.pop("skipped", None)
        wait_drained(self.fleet.watched(), list(self.probes.values()))
        round_["speed"] = speed_probe(format_cpus(self.settings.server_cpus))
        round_["started_at"] = now()
        endpoint = round_["endpoint"] if self.app else Endpoint(round_["endpoint"])
        rnd = Round.from_record(round_, endpoint)
        for stack in todo:
            self.measure_stack_level(stack, rnd, round_["speed"])
        self.save()

    def measure_stack_level(self, stack: str, rnd: Round, speed: float | None) -> None:
        assert self.fleet is not None
        started = time.monotonic()
        own = unit_settings(stack, self.settings)
        context = LevelContext(own, self.probe_for(stack) if self.probes else None, self.fleet,
                               self.plan.profile.duration_s, self.plan.profile.max_window_s, self.run["run_id"],
                               self.relays.get(own.database.engine), self.requests,
                               self.app.database_processes if self.app else (), self.plan.seed)
        raw_path = self.files.raw_path(rnd.tool, stack, rnd.endpoint, rnd.concurrency, rnd.repeat, rnd.rate)
        key = (stack, str(rnd.tool), str(rnd.endpoint), rnd.concurrency)
        row, gone, died = measure_level(context, stack, rnd, self.last_rps.get(key), speed, raw_path,
                                        self.files.relative(raw_path))
        self.files.append_row(row, self.run["endpoints"])
        if row["status"] == "ok" and row["rps"]:
            self.last_rps[key] = row["rps"]
        self.level_seconds.append(time.monotonic() - started)
        self.progress(row)
        if gone:  # the run stops (execute); the stack says why
            self.stack_info(stack)["status"], self.stack_info(stack)["reason"] = "failed", str(gone)
            raise gone
        if died:
            self.restart(stack, died)

    def restart(self, stack: str, reason: str) -> None:
        assert self.fleet is not None
        info = self.stack_info(stack)
        server = self.fleet.servers[stack]
        if not isinstance(server, Server) or info["restarts"] >= 1:
            info["status"], info["reason"] = "failed", f"server died again, stack abandoned: {reason}"
            print(f"bench: {stack}: {info['reason']}", file=sys.stderr)
            server.stop()
            return
        info["restarts"] += 1
        print(f"bench: {stack}: server died ({reason}); restarting it once", file=sys.stderr)
        server.stop()
        try:
            server.start()
            server.wait_ready()
        except (ServerDied, PortTaken) as error:
            info["status"], info["reason"] = "failed", f"server did not restart, stack abandoned: {error}"
            server.stop()


def level_key(unit: str, level: dict, rate: float | None) -> tuple:
    """What identifies a measured level: a row's, or a planned round's for one of its units."""
    return unit, level["tool"], level["endpoint"], level["concurrency"], level["repeat"], rate


def persistent_connections(unit: str, settings: Settings) -> int:
    """Database connections a unit's server holds while idle: Django under WSGI one per
    thread, FastAPI its pool and one per sync thread; Django under ASGI and the raw apps none."""
    spec = STACKS.get(split_unit(unit)[0])
    if spec is None:
        return 0
    if spec.app == "django" and spec.interface == "wsgi":
        return settings.django_wsgi_workers * settings.django_wsgi_blocking_threads
    if spec.app == "fastapi":
        return settings.fastapi_workers * (settings.fastapi_pool_size + settings.fastapi_sync_threads)
    if spec.app == "django" and spec.interface == "asgi" and settings.django_db_pool:
        return settings.django_asgi_workers * settings.django_db_pool_size
    return 0


def measuring_rules() -> dict:
    """The thresholds behind the validity flags, recorded with the run."""
    return {"target_completions_per_connection": TARGET_COMPLETIONS_PER_CONNECTION,
            "min_completions_per_connection": MIN_COMPLETIONS_PER_CONNECTION,
            "steady_tolerance": STEADY_TOLERANCE, "noisy_share": NOISY_SHARE}


def database_needs_starting(settings: Settings) -> bool:
    """Whether prepare_database will start the private database server (then the driver stops it at
    exit). Asked before starting it, so an interruption during start-up still stops it."""
    return settings.database.private and db.running_pid(settings) is None


def prepare_database(settings: Settings) -> None:
    """Start the private database server if needed, migrate, seed; db.DatabaseError with the tail
    of manage.py's output when that fails."""
    db.start(settings)
    env = {**os.environ, "DB_ENGINE": settings.database.engine}
    for command in (["migrate", "--noinput", "-v", "0"], ["seed_users"]):
        result = subprocess.run(MANAGE + command, cwd=ROOT / "project", capture_output=True, text=True, env=env)
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
            raise db.DatabaseError(f"manage.py {command[0]} exited with status {result.returncode}: {tail[0]}")


def new_run(plan: Plan, run_id: str) -> dict:
    rounds = plan.rounds()
    return {
        "schema_version": SCHEMA_VERSION, "run_id": run_id, "started_at": now(), "ended_at": None,
        "status": "running", "failure": None, "tools": [str(t) for t in plan.tools],
        "endpoints": [str(e) for e in plan.endpoints], "profile": plan.profile.record(),
        "stack_order": list(plan.stacks), "shuffle_seed": plan.seed, "plan": plan.record(), "metadata": {},
        "stacks": {}, "rounds": [{**r.record(), "speed": None, "started_at": None} for r in rounds],
    }
