"""One level: warm up, check the servers drained, measure the planned window, drain again,
and build the row (bench/schema.py) with every check that decides whether it counts."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.driver.dbprobe import DatabaseGone, DbProbe
from bench.driver.drain import wait_drained
from bench.driver.fleet import Fleet
from bench.driver.noise import Noise, NoiseSample
from bench.driver.rates import level_seed, plan_rate_window, rate_flags, rate_record, rate_warmup
from bench.driver.relay_process import RelayProcess, level_reading, relay_bound
from bench.driver.sampling import LevelSample, named_cpu_s, server_cpu_counter
from bench.driver.schedule import Round
from bench.driver.tools import Sent, ToolOutcome, endpoint_request, now, run_tool
from bench.driver.variants import split_unit, variant_of
from bench.driver.warmup import WarmupResult, warm_up
from bench.driver.window import Steady, Window, littles_law, plan_window, validity_flags
from bench.load_tools import TOOLS
from bench.schema import (
    DB_KEYS,
    ERROR_KEYS,
    LATENCY_KEYS,
    SCHEMA_VERSION,
    SERVER_KEYS,
    Flag,
)
from lab.config import Settings, available_cpus
from lab.serve import Server, ServerDied

CLIENT_BOUND_SHARE = 0.8
DB_BOUND_SHARE = 0.8
SHARED_BOUND_SHARE = 0.8
BACKLOG_GROWTH_LIMIT = 1000  # old row versions (InnoDB undo records; PostgreSQL transactions) held back after a level
WARMUP_FLOOR_S = 10


def shared_cpus_share(client: dict, database: dict, relay: dict | None, db_cpus: tuple[int, ...]) -> float | None:
    """The share of the database side's CPUs used by everything pinned there together:
    MariaDB and the latency relay (both on DB_CPUS), and the load generator when CLIENT_CPUS
    overlaps them. None when fewer than two of them ran there (then the one-process flags,
    client_bound and db_bound, say all there is)."""
    cpus, used = set(db_cpus), []
    if database.get("cpu_pct") is not None:
        used.append(database["cpu_pct"] / 100)
    if relay and relay.get("cpu_share") is not None:
        used.append(relay["cpu_share"])
    client_cpus = set(client.get("cpus") or ())
    if client_cpus & cpus and client.get("cpu_pct") is not None:
        used.append(client["cpu_pct"] / 100)
        cpus |= client_cpus
    return sum(used) / len(cpus) if len(used) >= 2 and cpus else None


def resource_flags(status: str, valid: bool, error_count: int | None, client: dict, database: dict,
                   shared_share: float | None = None) -> list[str]:
    """Flags about the set-up and the tool's own verdict (see schema.Flag). `shared_share`:
    shared_cpus_share, flagged when no single process's flag already says the CPUs were full."""
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
    if ((shared_share or 0) > SHARED_BOUND_SHARE
            and not {Flag.CLIENT_BOUND, Flag.DB_BOUND} & set(flags)):
        flags.append(Flag.SHARED_CPUS_BOUND)
    if database.get("open_trx_after"):
        flags.append(Flag.DB_OPEN_TRANSACTIONS)
    before, after = database.get("backlog_before"), database.get("backlog_after")
    if before is not None and after is not None and after - before > BACKLOG_GROWTH_LIMIT:
        flags.append(Flag.DB_BACKLOG_GROWTH)
    return [str(f) for f in flags]


@dataclass
class LevelContext:
    """What one level needs from the run."""

    settings: Settings
    probe: DbProbe | None  # None: an app file's run, whose database is not the lab's to read
    fleet: Fleet
    duration_s: int
    max_window_s: int
    run_id: str
    relay: RelayProcess | None = None
    requests: dict[str, Sent] | None = None  # an app file's requests by name (else the lab's endpoints)
    database_processes: tuple[str, ...] = ()  # an app file's database server on this machine, by process name
    seed: int = 0  # the run's: an open-loop level's arrival times derive from it

    def sent(self, endpoint: str) -> Sent:
        return self.requests[endpoint] if self.requests is not None else endpoint_request(endpoint)


@dataclass
class Measured:
    """One tool run and the readings around it."""

    outcome: ToolOutcome
    server: dict
    database: dict
    noise: dict
    relay: dict | None
    died: str | None
    gone: DatabaseGone | None
    started: str
    ended: str


