"""One root error: every exception the lab defines derives from LabError, and an entry
point turns one it did not handle into one line and its exit code."""

import ast
import importlib

import pytest

from lab.config import ROOT
from lab.errors import LabError, UsageError, guarded

PACKAGES = ("lab", "bench")
NOT_ERRORS = {"Terminated"}  # SIGTERM, raised as a KeyboardInterrupt so it unwinds like Ctrl-C


def defined_exceptions() -> list[tuple[str, str]]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ClassDef) and any(
                        isinstance(base, ast.Name) and (base.id.endswith(("Error", "Exception", "Interrupt"))
                                                        or base.id in ("LabError", "UsageError", "DatabaseGone",
                                                                       "DatabaseError"))
                        for base in node.bases):
                    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
                    found.append((module, node.name))
    return found


def test_the_scan_sees_the_lab_s_errors():
    names = {name for _, name in defined_exceptions()}
    assert {"ConfigError", "DatabaseError", "DatabaseGone", "ServerDied", "RunLocked", "ResultsCorrupt"} <= names


@pytest.mark.parametrize(("module", "name"), defined_exceptions())
def test_every_error_the_lab_defines_derives_from_lab_error(module, name):
    if name in NOT_ERRORS:
        return
    assert issubclass(getattr(importlib.import_module(module), name), LabError)


def test_an_unhandled_lab_error_is_one_line_and_its_code(capsys):
    def fails(argv):
        raise UsageError(f"--x {argv[0]!r} is not allowed: a number")

    assert guarded("prog", fails, ["y"]) == 2
    assert capsys.readouterr().err == "prog: --x 'y' is not allowed: a number\n"
    assert guarded("prog", lambda argv: 0, []) == 0
