"""What the lab needs to know about a load tool, in one shape, so the driver and the
analysis ask the tool instead of naming it: adding a tool is one module, never a new
branch elsewhere.

An adapter is data and pure functions: it builds the command, parses what the tool
printed, and states its limits, but never runs anything. The driver (bench/driver/tools.py)
runs the command and writes the raw file; the analysis reads labels and limits only, so a
report is still rebuilt with no load tool installed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.schema import Tool
from bench.tool_result import ToolResult
from lab.stacks import StackEntry


@dataclass(frozen=True)
class LoadRequest:
    """One measured run as the driver asks for it, whatever tool makes it."""

    url: str
    method: str
    concurrency: int
    duration_s: int
    threads: int  # CPUs the client may use (CLIENT_CPUS): at most one thread each
    pin: tuple[str, ...]  # prefix that pins the tool to those CPUs (taskset)
    body: Path | None  # the file holding the request's body (None: no body)
    timeout_s: int  # per request: a response later than this is an error
    side_file: Path | None  # where the tool may write its second output (None: a discarded run)
    headers: tuple[tuple[str, str], ...] = ()  # sent with every request (the body's Content-Type among them)
    rate: float | None = None  # an open-loop level's arrivals per second (then concurrency is a connection limit)
    warmup_s: float = 0.0  # an open-loop level's arrivals sent first and discarded
    seed: int = 0  # an open-loop level's arrival times

    @property
    def content_type(self) -> str | None:
        return next((value for key, value in self.headers if key.lower() == "content-type"), None)

    def other_headers(self) -> tuple[tuple[str, str], ...]:
        return tuple((key, value) for key, value in self.headers if key.lower() != "content-type")


def shown_header(key: str, value: str) -> str:
    """A header as the raw file records it: its name, and its value only for Content-Type
    (others, e.g. Authorization or Cookie, may hold secrets)."""
    return f"{key}: {value}" if key.lower() == "content-type" else f"{key}: <not recorded>"


@dataclass(frozen=True)
class Invocation:
    """The exact command, the environment it adds, and the raw file's extra header lines."""

    command: list[str]
    env: dict[str, str]
    raw_header: dict[str, str]
    shown_command: list[str] | None = None  # what the raw file records when the command holds a secret

    @property
    def recorded_command(self) -> list[str]:
        return self.shown_command if self.shown_command is not None else self.command


def _no_stack_note(stack: StackEntry) -> str | None:
    return None


def _nothing_missing() -> str | None:
    return None


@dataclass(frozen=True)
class LoadTool:
    """One load tool: its id, how to run and read it, and what its figures can be trusted for."""

    id: Tool
    program: str  # what must be on PATH for a run with this tool (bench/driver/preflight.py)
    version_command: tuple[str, ...]  # its first output line is recorded in run.json
    invocation: Callable[[LoadRequest], Invocation]
    # stdout, stderr, the side file's text (None: none written) -> ToolResult, or ParseError
    parse: Callable[[str, str, str | None], ToolResult]
    side_suffix: str | None = None  # the side file is the raw file with this suffix
    # Notes recorded beside the versions in run.json: what its figures are (bench compare names a change).
    notes: dict[str, str] = field(default_factory=dict)
    # Its measured mean latency is too coarse below this for the Little's law check (None: never).
    mean_floor_ms: float | None = None
    # When this tool runs beside that one, it only cross-checks it: the profile's ab_repeats
    # and ab_endpoints apply, and the other tool's figures head the report.
    cross_checks: Tool | None = None
    linestyle: str = ":"  # on the report's charts
    marker: str = "o"
    stack_note: Callable[[StackEntry], str | None] = _no_stack_note  # why it cannot measure a stack validly
    missing: Callable[[], str | None] = _nothing_missing  # what it needs beyond its program on PATH, if absent
    rate_levels: bool = False  # its levels are arrival rates (open loop), not concurrencies

    @property
    def label(self) -> str:
        return str(self.id)

    def checkable_mean(self, result: ToolResult) -> float | None:
        """The tool's own mean latency, where it is fine enough for the Little's law check."""
        mean = result.measured_mean_ms
        if self.mean_floor_ms is not None and mean is not None and mean < self.mean_floor_ms:
            return None
        return mean
