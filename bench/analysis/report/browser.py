"""Headless Chromium for the report: `report.png`, what a reader sees of report.html before
scrolling on a 1366x768 laptop screen, kept with the run. Optional: without a chromium
binary the report is complete and the screenshot is skipped with a note.

Chromium runs with no network services, no GPU and a throw-away profile, in a process
group of its own, so the helpers it forks (zygote, renderer) end with it, also when it
hangs and is killed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from lab.errors import LabError

CHROMIUM_NAMES = ("chromium", "chromium-browser")
SCREEN = (1366, 768)
TIMEOUT_S = 90
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         "--force-device-scale-factor=1", f"--window-size={SCREEN[0]},{SCREEN[1]}")


class BrowserError(LabError):
    """Chromium is missing, failed or hung; the message is one line."""


def find_chromium() -> str | None:
    return next(filter(None, (shutil.which(name) for name in CHROMIUM_NAMES)), None)


def _end_group(process: subprocess.Popen) -> None:
    """SIGKILL what is left of the group Chromium leads (nothing, when it exited cleanly)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def run_headless(page: Path, *extra: str, timeout: float = TIMEOUT_S) -> str:
    """Open `page` in headless Chromium at the screen size with `extra` flags (e.g.
    --dump-dom); returns its stdout."""
    binary = find_chromium()
    if binary is None:
        raise BrowserError(f"no {' or '.join(CHROMIUM_NAMES)} on PATH (scripts/setup.sh installs Debian's chromium)")
    with tempfile.TemporaryDirectory(prefix="lab-chromium-") as profile:
        command = [binary, *FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   start_new_session=True)
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _end_group(process)
            process.communicate()
            raise BrowserError(f"chromium did not finish within {timeout:g} s") from None
        _end_group(process)
    if process.returncode != 0:
        last = (err.strip().splitlines() or ["no output"])[-1]
        raise BrowserError(f"chromium exited with {process.returncode}: {last}")
    return out


def screenshot(page: Path, png: Path) -> Path:
    """The first screen of `page` as a PNG of exactly SCREEN pixels."""
    png.unlink(missing_ok=True)
    run_headless(page, f"--screenshot={png.resolve()}")
    if not png.exists():
        raise BrowserError("chromium exited cleanly but wrote no screenshot")
    return png
