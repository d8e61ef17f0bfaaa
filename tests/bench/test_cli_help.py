"""`bench run --help` (bench/driver/cli.py) tells the truth: every option the parser accepts
but the suppressed --tool (the wrapper scripts fix it), and every profile and endpoint
with its line from its table. Run as a user runs it; it starts nothing."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pytest

from bench.driver.cli import build_parser
from bench.endpoints import ENDPOINTS
from bench.profiles import PROFILES
from lab.config import ROOT

PROG = "bench/run_wrk.sh"


@pytest.fixture(scope="module")
def help_text() -> str:
    result = subprocess.run([sys.executable, "-m", "bench", "run", "--help"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT), "BENCH_PROG": PROG})
    assert result.returncode == 0, result.stderr
    return result.stdout


def long_options(hidden: bool) -> list[str]:
    return [option for action in build_parser(PROG)._actions if (action.help == argparse.SUPPRESS) == hidden
            for option in action.option_strings if option.startswith("--")]


def test_help_lists_every_option_the_parser_accepts(help_text):
    assert help_text.startswith(f"usage: {PROG}")
    shown = long_options(hidden=False)
    assert {"--vary", "--round-budget", "--resume", "--report"} <= set(shown)
    assert [option for option in shown if option not in help_text] == []
    assert long_options(hidden=True) == ["--tool"]


def test_help_lists_every_profile_and_endpoint_with_its_tables_line(help_text):
    lines = help_text.splitlines()
    for profile in PROFILES.values():
        assert profile.summary and any(line.split()[:1] == [profile.name] and profile.summary in line
                                       for line in lines), profile.name
    for entry in ENDPOINTS.values():
        assert any(line.split()[:1] == [entry.id] and entry.title in line and entry.description in line
                   for line in lines), entry.id
