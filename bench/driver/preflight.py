"""Everything a run needs, checked before anything starts: the load tools, taskset, the
servers' programs. A missing piece is one line naming it (exit 2), with nothing started,
rather than a crash after the servers and the database are up."""

from __future__ import annotations

import shutil
from pathlib import Path

from bench.load_tools import TOOLS
from bench.schema import Tool
from lab.config import ROOT
from lab.stacks import STACKS

SERVER_BIN = ROOT / ".venv" / "bin"
INSTALL_HINT = "scripts/setup.sh installs it"


def missing_programs(tools: tuple[Tool, ...], external_server: bool, stacks: tuple[str, ...] = ()) -> list[str]:
    """One line per program the run needs and cannot find (the servers of `stacks`)."""
    problems = []
    for program in ["taskset", *(TOOLS[t].program for t in tools)]:
        if shutil.which(program) is None:
            problems.append(f"{program} not found on PATH ({INSTALL_HINT})")
    problems += [why for why in (TOOLS[t].missing() for t in tools) if why]
    if not external_server:
        for server in sorted({STACKS[s].server for s in stacks if s in STACKS} or {"granian"}):
            if not Path(SERVER_BIN / server).exists():
                problems.append(f"{server} not found at {SERVER_BIN / server} ({INSTALL_HINT})")
    return problems
