"""The root of the lab's own failures. Every error the lab raises on purpose derives from
LabError: str() is the one line a person reads, `exit_code` what the command exits with
(2 for a usage error: a bad value, a refused folder or database; 1 for the rest). The
entry points turn an uncaught one into that line and that code in one place (`guarded`),
so a failure the code foresaw is never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

USAGE_ERROR = 2


class LabError(Exception):
    exit_code = 1


class UsageError(LabError):
    """Bad input: nothing was started."""

    exit_code = USAGE_ERROR


def guarded(prog: str, main: Callable[[list[str]], int], argv: list[str]) -> int:
    """main(argv), with any LabError it did not handle shown as `prog: line` and its code."""
    try:
        return main(argv)
    except LabError as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return error.exit_code