def _lab_cpu(context: LevelContext, db_cpu_s: Callable[[], float | None] | None):
    relay = context.relay
    return lambda: (context.fleet.cpu_s() + ((db_cpu_s() or 0.0) if db_cpu_s else 0.0)
                    + (relay.cpu_s() if relay else 0.0))


def _database_cpu(context: LevelContext) -> tuple[Callable[[], float | None] | None, int]:
    """The database's CPU counter and the CPUs it may use: the lab's server on DB_CPUS, or an
    app file's `database_processes` wherever they run (the lab pins nothing of the app's)."""
    if context.probe:
        return server_cpu_counter(context.settings), len(context.settings.db_cpus)
    if context.database_processes:
        names = context.database_processes
        return (lambda: named_cpu_s(names)), len(available_cpus())
    return None, 1


def _run_window(context: LevelContext, server, round_: Round, sent: Sent, window: Window, raw_path,
                latency_ms: float, warm_s: float = 0.0) -> Measured:
    """`warm_s`: an open-loop level's warm-up, run by the generator inside the same sample."""
    settings = context.settings
    db_cpu_s, db_cpus = _database_cpu(context)
    sample = LevelSample(settings, context.probe, server.cgroup,
                         server.pids if server.cgroup is None and isinstance(server, Server) else None, db_cpu_s,
                         db_cpus)
    noise = NoiseSample(tuple(sorted({*settings.server_cpus, *settings.client_cpus, *settings.db_cpus})),
                        _lab_cpu(context, db_cpu_s))
    relay = context.relay if latency_ms > 0 else None
    relay_before, relay_cpu = (relay.counters([latency_ms])[latency_ms], relay.cpu_s()) if relay else (None, 0.0)
    started, clock = now(), time.monotonic()
    rate = ({"rate": round_.rate, "warmup_s": warm_s,
             "seed": level_seed(context.seed, str(round_.endpoint), round_.rate, round_.repeat)}
            if round_.rate is not None else {})
    outcome = run_tool(round_.tool, server.url, sent, round_.concurrency, window.planned_s, settings, raw_path,
                       **rate)
    ended, elapsed = now(), time.monotonic() - clock
    noise_record = noise.finish(elapsed).record()
    relay_record = None
    if relay:
        relay_after = relay.counters([latency_ms])[latency_ms]
        relay_record = level_reading(relay_before, relay_after, elapsed, relay.cpu_s() - relay_cpu)
    died = None
    try:
        server.check_alive()
    except ServerDied as error:
        died = str(error)
    gone = None
    try:
        result = outcome.result  # an open loop's warm-up ran in the same sample: its requests cost CPU too
        served = result.requests + (result.rate or {}).get("warmup_answered", 0) if result else None
        server_section, db_section = sample.finish(served)
    except DatabaseGone as error:  # a failed row, then the run stops
        gone, server_section, db_section = error, dict.fromkeys(SERVER_KEYS), dict.fromkeys(DB_KEYS)
    return Measured(outcome, server_section, db_section, noise_record, relay_record, died, gone, started, ended)


def measure_level(context: LevelContext, unit: str, round_: Round, rps_estimate: float | None,
                  speed: float | None, raw_path, raw_relative: str) -> tuple[dict, DatabaseGone | None, str | None]:
    """Measure `unit` (a stack, or a stack with a variant) in this round; returns the row,
    a DatabaseGone to raise after the row is saved, and the server's death message if it died."""
    server = context.fleet.servers[unit]
    latency_ms = context.fleet.latency_ms.get(unit, 0.0)
    sent = context.sent(round_.endpoint)
    if round_.rate is None:
        warm = warm_up(server.url, sent.method, sent.path, sent.body(), round_.concurrency,
                       max(WARMUP_FLOOR_S, context.max_window_s), sent.headers)
        window = plan_window(context.duration_s, context.max_window_s, round_.concurrency, rps_estimate or warm.rps)
    else:  # the generator warms up at the level's own rate, in the same run (its first RATE_WARMUP_S of arrivals)
        warm = WarmupResult(rate_warmup(context.duration_s), None, None, None)  # its counts: the raw output
        window = plan_rate_window(context.duration_s, context.max_window_s, round_.rate)
    before_s, drained = wait_drained(context.fleet.watched(), [context.probe] if context.probe else [])
    measured = _run_window(context, server, round_, sent, window, raw_path, latency_ms, warm.seconds)
    after_s = 0.0
    if measured.gone is None:
        try:  # read after the drain: a transaction still open now is a finding, not a race
            after_s, _ = wait_drained(context.fleet.watched(), [context.probe] if context.probe else [])
            if context.probe:
                measured.database["open_trx_after"] = context.probe.open_transactions()
                measured.database["backlog_after"] = context.probe.backlog()
        except DatabaseGone as error:
            measured.gone = error
    row = build_row(context, unit, round_, measured, window, warm,
                    {"before_s": round(before_s, 3), "after_s": round(after_s, 3), "drained": drained},
                    speed, raw_relative, latency_ms)
    return row, measured.gone, measured.died


