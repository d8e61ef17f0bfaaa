"""The results contract between the driver and the analysis (docs/design.md, Results files).

The driver writes `run.json` and `results.jsonl` in this shape; the analysis reads
nothing else. Both sides import this module (it imports neither; its endpoint ids come
from the endpoint table, bench/endpoints.py), so a field renamed here is renamed for
both. `validate_row` / `validate_run` return a list of problems (empty = valid) rather
than raising, so a test can show every problem at once.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from bench.endpoints import ENDPOINTS, Endpoint

SCHEMA_VERSION = 3
# Version 3 names the database's state in engine-neutral terms (MariaDB or PostgreSQL): a
# version 2 run (MariaDB only) is read as version 3 by upgrade_row, and cannot be resumed.
READABLE_SCHEMA_VERSIONS = (2, 3)
V2_DB_KEYS = {"threads_connected_peak": "sessions_peak", "history_before": "backlog_before",
              "history_after": "backlog_after"}
V2_FLAGS = {"db_history_growth": "db_backlog_growth"}


class Tool(StrEnum):
    WRK = "wrk"
    AB = "ab"
    OPENLOOP = "openloop"  # the lab's open-loop generator (bench/openloop.py): a rate, not a concurrency


class Flag(StrEnum):
    """Why a row needs a second look. A flagged level is a finding about the set-up
    (client_bound, db_bound, db_*) or about the measurement (failed, invalid, errors),
    never a figure about the stack to take at face value."""

    FAILED = "failed"  # the level did not produce a measurement (server died, DB gone, tool crashed)
    INVALID = "invalid"  # the tool ran but its figure cannot be trusted (e.g. ab length failures)
    ERRORS = "errors"  # some requests failed (non-2xx, socket errors, timeouts)
    CLIENT_BOUND = "client_bound"  # load generator used > 80 % of its CPUs
    DB_BOUND = "db_bound"  # the database server used > 80 % of DB_CPUS
    # The database, the relay and (on the same CPUs) the load generator used > 80 % of those CPUs together
    SHARED_CPUS_BOUND = "shared_cpus_bound"
    DB_OPEN_TRANSACTIONS = "db_open_transactions"  # transactions still open after the level
    # The backlog of old row versions grew over the level (DB_KEYS backlog_*)
    DB_BACKLOG_GROWTH = "db_backlog_growth"
    # The level did not measure a steady state; counted nowhere (EXCLUDING_FLAGS).
    TOO_SHORT = "too_short"  # fewer than MIN_COMPLETIONS_PER_CONNECTION x concurrency requests completed
    # Closed loop: counted RPS and Little's law (concurrency / mean latency) differ > 10 %. Open loop: the mean
    # latency of one half of the window is over RATE_DRIFT times the other's and RATE_DRIFT_MS above it.
    NOT_STEADY = "not_steady"
    NOT_DRAINED = "not_drained"  # a server still had work in flight when the level started
    NOISY = "noisy"  # processes not the lab's, or the hypervisor (steal), took CPU during the level
    RELAY_BOUND = "relay_bound"  # the latency relay sent chunks later than its delay allows: it set the pace
    # Open-loop levels (a row with `rate`): the server fell behind the window's arrivals by more than
    # RATE_TOLERANCE of them and more than the in-flight scatter allows (bench/driver/rates.py keeping_up):
    # it did not sustain the rate, so its latencies are not those of that rate.
    SATURATED = "saturated"
    # The generator itself sent late: its p99 lateness exceeded CLIENT_LATE_MS and a tenth of the p99 latency.
    CLIENT_LATE = "client_late"


# A row with any of these flags measured something other than the stack's steady state:
# it is kept and listed, and counted in no figure, ratio or verdict.
EXCLUDING_FLAGS = frozenset({Flag.FAILED, Flag.INVALID, Flag.TOO_SHORT, Flag.NOT_STEADY, Flag.NOT_DRAINED,
                             Flag.NOISY, Flag.RELAY_BOUND, Flag.SATURATED, Flag.CLIENT_LATE})
MIN_COMPLETIONS_PER_CONNECTION = 3  # a level that completed fewer requests than 3 x concurrency is too short
STEADY_TOLERANCE = 0.10  # |counted RPS / (concurrency / mean latency) - 1| above this: not steady
RATE_TOLERANCE = 0.05  # an open-loop level fell behind its arrivals by at most 5 % (see Flag.SATURATED)
CLIENT_LATE_MS = 2.0  # see Flag.CLIENT_LATE
RATE_DRIFT, RATE_DRIFT_MS = 2.0, 5.0  # see Flag.NOT_STEADY
MIN_RATE_REQUESTS = 100  # an open-loop level answered at least this many measured requests, else too_short


# Method and path of each endpoint, identical on every stack: a view of the endpoint table.
ENDPOINT_PATHS: dict[Endpoint, tuple[str, str]] = {Endpoint(e.id): (e.method, e.path) for e in ENDPOINTS.values()}

LATENCY_KEYS = ("mean", "stdev", "p50", "p75", "p90", "p99", "p99_9", "max")
ERROR_KEYS = ("connect", "read", "write", "timeout", "non_2xx", "length", "exceptions", "incomplete")

# results.jsonl: one row per stack x endpoint x tool x concurrency x repeat.
# Every key is always present; a value that could not be measured is null, never 0.
ROW_FIELDS: dict[str, Any] = {
    "schema_version": int,
    "run_id": str,
    "stack": str,  # a registered stack id (lab/stacks.py), or the label read from /info/ for --url runs
    "endpoint": str,  # an Endpoint value, or in a run of an app file (run.json metadata.app) its request's name
    "tool": str,  # a Tool value
    "concurrency": int,
    "repeat": int,  # 1-based round number: one round measures every stack at this level
    "position": int,  # 0-based place of this stack in its round's shuffled order
    "duration_s": (int, float),  # requested duration
    "started_at": str,  # ISO 8601 UTC
    "ended_at": str,
    "status": str,  # "ok" | "failed"
    "failure": (str, type(None)),  # why a failed level failed (exit status, log tail)
    "valid": bool,  # false for failed levels and for runs the tool's own report disowns
    "invalid_reason": (str, type(None)),
    "rps": (int, float, type(None)),  # successful-or-not requests / measured seconds, as the tool reports
    "requests": (int, type(None)),
    "elapsed_s": (int, float, type(None)),  # measured duration
    "bytes": (int, type(None)),
    "latency_ms": dict,  # LATENCY_KEYS -> float | None
    "errors": dict,  # ERROR_KEYS -> int | None (None: the tool does not report that kind)
    "error_count": (int, type(None)),
    "error_rate": (int, float, type(None)),  # error_count / requests
    "server": dict,  # see SERVER_KEYS
    "db": dict,  # see DB_KEYS
    "client": dict,  # see CLIENT_KEYS
    "window": dict,  # see WINDOW_KEYS: how long the level was measured, and why
    "warmup": dict,  # see WARMUP_KEYS: the discarded warm-up at the same concurrency
    "drain": dict,  # see DRAIN_KEYS: servers checked idle before and after the level
    "steady": dict,  # see STEADY_KEYS: Little's law check
    "noise": dict,  # see NOISE_KEYS: CPU taken by others during the level
    "speed": (int, float, type(None)),  # the round's CPU probe on SERVER_CPUS (million loop steps/s)
    "flags": list,  # Flag values
    "raw": (str, type(None)),  # path of the raw tool output, relative to the run dir
}

# Fields added after schema version 2 was first written: a row without them is read with
# these defaults (no variant, the database reached directly).
OPTIONAL_ROW_FIELDS: dict[str, tuple[Any, Any]] = {
    "variant": (str, ""),  # the run's varied settings for this row, "KEY=value,KEY=value" ("" = none)
    "varied": (dict, {}),  # the same as KEY -> number
    "db_latency_ms": ((int, float), 0.0),  # round-trip delay added by the latency relay (0: direct)
    "relay": ((dict, type(None)), None),  # see RELAY_KEYS; null when the database was reached directly
    "rate": ((dict, type(None)), None),  # see RATE_KEYS; null for a closed-loop level (wrk, ab)
}

# cpu_pct: percent of ONE CPU (100 = one full core busy).
# cpu_share: fraction (0..1) of what that party was allowed: the server's quota,
# DB_CPUS for MariaDB, CLIENT_CPUS for the client.
SERVER_KEYS = (
    "cpu_pct",
    "cpu_share",
    "cpu_ms_per_req",
    "throttled_periods",
    "throttled_ms",
    "peak_memory_bytes",
)
DB_KEYS = (
    "cpu_pct",
    "cpu_share",
    "cpu_ms_per_req",
    "sessions_peak",  # sessions open at once, most seen (MariaDB's Threads_connected, PostgreSQL's client backends)
    "new_connections",  # connections the server accepted during the level
    # Old row versions a snapshot holds back from purge: InnoDB's history list length, or the age in
    # transactions of the oldest snapshot a lab session holds on PostgreSQL.
    "backlog_before",
    "backlog_after",
    "open_trx_before",  # transactions open in the lab's database
    "open_trx_after",
)
CLIENT_KEYS = ("cpu_pct", "cpu_share", "cpus")
# planned_s: the window asked of the tool; rps_estimate: the rate it was planned from;
# min_requests: MIN_COMPLETIONS_PER_CONNECTION x concurrency; capped: the profile's cap
# shortened the window below what the rule asked.
WINDOW_KEYS = ("planned_s", "rps_estimate", "min_requests", "capped")
# seconds spent, requests answered, connections that had at least one response, of how many.
WARMUP_KEYS = ("seconds", "requests", "connections_answered", "connections")
# before_s/after_s: seconds waited until every lab server was idle; drained: it was, before the level.
DRAIN_KEYS = ("before_s", "after_s", "drained")
# littles_rps: concurrency / mean latency; deviation: rps / littles_rps - 1.
STEADY_KEYS = ("littles_rps", "deviation")
# Shares of one CPU-second per second of the lab's CPUs: foreign = busy time not spent by the
# lab's processes (servers, MariaDB, load generator, driver); steal = taken by the hypervisor.
NOISE_KEYS = ("foreign_cpu_share", "steal_share", "cpus")
# The relay over the window: its delay, chunks it delayed, how late they left on average
# and at worst beyond the delay, and its process's CPU (share of one CPU).
RELAY_KEYS = ("delay_ms", "chunks", "lag_excess_mean_ms", "lag_excess_max_ms", "cpu_share")
# An open-loop level (tool openloop; its `concurrency` is the generator's connection limit):
# the rate asked, the arrivals' realised rate, the responses received inside the window per
# second (achieved), the generator's own send lateness (its error), the service time from the
# actual send, requests that waited for a free connection, the warm-up's answered requests, and
# the mean latency of the window's first and second half of arrivals (a queue growing or draining);
# then from the run's plan: the fraction of the unit's closed-loop capacity it was asked for
# (null: an explicit rate) and that capacity.
RATE_TOOL_KEYS = ("target_rps", "scheduled_rps", "achieved_rps", "scheduled", "sent", "lateness_p50_ms",
                  "lateness_p99_ms", "lateness_max_ms", "service_p50_ms", "service_p99_ms", "waited_for_connection",
                  "connections_peak", "connections_limit", "seed", "warmup_answered", "first_half_mean_ms",
                  "second_half_mean_ms")
RATE_KEYS = (*RATE_TOOL_KEYS, "fraction", "capacity_rps")

RUN_STATUSES = ("running", "complete", "interrupted", "failed")
STACK_STATUSES = ("pending", "measured", "skipped", "failed")

# run.json: written at start, rewritten as stacks finish, finalised at exit.
RUN_FIELDS: dict[str, Any] = {
    "schema_version": int,
    "run_id": str,
    "started_at": str,
    "ended_at": (str, type(None)),
    "status": str,  # RUN_STATUSES
    "tools": list,  # Tool values, in the order they run per stack
    "endpoints": list,
    "profile": dict,  # name, concurrency, duration_s, repeats, primer_s, warmup_s
    "stack_order": list,  # the shuffled order actually used
    "shuffle_seed": int,
    "metadata": dict,  # host, cpu_model, cpu_count, kernel, os, python, packages, tools,
    # git_sha, placement {server_cpus, server_cpu_quota, server_memory_bytes,
    # client_cpus, db_cpus}, limiter, database {version, max_connections, ...},
    # settings (secrets redacted)
    "stacks": dict,  # stack id -> {status, reason, server_command, verification, restarts}
    "rounds": list,  # one per round: tool, endpoint, concurrency, repeat, order, speed, started_at
    "failure": (str, type(None)),  # why a run that died died (status failed or interrupted)
}


def _check_fields(obj: dict, fields: dict[str, Any], where: str) -> list[str]:
    problems = []
    for key, kind in fields.items():
        if key not in obj:
            problems.append(f"{where}: missing {key!r}")
        elif not isinstance(obj[key], kind) or (kind is int and isinstance(obj[key], bool)):
            problems.append(f"{where}: {key!r} is {type(obj[key]).__name__}, expected {kind}")
    return problems


def upgrade_row(row: dict) -> dict:
    """A version 2 row as version 3 (its database keys and flag renamed); others unchanged."""
    if row.get("schema_version") != 2:
        return row
    db = row.get("db")
    return {**row, "schema_version": SCHEMA_VERSION,
            "db": {V2_DB_KEYS.get(k, k): v for k, v in db.items()} if isinstance(db, dict) else db,
            "flags": [V2_FLAGS.get(f, f) for f in row["flags"]] if isinstance(row.get("flags"), list) else
            row.get("flags")}


def validate_row(row: dict, endpoints: tuple[str, ...] | list[str] | None = None) -> list[str]:
    """Problems with one results.jsonl row; empty when it follows the contract. `endpoints`:
    the run's own (run.json; an app file's run names its requests), else the lab's."""
    problems = _check_fields(row, ROW_FIELDS, "row")
    problems += _check_fields(row, {k: kind for k, (kind, _) in OPTIONAL_ROW_FIELDS.items() if k in row}, "row")
    if problems:
        return problems
    if row.get("relay") is not None:
        missing = [k for k in RELAY_KEYS if k not in row["relay"]]
        if missing:
            problems.append(f"row: relay lacks {missing}")
    if row.get("rate") is not None:
        missing = [k for k in RATE_KEYS if k not in row["rate"]]
        if missing:
            problems.append(f"row: rate lacks {missing}")
    if row["schema_version"] != SCHEMA_VERSION:
        problems.append(f"row: schema_version {row['schema_version']} != {SCHEMA_VERSION}")
    if row["endpoint"] not in (endpoints if endpoints is not None else {e.value for e in Endpoint}):
        problems.append(f"row: unknown endpoint {row['endpoint']!r} (not one of the run's)")
    if row["tool"] not in {t.value for t in Tool}:
        problems.append(f"row: unknown tool {row['tool']!r}")
    if row["status"] not in ("ok", "failed"):
        problems.append(f"row: status {row['status']!r} not ok/failed")
    for part, keys in (("latency_ms", LATENCY_KEYS), ("errors", ERROR_KEYS),
                       ("server", SERVER_KEYS), ("db", DB_KEYS), ("client", CLIENT_KEYS),
                       ("window", WINDOW_KEYS), ("warmup", WARMUP_KEYS), ("drain", DRAIN_KEYS),
                       ("steady", STEADY_KEYS), ("noise", NOISE_KEYS)):
        missing = [k for k in keys if k not in row[part]]
        if missing:
            problems.append(f"row: {part} lacks {missing}")
    unknown_flags = [f for f in row["flags"] if f not in {f.value for f in Flag}]
    if unknown_flags:
        problems.append(f"row: unknown flags {unknown_flags}")
    if row["status"] == "failed":
        if row["valid"] or row["rps"] is not None or not row["failure"]:
            problems.append("row: a failed level must be valid=false, rps=null, with a failure reason")
        if Flag.FAILED not in row["flags"]:
            problems.append("row: a failed level must carry the 'failed' flag")
    elif not row["valid"] and not row["invalid_reason"]:
        problems.append("row: an invalid row must say why (invalid_reason)")
    return problems


