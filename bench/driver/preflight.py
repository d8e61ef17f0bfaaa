"""Everything a run needs, checked before anything starts: the load tools, taskset, the
servers' programs. A missing piece is one line naming it (exit 2), with nothing started,
rather than a crash after the servers and the database are up."""

from __future__ import annotations

import shutil
from pathlib import Path

from bench.schema import Tool
from lab.config import ROOT

GRANIAN = ROOT / ".venv" / "bin" / "granian"
INSTALL_HINT = "scripts/setup.sh installs it"


def missing_programs(tools: tuple[Tool, ...], external_server: bool) -> list[str]:
    """One line per program the run needs and cannot find."""
    problems = []
    for program in ["taskset", *(str(t) for t in tools)]:
        if shutil.which(program) is None:
            problems.append(f"{program} not found on PATH ({INSTALL_HINT})")
    if not external_server and not Path(GRANIAN).exists():
        problems.append(f"granian not found at {GRANIAN} ({INSTALL_HINT})")
    return problems
