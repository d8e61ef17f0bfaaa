"""A run folder as pandas frames: the one place that reads run.json and results.jsonl.

Every row stays in `Run.rows` (failed, invalid, excluded and flagged rows too, so they
can be marked and listed); only "counted" rows feed a figure, ratio or verdict: status
ok, valid, and none of the schema's EXCLUDING_FLAGS (a level that was too short, not
steady, not drained or noisy measured something other than the stack). A line or row
that breaks the contract is set aside and named in `Run.problems` rather than stopping
the report: a half-written last line is what an interrupted run leaves behind. A run of
an older schema is refused (RunError), and so are stray older rows (one problem line),
since their repeats are not interleaved rounds and nothing here could pair them.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from bench.analysis import stats
from bench.analysis.stacks import endpoint_sort_key, name_requests, stack_sort_key
from bench.schema import (
    CLIENT_KEYS,
    DB_KEYS,
    DRAIN_KEYS,
    ERROR_KEYS,
    LATENCY_KEYS,
    NOISE_KEYS,
    OPTIONAL_ROW_FIELDS,
    RATE_KEYS,
    READABLE_SCHEMA_VERSIONS,
    RELAY_KEYS,
    ROW_FIELDS,
    SCHEMA_VERSION,
    SERVER_KEYS,
    STEADY_KEYS,
    WARMUP_KEYS,
    WINDOW_KEYS,
    Tool,
    exclusions,
    upgrade_row,
    validate_row,
    validate_run,
)
from lab.errors import LabError

UNKNOWN = "unknown"
LEVEL_KEYS = ["stack", "endpoint", "tool", "concurrency"]
SERIES_KEYS = ["stack", "endpoint", "tool"]
ROUND_KEYS = ["endpoint", "tool", "concurrency", "variant", "repeat"]  # a sweep's settings never pair

# Flattened columns aggregated over counted rounds (median, min, max per level); the
# throughput also gets its geometric mean and 95 % interval (rps_gmean, rps_low, rps_high).
METRICS = (
    "rps",
    "latency_ms_p50",
    "latency_ms_p99",
    "error_rate",
    "server_cpu_ms_per_req",
    "db_cpu_ms_per_req",
    "server_peak_memory_bytes",
    "client_cpu_share",
    "server_cpu_share",
    "db_cpu_share",
)

_NESTED = {"latency_ms": LATENCY_KEYS, "errors": ERROR_KEYS, "server": SERVER_KEYS, "db": DB_KEYS,
           "client": CLIENT_KEYS, "window": WINDOW_KEYS, "warmup": WARMUP_KEYS, "drain": DRAIN_KEYS,
           "steady": STEADY_KEYS, "noise": NOISE_KEYS, "relay": RELAY_KEYS, "rate": RATE_KEYS}
_NESTED_COLUMNS = [f"{part}_{key}" for part, keys in _NESTED.items() for key in keys]
_NOT_NUMERIC = ("client_cpus", "window_capped", "drain_drained")  # a list and two booleans, kept as read
COLUMNS = ([name for name, kind in ROW_FIELDS.items() if kind is not dict] + ["variant", "db_latency_ms"]
           + _NESTED_COLUMNS)
# Nulls become NaN, so medians skip them and charts leave gaps rather than drawing zeros.
NUMERIC = [*(c for c in _NESTED_COLUMNS if c not in _NOT_NUMERIC), "rps", "requests", "elapsed_s", "bytes",
           "error_count", "error_rate", "duration_s", "speed", "db_latency_ms"]


class RunError(LabError):
    """The folder is not a run folder (no readable run.json); the message is one line."""


@dataclass(frozen=True)
class Run:
    path: Path
    info: dict[str, Any]
    rows: pd.DataFrame  # closed-loop levels (wrk, ab): every figure but the open loop's reads these
    problems: tuple[str, ...]
    # Open-loop levels (a row with `rate`, bench/openloop.py): read by the open-loop section alone
    rate_rows: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def run_id(self) -> str:
        return str(self.info.get("run_id") or self.path.name)

    def meta(self, *keys: str) -> Any:
        """metadata[k1][k2]..., or "unknown" when any level is missing or null."""
        value: Any = self.info.get("metadata") or {}
        for key in keys:
            if not isinstance(value, dict) or value.get(key) is None:
                return UNKNOWN
            value = value[key]
        return value

    @property
    def app(self) -> dict[str, Any] | None:
        """run.json's `app` when the run measured an app file's project (bench run --app), else None."""
        app = (self.info.get("metadata") or {}).get("app")
        return app if isinstance(app, dict) else None

    @property
    def stacks(self) -> dict[str, dict[str, Any]]:
        """Every stack the run planned or measured, in table order (run.json first, then rows)."""
        stacks = dict(self.info.get("stacks") or {})
        for stack in self.rows["stack"].dropna().unique():
            stacks.setdefault(stack, {"status": "measured"})
        return {s: stacks[s] for s in sorted(stacks, key=stack_sort_key)}

    @property
    def rounds(self) -> list[dict[str, Any]]:
        """run.json's rounds (planned up front, `started_at` set once measured)."""
        rounds = self.info.get("rounds")
        return [r for r in rounds if isinstance(r, dict)] if isinstance(rounds, list) else []

    def planned_rounds(self, tool: str, endpoint: str, concurrency: int) -> int | None:
        """Rounds planned at one level: run.json's rounds for it, else the profile's repeats."""
        planned = sum((r.get("tool"), r.get("endpoint"), r.get("concurrency")) == (tool, endpoint, concurrency)
                      for r in self.rounds)
        if planned:
            return planned
        repeats = (self.info.get("profile") or {}).get("repeats")
        return repeats if isinstance(repeats, int) and not isinstance(repeats, bool) else None

    @property
    def variants(self) -> list[str]:
        """The run's variants ("" alone when it varied nothing), the database's latency first.
        A variant is one value of every axis: a unit that reads fewer settings (a stack is not
        run again for a setting it does not read) belongs to every variant it agrees with."""
        labels = sorted(self.rows.drop_duplicates("variant")["variant"])
        vary = (self.info.get("plan") or {}).get("vary")
        if isinstance(vary, dict) and vary and all(isinstance(v, list) for v in vary.values()):
            keys = list(vary)
            full = [",".join(f"{k}={v}" for k, v in zip(keys, combo, strict=True))
                    for combo in itertools.product(*(vary[k] for k in keys))]
            held: dict[tuple[str, ...], str] = {}  # two variants holding the same units are one: the first
            for f in full:
                units = tuple(label for label in labels if _belongs(label, f))
                if units:
                    held.setdefault(units, f)
            labels = list(held.values()) or labels
        latency = {label: _pairs(label).get("DB_LATENCY_MS") for label in labels}
        return sorted(labels, key=lambda label: float(latency[label] or 0)) or [""]

    def only_variant(self, variant: str) -> Run:
        """The run as if it had measured this variant alone: the rows and units' stacks that
        belong to it (their settings agree with it), relabelled with it."""
        if self.variants == [variant]:
            return self
        stacks = {}
        for unit, info in (self.info.get("stacks") or {}).items():
            stack, _, label = unit.partition("@")
            if _belongs(label, variant):
                stacks[stack] = info
        def own(frame: pd.DataFrame) -> pd.DataFrame:
            if frame.empty:
                return frame
            kept = frame[frame["variant"].map(lambda label: _belongs(label, variant))].copy()
            kept["variant"] = variant
            return kept.reset_index(drop=True)

        return Run(self.path, {**self.info, "stacks": stacks}, own(self.rows), self.problems, own(self.rate_rows))

    @property
    def speeds(self) -> list[float]:
        """The machine-speed probe of every round (run.json `rounds`, else one per round of rows)."""
        if self.rounds:
            return [float(r["speed"]) for r in self.rounds
                    if isinstance(r.get("speed"), (int, float)) and not isinstance(r.get("speed"), bool)]
        return self.rows.drop_duplicates(ROUND_KEYS)["speed"].dropna().tolist()