def build_row(context: LevelContext, unit: str, round_: Round, measured: Measured, window: Window,
              warm: WarmupResult, drain: dict, speed: float | None, raw_relative: str, latency_ms: float = 0.0) -> dict:
    outcome, result = measured.outcome, measured.outcome.result
    client_cpus = context.settings.client_cpus
    client = {"cpu_pct": outcome.client_cpu_s / outcome.elapsed_s * 100,
              "cpu_share": outcome.client_cpu_s / outcome.elapsed_s / len(client_cpus), "cpus": list(client_cpus)}
    failure = measured.died or (str(measured.gone) if measured.gone else None) or outcome.failure
    ok = result is not None and not failure
    errors = result.errors if ok else {}
    error_count = sum(v for v in errors.values() if v) if errors else None
    requests = result.requests if ok else None
    if round_.rate is not None:  # an open loop has no fixed population: the rate checks stand in for Little's law
        steady = Steady(None, None)
    elif ok:
        steady = littles_law(result.rps, round_.concurrency, TOOLS[round_.tool].checkable_mean(result))
    else:
        steady = littles_law(None, round_.concurrency, None)
    stack, variant = split_unit(unit)
    row = {
        "schema_version": SCHEMA_VERSION, "run_id": context.run_id, "stack": stack,
        "variant": variant, "varied": variant_of(variant).numbers(), "db_latency_ms": latency_ms,
        "relay": measured.relay,
        "rate": rate_record(round_, unit, result.rate if ok else None) if round_.rate is not None else None,
        "endpoint": str(round_.endpoint), "tool": str(round_.tool), "concurrency": round_.concurrency,
        "repeat": round_.repeat, "position": round_.order.index(unit), "duration_s": window.planned_s,
        "started_at": measured.started, "ended_at": measured.ended,
        "status": "ok" if ok else "failed", "failure": None if ok else failure,
        "valid": bool(ok and result.valid), "invalid_reason": result.invalid_reason if ok else None,
        "rps": result.rps if ok else None, "requests": requests, "elapsed_s": result.elapsed_s if ok else None,
        "bytes": result.bytes if ok else None,
        "latency_ms": {**dict.fromkeys(LATENCY_KEYS), **(result.latency_ms if ok else {})},
        "errors": {**dict.fromkeys(ERROR_KEYS), **errors}, "error_count": error_count,
        "error_rate": error_count / requests if requests and error_count is not None else None,
        "server": measured.server, "db": measured.database, "client": client,
        "window": window.record(), "warmup": warm.record(), "drain": drain, "steady": steady.record(),
        "noise": measured.noise, "speed": speed, "flags": [], "raw": raw_relative,
    }
    # An app's database runs wherever it runs: it shares DB_CPUS with nothing the lab placed.
    shared = (shared_cpus_share(client, measured.database, measured.relay, context.settings.db_cpus)
              if context.probe else None)
    flags = resource_flags(row["status"], row["valid"], error_count, client, measured.database, shared)
    if ok:
        flags += validity_flags(requests, window, steady)
        if not drain["drained"]:
            flags.append(str(Flag.NOT_DRAINED))
        if Noise(**measured.noise).noisy:
            flags.append(str(Flag.NOISY))
        if relay_bound(measured.relay):
            flags.append(str(Flag.RELAY_BOUND))
        if row["rate"] is not None:
            flags += rate_flags(row["rate"], row["latency_ms"])
    row["flags"] = flags
    return row
