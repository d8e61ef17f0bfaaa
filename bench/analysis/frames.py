"""A run folder as pandas frames: the one place that reads run.json and results.jsonl.

Every row stays in `Run.rows` (failed, invalid and flagged rows too, so they can be
marked and listed); only valid rows of levels that produced a measurement ("counted"
rows) feed the figures. A line or row that breaks the contract is set aside and named
in `Run.problems` rather than stopping the report: a half-written last line is what an
interrupted run leaves behind.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bench.analysis.stacks import BASELINE, endpoint_sort_key, stack_sort_key
from bench.schema import (
    CLIENT_KEYS,
    DB_KEYS,
    ERROR_KEYS,
    LATENCY_KEYS,
    ROW_FIELDS,
    SERVER_KEYS,
    Tool,
    validate_row,
    validate_run,
)

UNKNOWN = "unknown"
LEVEL_KEYS = ["stack", "endpoint", "tool", "concurrency"]
SERIES_KEYS = ["stack", "endpoint", "tool"]

# Flattened columns aggregated over repeats (median, min, max per level).
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
           "client": CLIENT_KEYS}
_NESTED_COLUMNS = [f"{part}_{key}" for part, keys in _NESTED.items() for key in keys]
COLUMNS = [name for name, kind in ROW_FIELDS.items() if kind is not dict] + _NESTED_COLUMNS
# Nulls become NaN, so medians skip them and charts leave gaps rather than drawing zeros.
NUMERIC = [*_NESTED_COLUMNS, "rps", "requests", "elapsed_s", "bytes", "error_count", "error_rate",
           "duration_s"]


class RunError(Exception):
    """The folder is not a run folder (no readable run.json); the message is one line."""


@dataclass(frozen=True)
class Run:
    path: Path
    info: dict[str, Any]
    rows: pd.DataFrame
    problems: tuple[str, ...]

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
    def stacks(self) -> dict[str, dict[str, Any]]:
        """Every stack the run planned or measured, in table order (run.json first, then rows)."""
        stacks = dict(self.info.get("stacks") or {})
        for stack in self.rows["stack"].unique():
            stacks.setdefault(stack, {"status": "measured"})
        return {s: stacks[s] for s in sorted(stacks, key=stack_sort_key)}


def load_run(path: str | Path) -> Run:
    """Read a run folder; raise RunError when it has no readable run.json."""
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
    problems = [f"run.json: {p}" for p in validate_run(info)]
    rows, row_problems = _read_rows(path / "results.jsonl")
    return Run(path, info, flatten(rows), tuple(problems + row_problems))


def _read_rows(path: Path) -> tuple[list[dict], list[str]]:
    if not path.exists():
        return [], ["results.jsonl: missing (no level finished)"]
    rows, problems = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            problems.append(f"results.jsonl line {number}: not JSON (a write cut short?), ignored")
            continue
        broken = validate_row(row) if isinstance(row, dict) else ["not a JSON object"]
        if broken:
            problems.append(f"results.jsonl line {number}: ignored, {'; '.join(broken)}")
        else:
            rows.append(row)
    return rows, problems


def flatten(rows: list[dict]) -> pd.DataFrame:
    """One column per field, nested ones as `part_key` (latency_ms_p99, server_cpu_ms_per_req),
    plus `counted` (feeds the figures) and `flagged` (listed in the report: any flag, not
    counted, or any failed request even if the driver did not flag it)."""
    frame = pd.json_normalize(rows, sep="_") if rows else pd.DataFrame()
    frame = frame.reindex(columns=COLUMNS)
    for column in NUMERIC:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    frame["concurrency"] = frame["concurrency"].astype("Int64")
    frame["repeat"] = frame["repeat"].astype("Int64")
    frame["flags"] = frame["flags"].apply(lambda f: tuple(f) if isinstance(f, list) else ())
    frame["valid"] = frame["valid"].astype(bool)
    frame["counted"] = (frame["status"] == "ok") & frame["valid"]
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
    """One row per stack x endpoint x tool x concurrency that has rows: median, min and max
    of every metric over the counted repeats (NaN when none counted), how many repeats
    counted and how many were set aside (failed or invalid), and the union of the counted
    rows' flags."""
    counted = rows[rows["counted"]]
    grouped = counted.groupby(LEVEL_KEYS)
    every = rows.groupby(LEVEL_KEYS).size()
    levels = grouped[list(METRICS)].agg(["median", "min", "max"]).reindex(every.index)
    levels.columns = [f"{metric}_{stat}" for metric, stat in levels.columns]
    levels["repeats"] = grouped.size().reindex(every.index).fillna(0).astype(int)
    levels["set_aside"] = every - levels["repeats"]
    flags = grouped["flags"].agg(lambda flags: tuple(sorted(set().union(*flags)))).reindex(every.index)
    levels["flags"] = flags.apply(lambda f: f if isinstance(f, tuple) else ())
    return ordered(levels.reset_index(), LEVEL_KEYS)


def best_levels(levels: pd.DataFrame) -> pd.DataFrame:
    """Per stack x endpoint x tool, the level with the highest median RPS (the lowest
    concurrency on a tie), with `ratio` = its median RPS over django-wsgi's best for the
    same endpoint and tool (NaN when django-wsgi has none) and `series_set_aside` = rows of
    the whole series that failed or were invalid (a best figure may hide a failed level)."""
    set_aside = levels.groupby(SERIES_KEYS)["set_aside"].sum()
    measured = levels.dropna(subset=["rps_median"])
    best = (measured.sort_values(["rps_median", "concurrency"], ascending=[False, True], kind="stable")
            .groupby(SERIES_KEYS, sort=False).head(1))
    baseline = best[best["stack"] == BASELINE].set_index(["endpoint", "tool"])["rps_median"]
    keys = pd.MultiIndex.from_frame(best[["endpoint", "tool"]])
    best = best.assign(
        ratio=best["rps_median"].to_numpy() / baseline.reindex(keys).to_numpy(),
        series_set_aside=set_aside.reindex(pd.MultiIndex.from_frame(best[SERIES_KEYS])).to_numpy(),
    )
    return ordered(best, SERIES_KEYS)


def flagged_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows that need a second look: any flag, failed, not valid, or with failed requests."""
    return rows[rows["flagged"]]
