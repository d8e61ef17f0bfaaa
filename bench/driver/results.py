"""The run folder (docs/design.md, Results files): run.json rewritten atomically, results.jsonl
appended and flushed row by row, raw/ paths, and results/latest."""

from __future__ import annotations

import json
import os
from pathlib import Path

from bench.schema import validate_row, validate_run


class RunFiles:
    def __init__(self, run_dir: Path):
        self.dir = run_dir
        self.run_json = run_dir / "run.json"
        self.results = run_dir / "results.jsonl"

    @classmethod
    def create(cls, out_root: Path, run_id: str) -> RunFiles:
        run_dir = out_root / run_id
        run_dir.mkdir(parents=True)
        latest = out_root / "latest"
        if latest.is_symlink() or not latest.exists():
            tmp = out_root / f".latest-{os.getpid()}"
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(run_id)
            tmp.replace(latest)
        return cls(run_dir)

    def write_run(self, run: dict) -> None:
        problems = validate_run(run)
        if problems:
            raise ValueError("run.json would break the contract: " + "; ".join(problems))
        tmp = self.run_json.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(run, indent=1, default=str) + "\n")
        tmp.replace(self.run_json)

    def read_run(self) -> dict:
        return json.loads(self.run_json.read_text())

    def append_row(self, row: dict) -> None:
        problems = validate_row(row)
        if problems:
            raise ValueError("row would break the contract: " + "; ".join(problems))
        with open(self.results, "a") as out:
            out.write(json.dumps(row) + "\n")
            out.flush()
            os.fsync(out.fileno())

    def rows(self) -> list[dict]:
        if not self.results.exists():
            return []
        return [json.loads(line) for line in self.results.read_text().splitlines() if line.strip()]

    def raw_path(self, tool: str, stack: str, endpoint: str, concurrency: int, repeat: int) -> Path:
        return self.dir / "raw" / tool / stack / f"{endpoint}-c{concurrency}-r{repeat}.txt"

    def relative(self, path: Path) -> str:
        return str(path.relative_to(self.dir))
