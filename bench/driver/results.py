"""The run folder (docs/design.md, Results files): run.json rewritten atomically, results.jsonl
appended and flushed row by row, raw/ paths, and results/latest.

Both files must survive power loss and `kill -9`: a rewrite reaches the disk (file and
directory fsynced) before it replaces the old file, and a row cut short at the end of
results.jsonl is set aside, never lost, so the run can be resumed and the row measured again."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from bench.schema import validate_row, validate_run
from lab.errors import LabError

TORN_SUFFIX = ".torn"


class ResultsCorrupt(LabError, RuntimeError):
    """An unreadable line in results.jsonl with rows after it: damage, not a write cut short,
    so nothing is set aside or rewritten; the message (one line) names the file and line."""


class RunFiles:
    def __init__(self, run_dir: Path):
        self.dir = run_dir
        self.run_json = run_dir / "run.json"
        self.results = run_dir / "results.jsonl"
        self.torn = run_dir / (self.results.name + TORN_SUFFIX)

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
        replace_durably(self.run_json, (json.dumps(run, indent=1, default=str) + "\n").encode())

    def read_run(self) -> dict:
        return json.loads(self.run_json.read_text())

    def append_row(self, row: dict, endpoints: list[str] | None = None) -> None:
        """One row on a line of its own, on disk before the next level starts (`endpoints`:
        the run's, validate_row)."""
        problems = validate_row(row, endpoints)
        if problems:
            raise ValueError("row would break the contract: " + "; ".join(problems))
        with open(self.results, "a+b") as out:
            out.seek(0, os.SEEK_END)
            lead = b""
            if out.tell():
                out.seek(-1, os.SEEK_END)
                lead = b"" if out.read(1) == b"\n" else b"\n"
            out.write(lead + json.dumps(row).encode() + b"\n")
            out.flush()
            os.fsync(out.fileno())

    def rows(self) -> list[dict]:
        """The rows measured so far. An unreadable last line is a write cut short: it is set
        aside (see _set_aside) and its row is measured again; one before other rows raises
        ResultsCorrupt."""
        if not self.results.exists():
            return []
        lines = self.results.read_bytes().split(b"\n")
        rows = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            row = _parse(line)
            if row is not None:
                rows.append(row)
            elif any(rest.strip() for rest in lines[number:]):
                raise ResultsCorrupt(
                    f"{self.results} line {number} is not a JSON row but rows follow it: the file is damaged, "
                    f"not cut short; nothing was changed (move that line into {self.torn.name} by hand to resume)")
            else:
                self._set_aside(lines, number)
        return rows

    def _set_aside(self, lines: list[bytes], number: int) -> None:
        """Append the torn line to results.jsonl.torn (kept, never lost), then rewrite
        results.jsonl without it, so the next row starts on a line of its own."""
        with open(self.torn, "ab") as side:
            side.write(lines[number - 1] + b"\n")
            side.flush()
            os.fsync(side.fileno())
        fsync_dir(self.dir)
        kept = lines[:number - 1]
        replace_durably(self.results, b"\n".join(kept) + b"\n" if kept else b"")
        print(f"bench: {self.results} line {number} is torn (not JSON); set aside in {self.torn.name}, "
              "the row will be measured again", file=sys.stderr, flush=True)

    def raw_path(self, tool: str, stack: str, endpoint: str, concurrency: int, repeat: int,
                 rate: float | None = None) -> Path:
        """Where a level's raw output goes (an open-loop level's is named by its rate); a name from
        a hand-edited run.json that would lead out of raw/ (`../x`) is refused (ValueError)."""
        raw = self.dir / "raw"
        level = f"c{concurrency}" if rate is None else f"{rate:g}rps"
        path = raw / tool / stack / f"{endpoint}-{level}-r{repeat}.txt"
        if not path.resolve().is_relative_to(raw.resolve()) or ".." in Path(tool, stack, endpoint).parts:
            raise ValueError(f"raw file {path} would be outside {raw}")
        return path

    def relative(self, path: Path) -> str:
        return str(path.relative_to(self.dir))


def _parse(line: bytes) -> dict | None:
    """A row, or None when the line is not a JSON object (cut short, or zeros after power loss)."""
    try:
        row = json.loads(line)
    except ValueError:  # also UnicodeDecodeError
        return None
    return row if isinstance(row, dict) else None


def replace_durably(path: Path, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, fsync it, rename it over `path` and fsync
    the folder: after a crash `path` holds the old bytes or the new ones, never a mix or nothing."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    tmp.replace(path)
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new file in `folder` durable: the entry lives in the folder's own blocks."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
