"""The real run folders saved under fixtures/runs/ (LAB_RUNS_DIR points elsewhere), read
the way the analysis tests need them. Only runs of the schema the analysis reads count:
an older run folder is named in the error rather than silently tested against."""

import contextlib
import json
import os
import shutil
from copy import deepcopy
from pathlib import Path

from bench.schema import EXCLUDING_FLAGS, READABLE_SCHEMA_VERSIONS, upgrade_row

RUNS_ROOT = Path(os.environ.get("LAB_RUNS_DIR", Path(__file__).parents[2] / "fixtures" / "runs"))


def _schema(run_json: Path) -> object:
    with contextlib.suppress(ValueError, OSError):
        return json.loads(run_json.read_text()).get("schema_version")
    return None


def _varied(run_json: Path) -> bool:
    with contextlib.suppress(ValueError, OSError, AttributeError):
        return bool(json.loads(run_json.read_text()).get("plan", {}).get("vary"))
    return False


_ALL = sorted(p.parent for p in RUNS_ROOT.glob("*/run.json"))
# Runs that varied a setting (a sweep) are read per setting; tests/bench/analysis/report/test_sweep.py reads them.
SWEEP_DIRS = [d for d in _ALL if _schema(d / "run.json") in READABLE_SCHEMA_VERSIONS and _varied(d / "run.json")]
RUN_DIRS = [d for d in _ALL if _schema(d / "run.json") in READABLE_SCHEMA_VERSIONS and d not in SWEEP_DIRS]
if not RUN_DIRS:
    _old = ", ".join(d.name for d in _ALL) or "none"
    raise RuntimeError(f"no saved run folders of a schema_version in {READABLE_SCHEMA_VERSIONS} under {RUNS_ROOT} "
                       f"(found: {_old}); the analysis tests need real runs there (LAB_RUNS_DIR points elsewhere)")
EXCLUDING = {f.value for f in EXCLUDING_FLAGS}


def read_rows(run_dir: Path, open_loop: bool = False) -> list[dict]:
    """The closed-loop rows (wrk, ab), which every figure but the open loop's reads; with
    `open_loop`, the open-loop generator's rows (a row with `rate`) instead."""
    rows = []
    for line in (run_dir / "results.jsonl").read_text().splitlines():
        with contextlib.suppress(ValueError):  # an interrupted run's cut-short last line
            row = upgrade_row(json.loads(line))  # a version 2 row read as the analysis reads it
            if (row.get("rate") is not None) == open_loop:
                rows.append(row)
    return rows


def read_info(run_dir: Path) -> dict:
    return json.loads((run_dir / "run.json").read_text())


def counted(row: dict) -> bool:
    """The contract's rule, restated from the schema: ok, valid, a rate, no excluding flag."""
    return (row["status"] == "ok" and row["valid"] and row["rps"] is not None
            and not set(row["flags"]) & EXCLUDING)


def write_run(source: Path, target: Path, rows: list[dict] | None = None, info: dict | None = None) -> Path:
    """A copy of a real run folder, its rows and run.json replaced when given."""
    shutil.copytree(source, target)
    if rows is not None:
        (target / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if info is not None:
        (target / "run.json").write_text(json.dumps(info))
    return target


def with_rounds(rows: list[dict], minimum: int = 3) -> list[dict]:
    """The rows, plus copies of the first round's rows as extra rounds until every level has
    `minimum` rounds, their rates scaled by fixed small factors so the rounds differ."""
    last = max(r["repeat"] for r in rows)
    extra = []
    for number in range(last + 1, minimum + 1):
        factor = 1 + 0.01 * (number - last) * (-1) ** number
        for row in rows:
            if row["repeat"] == 1:
                twin = deepcopy(row)
                twin["repeat"] = number
                if twin["rps"] is not None:
                    twin["rps"] *= factor
                extra.append(twin)
    return rows + extra


def most_rounds() -> Path:
    """The saved run with the most rounds per level (ties: the first)."""
    return max(RUN_DIRS, key=lambda d: max(r["repeat"] for r in read_rows(d)))


DJANGO = {"django-wsgi", "django-asgi"}


def copy(source: Path, target: Path, keep_stack: str | None = None, rps_factor: float = 1.0,
         speed_factor: float = 1.0, metadata: dict | None = None, rounds: int = 0,
         scaled_stack: str | None = None) -> Path:
    """A copy of a real run, optionally with extra rounds, cut down to one stack (as a --url
    run is), RPS (of every stack, or of `scaled_stack` alone) and speed probe scaled,
    metadata overridden."""
    rows = [r for r in with_rounds(read_rows(source), rounds) if keep_stack in (None, r["stack"])]
    for row in rows:
        if row["rps"] is not None and scaled_stack in (None, row["stack"]):
            row["rps"] *= rps_factor
        if row["speed"] is not None:
            row["speed"] *= speed_factor
    info = read_info(source)
    for entry in info.get("rounds") or []:
        if entry.get("speed") is not None:
            entry["speed"] *= speed_factor
    if keep_stack:
        info["stacks"] = {s: v for s, v in info["stacks"].items() if s == keep_stack}
    info["metadata"].update(metadata or {})
    return write_run(source, target, rows, info)


def asgi_over_wsgi_by_round(rows: list[dict], endpoint: str, tool: str, level: int) -> list[float]:
    by_round: dict[tuple, dict[str, float]] = {}
    for r in rows:
        level_key = (r["endpoint"], r["tool"], r["concurrency"])
        if counted(r) and r["stack"] in DJANGO and level_key == (endpoint, tool, level):
            by_round.setdefault((r.get("variant", ""), r["repeat"]), {})[r["stack"]] = r["rps"]
    return [v["django-asgi"] / v["django-wsgi"] for v in by_round.values() if len(v) == 2]