def _pairs(label: str) -> dict[str, str]:
    """'DB_LATENCY_MS=5,DJANGO_WSGI_BLOCKING_THREADS=32' -> {'DB_LATENCY_MS': '5', ...}."""
    return dict(part.split("=", 1) for part in label.split(",") if "=" in part)


def _belongs(label: str, variant: str) -> bool:
    """A unit's variant belongs to a run's variant when it names no value the other does not."""
    return _pairs(label).items() <= _pairs(variant).items()


def load_run(path: str | Path) -> Run:
    """Read a run folder; raise RunError when it has no readable run.json of this schema."""
    path = Path(path)
    if not path.is_dir():
        raise RunError(f"{path}: not a directory")
    try:
        info = json.loads((path / "run.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{path}: no run.json (not a run folder)") from None
    except (OSError, ValueError) as exc:
        raise RunError(f"{path}/run.json: unreadable ({exc})") from None
    if not isinstance(info, dict):
        raise RunError(f"{path}/run.json: not a JSON object")
    if info.get("schema_version") not in READABLE_SCHEMA_VERSIONS:
        raise RunError(f"{path}/run.json: schema_version {info.get('schema_version')}, this analysis reads "
                       f"{' and '.join(map(str, READABLE_SCHEMA_VERSIONS))} (every stack measured in interleaved "
                       "rounds); measure again")
    info = {**info, "schema_version": SCHEMA_VERSION}  # a version 2 run's rows are read as version 3 (upgrade_row)
    problems = [f"run.json: {p}" for p in validate_run(info)]
    endpoints = info.get("endpoints")
    rows, row_problems = _read_rows(path / "results.jsonl", endpoints if isinstance(endpoints, list) else None)
    closed = [r for r in rows if r.get("rate") is None]
    rated = [r for r in rows if r.get("rate") is not None]
    run = Run(path, info, flatten(closed), tuple(problems + row_problems), flatten(rated) if rated else pd.DataFrame())
    if run.app:
        name_requests(run.app.get("requests") or [])
    return run


def _read_rows(path: Path, endpoints: list[str] | None = None) -> tuple[list[dict], list[str]]:
    if not path.exists():
        return [], ["results.jsonl: missing (no level finished)"]
    rows, problems, old = [], [], 0
    # Split on newlines alone, as the driver writes and counts lines (splitlines would also split on \x1c etc.).
    lines = path.read_text(encoding="utf-8", errors="replace").split("\n")
    last = max((n for n, line in enumerate(lines, 1) if line.strip()), default=0)
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            problems.append(_not_json(number, torn=number == last))
            continue
        if isinstance(row, dict) and row.get("schema_version") not in READABLE_SCHEMA_VERSIONS:
            old += 1
            continue
        row = upgrade_row(row) if isinstance(row, dict) else row
        broken = validate_row(row, endpoints) if isinstance(row, dict) else ["not a JSON object"]
        if broken:
            problems.append(f"results.jsonl line {number}: ignored, {'; '.join(broken)}")
        else:
            rows.append(row)
    if old:
        problems.insert(0, f"results.jsonl: {old} row(s) of another schema_version refused (this analysis "
                           f"reads {' and '.join(map(str, READABLE_SCHEMA_VERSIONS))}: every stack measured in "
                           "interleaved rounds)")
    return rows, problems


def _not_json(number: int, torn: bool) -> str:
    """A last line cut short is what power loss or kill -9 leaves (the driver sets it aside on
    resume); an unreadable line with rows after it is damage. Neither stops the report."""
    if torn:
        return (f"results.jsonl line {number}: torn (not JSON, a write cut short), ignored; resuming the run "
                "measures that row again")
    return f"results.jsonl line {number}: not JSON, with rows after it (the file is damaged), ignored"


def flatten(rows: list[dict]) -> pd.DataFrame:
    """One column per field, nested ones as `part_key` (latency_ms_p99, steady_deviation,
    noise_foreign_cpu_share), plus `excluded_by` (the reasons a row is counted nowhere),
    `counted` (feeds the figures: none) and `flagged` (listed in the report: any flag, not
    counted, or any failed request even if the driver did not flag it)."""
    rows = [{**{k: default for k, (_, default) in OPTIONAL_ROW_FIELDS.items()}, **r} for r in rows]
    frame = pd.json_normalize(rows, sep="_") if rows else pd.DataFrame()
    frame = frame.reindex(columns=COLUMNS)
    frame["variant"] = frame["variant"].fillna("").astype(str)
    for column in NUMERIC:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    for column in ("concurrency", "repeat", "position"):
        frame[column] = frame[column].astype("Int64")
    frame["flags"] = frame["flags"].apply(lambda f: tuple(f) if isinstance(f, list) else ())
    frame["valid"] = frame["valid"].astype(bool)
    frame["excluded_by"] = [exclusions(s, v, f) for s, v, f in zip(frame["status"], frame["valid"],
                                                                   frame["flags"], strict=True)]
    frame["counted"] = ~frame["excluded_by"].apply(bool) & frame["rps"].notna()
    frame["flagged"] = frame["flags"].apply(bool) | ~frame["counted"] | (frame["error_count"] > 0)
    return ordered(frame, [*LEVEL_KEYS, "repeat"])


def ordered(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Sort stacks and endpoints in table order and tools wrk-then-ab, not alphabetically."""
    sort_keys = {"stack": stack_sort_key, "endpoint": endpoint_sort_key,
                 "tool": lambda t: ([x.value for x in Tool] + [t]).index(t)}

    def rank(column: pd.Series) -> pd.Series:
        if column.name not in sort_keys:
            return column
        ranks = {v: i for i, v in enumerate(sorted(column.dropna().unique(), key=sort_keys[column.name]))}
        return column.map(ranks)

    return frame.sort_values(by, key=rank, kind="stable").reset_index(drop=True)


def aggregate(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per stack x endpoint x tool x concurrency that has rows: the throughput's
    geometric mean over counted rounds with its 95 % interval (rps_gmean, rps_low,
    rps_high), median, min and max of every metric (NaN when none counted), `rounds`
    counted, `excluded` (rows counted nowhere) and the union of the counted rows' flags."""
    counted = rows[rows["counted"]]
    grouped = counted.groupby(LEVEL_KEYS)
    every = rows.groupby(LEVEL_KEYS).size()
    levels = grouped[list(METRICS)].agg(["median", "min", "max"]).reindex(every.index)
    levels.columns = [f"{metric}_{stat}" for metric, stat in levels.columns]
    throughput = grouped["rps"].agg(lambda s: stats.geometric_interval(s.to_numpy())).reindex(every.index)
    throughput = throughput.apply(lambda e: e if isinstance(e, stats.Estimate) else stats.NAN_ESTIMATE)
    for stat in ("estimate", "low", "high"):
        levels[f"rps_{'gmean' if stat == 'estimate' else stat}"] = throughput.apply(lambda e, s=stat: getattr(e, s))
    levels["rounds"] = grouped.size().reindex(every.index).fillna(0).astype(int)
    levels["excluded"] = every - levels["rounds"]
    flags = grouped["flags"].agg(lambda flags: tuple(sorted(set().union(*flags)))).reindex(every.index)
    levels["flags"] = flags.apply(lambda f: f if isinstance(f, tuple) else ())
    return ordered(levels.reset_index(), LEVEL_KEYS)


def round_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Counted throughput per round: index endpoint x tool x concurrency x variant x repeat, one column
    per stack, NaN where that stack's row in the round is missing or excluded."""
    counted = rows[rows["counted"]]
    if counted.empty:
        return pd.DataFrame(index=pd.MultiIndex.from_tuples([], names=ROUND_KEYS))
    return counted.groupby([*ROUND_KEYS, "stack"])["rps"].first().unstack("stack")


def round_ratios(rows: pd.DataFrame, numerator: str, denominator: str) -> pd.DataFrame:
    """Per round where both stacks were counted: their throughputs and numerator/denominator.
    Columns: endpoint, tool, concurrency, variant, repeat, a_rps, b_rps, ratio."""
    table = round_table(rows)
    if numerator not in table.columns or denominator not in table.columns:
        return pd.DataFrame(columns=[*ROUND_KEYS, "a_rps", "b_rps", "ratio"])
    pairs = table[[numerator, denominator]].dropna().reset_index()
    pairs = pairs.rename(columns={numerator: "a_rps", denominator: "b_rps"})
    pairs["ratio"] = pairs["a_rps"] / pairs["b_rps"]
    return ordered(pairs[[*ROUND_KEYS, "a_rps", "b_rps", "ratio"]], ROUND_KEYS)


def flagged_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows that need a second look: any flag, counted nowhere, or with failed requests."""
    return rows[rows["flagged"]]
