"""The last lines of a process's log on one line, for the error that says why it failed."""

from __future__ import annotations

from pathlib import Path


def log_tail(path: Path, lines: int, missing: str = "(no log)") -> str:
    """`line | line | line`, "(empty log)" when there is nothing, `missing` when there is no file."""
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except FileNotFoundError:
        return missing
    return " | ".join(text[-lines:]) or "(empty log)"
