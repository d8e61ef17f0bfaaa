"""The real run folders saved under fixtures/runs/ (LAB_RUNS_DIR points elsewhere), read
the way the analysis tests need them."""

import contextlib
import json
import os
from pathlib import Path

RUNS_ROOT = Path(os.environ.get("LAB_RUNS_DIR", Path(__file__).parents[2] / "fixtures" / "runs"))
RUN_DIRS = sorted(p.parent for p in RUNS_ROOT.glob("*/run.json"))
if not RUN_DIRS:
    raise RuntimeError(f"no saved run folders under {RUNS_ROOT}: the analysis tests need real runs there")


def read_rows(run_dir: Path) -> list[dict]:
    rows = []
    for line in (run_dir / "results.jsonl").read_text().splitlines():
        with contextlib.suppress(ValueError):  # an interrupted run's cut-short last line
            rows.append(json.loads(line))
    return rows