SLO_MS_LIMITS = (0.1, 600000.0)  # an open-loop p99 target (plan.slo_ms), as --slo-ms and bench report take it


def parse_slo_ms(text: str) -> float:
    """A p99 target in milliseconds; ValueError saying what is allowed."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    low, high = SLO_MS_LIMITS
    if not low <= value <= high:  # NaN fails too
        raise ValueError(f"milliseconds from {low:g} to {high:g}, e.g. 250")
    return value


def exclusions(status: Any, valid: Any, flags: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Why a row is counted nowhere: its excluding flags, plus failed/invalid when the status
    says so even if the flag is missing; empty for a counted row (the analysis's figures and
    the driver's capacities for the open loop both count by this)."""
    found = {f for f in flags if f in EXCLUDING_FLAGS}
    if status != "ok":
        found.add(Flag.FAILED.value)
    elif not valid:
        found.add(Flag.INVALID.value)
    return tuple(f.value for f in Flag if f.value in found)


def validate_run(run: dict) -> list[str]:
    """Problems with a run.json; empty when it follows the contract."""
    problems = _check_fields(run, RUN_FIELDS, "run")
    if problems:
        return problems
    if run["status"] not in RUN_STATUSES:
        problems.append(f"run: status {run['status']!r} not in {RUN_STATUSES}")
    for stack, info in run["stacks"].items():
        if info.get("status") not in STACK_STATUSES:
            problems.append(f"run: stack {stack} status {info.get('status')!r} not in {STACK_STATUSES}")
        if info.get("status") in ("skipped", "failed") and not info.get("reason"):
            problems.append(f"run: stack {stack} is {info['status']} without a reason")
    return problems
