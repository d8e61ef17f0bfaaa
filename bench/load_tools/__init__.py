"""The load tools, one adapter module each (base.py says what an adapter knows), chosen
from TOOLS by their id. A new tool is a module, its parser, and an entry here (and its id
in schema.Tool, the results contract)."""

from __future__ import annotations

from bench.load_tools.ab import AB
from bench.load_tools.base import LoadTool
from bench.load_tools.openloop import OPENLOOP
from bench.load_tools.wrk import WRK
from bench.schema import Tool

TOOLS: dict[Tool, LoadTool] = {tool.id: tool for tool in (WRK, AB, OPENLOOP)}
DEFAULT_TOOL = Tool.WRK  # what `bench run` measures with unless --tool says otherwise


def adapter(name: str) -> LoadTool | None:
    """The adapter of a tool named in a results file (None: one this checkout does not know).
    Tool is a StrEnum, so the plain name finds its entry."""
    return TOOLS.get(name)


def is_cross_check(name: str, tools: list[str] | tuple[str, ...]) -> bool:
    """Whether `name` only cross-checks another of the run's `tools` (ab beside wrk)."""
    tool = adapter(name)
    return tool is not None and tool.cross_checks is not None and tool.cross_checks in tools
