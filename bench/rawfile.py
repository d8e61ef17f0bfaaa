"""Raw tool output files: the tool's stdout and stderr kept byte-for-byte under a header
that says how they were produced (docs/design.md, Results files, `raw/...`).

The header records the byte length of each stream, so reading never searches for a
marker inside the output: a tool may print anything, including lines like our own.
Text is encoded as UTF-8 with `surrogateescape`, so output decoded the same way (the
driver's choice for tools that may echo non-UTF-8 server headers) survives unchanged.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

STDOUT_MARK = b"# ---- stdout\n"
STDERR_MARK = b"\n# ---- stderr\n"
_KEY = re.compile(r"[a-z][a-z0-9_]*")
_FIXED_KEYS = ("command", "cpus", "started", "ended", "exit_code", "stdout_bytes", "stderr_bytes")
_ENCODING = {"encoding": "utf-8", "errors": "surrogateescape"}


@dataclass(frozen=True)
class RawOutput:
    """A raw file read back: header values as written (strings), and the two streams."""

    header: dict[str, str]
    stdout: str
    stderr: str


def write_raw(
    path: str | Path,
    *,
    command: list[str],
    cpus: str,
    started: str,
    ended: str,
    exit_code: int | None,
    stdout: str,
    stderr: str,
    extra: dict[str, str] | None = None,
) -> None:
    """Write one raw file. `command` is the exact argv (stored with shlex.join); `extra`
    adds header lines such as the name of a side file. Raises ValueError on a header value
    with a newline or a key that is not lower_snake_case or clashes with a fixed key."""
    out = stdout.encode(**_ENCODING)
    err = stderr.encode(**_ENCODING)
    header = {
        "command": shlex.join(command),
        "cpus": cpus,
        "started": started,
        "ended": ended,
        "exit_code": "none" if exit_code is None else str(exit_code),
        "stdout_bytes": str(len(out)),
        "stderr_bytes": str(len(err)),
    }
    for key, value in (extra or {}).items():
        if key in header or not _KEY.fullmatch(key):
            raise ValueError(f"raw header: bad extra key {key!r}")
        header[key] = value
    lines = []
    for key, value in header.items():
        if "\n" in value or "\r" in value:
            raise ValueError(f"raw header: {key} holds a line break: {value!r}")
        lines.append(f"# {key}: {value}\n")
    Path(path).write_bytes("".join(lines).encode(**_ENCODING) + STDOUT_MARK + out + STDERR_MARK + err + b"\n")


def read_raw(path: str | Path) -> RawOutput:
    """Read a file written by `write_raw`. Raises ValueError naming the file when it is not
    one (missing header key, lengths that do not match the content)."""
    data = Path(path).read_bytes()
    header: dict[str, str] = {}
    pos = 0
    while not data.startswith(STDOUT_MARK, pos):
        end = data.find(b"\n", pos)
        line = data[pos:end].decode(**_ENCODING)
        key, sep, value = line[2:].partition(": ")
        if end < 0 or not line.startswith("# ") or not sep or not _KEY.fullmatch(key):
            raise ValueError(f"{path}: not a raw output file (bad header line {line[:60]!r})")
        header[key] = value
        pos = end + 1
    missing = [k for k in _FIXED_KEYS if k not in header]
    if missing:
        raise ValueError(f"{path}: raw header lacks {missing}")
    out_start = pos + len(STDOUT_MARK)
    out_end = out_start + int(header["stdout_bytes"])
    err_start = out_end + len(STDERR_MARK)
    err_end = err_start + int(header["stderr_bytes"])
    if data[out_end:err_start] != STDERR_MARK or data[err_end:] != b"\n":
        raise ValueError(f"{path}: stream lengths in the raw header do not match the content")
    return RawOutput(
        header=header,
        stdout=data[out_start:out_end].decode(**_ENCODING),
        stderr=data[err_start:err_end].decode(**_ENCODING),
    )
