"""What the report modules share: each saved run (fixtures/runs/) copied to tmp and reported
on once per session (report.md, report.html, charts, screenshot), read by test_report.py
and opened in Chromium by test_report_html.py."""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

import pytest
from saved_runs import RUN_DIRS

from bench.analysis.report import report


@pytest.fixture(scope="session", params=RUN_DIRS, ids=[p.name for p in RUN_DIRS])
def reported(request, tmp_path_factory) -> tuple[Path, str, str]:
    """A real run copied to tmp and reported on: the copy, its report.md, what main printed."""
    run_dir = tmp_path_factory.mktemp("run") / request.param.name
    shutil.copytree(request.param, run_dir)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert report.main([str(run_dir)]) == 0
    return run_dir, (run_dir / "report.md").read_text(), printed.getvalue()
