"""Bad settings stop the FastAPI service before anything runs: one line naming the key and
value, exit status 2, and nothing started (no Granian process, no cgroup, no listener)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab.config import ROOT, USAGE_ERROR
from lab.limits import CGROUP_ROOT, GROUP_PARENT, Limiter
from lab.net import free_port, port_in_use
from lab.serve import Server

BAD_VALUES = [
    ("FASTAPI_POOL_SIZE", "0"),
    ("FASTAPI_POOL_SIZE", "abc"),
    ("FASTAPI_POOL_SIZE", "513"),
    ("FASTAPI_SYNC_THREADS", "0"),
    ("FASTAPI_SYNC_THREADS", "-4"),
    ("FASTAPI_WORKERS", "many"),
]


def run(command: list[str], key: str, value: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), key: value}
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)


def assert_one_line_exit_2(result: subprocess.CompletedProcess, key: str, value: str) -> None:
    assert result.returncode == USAGE_ERROR
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"{key}={value!r}" in lines[0]


def cgroups_for_port(port: int) -> list[Path]:
    """lab.serve's cgroups for a FastAPI server on this port: under each controller (v1)
    or directly under the root (v2). Named by port, so other people's servers don't count."""
    pattern = f"{GROUP_PARENT}/fastapi-{port}-*"
    return sorted([*CGROUP_ROOT.glob(f"*/{pattern}"), *CGROUP_ROOT.glob(pattern)])


def granian_on_port(port: int) -> list[int]:
    """Processes whose command line is a Granian server on this port."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0") if entry.name.isdigit() else []
        except OSError:
            continue
        if any(b"granian" in arg for arg in argv) and str(port).encode() in argv:
            found.append(int(entry.name))
    return found


@pytest.mark.parametrize(("key", "value"), BAD_VALUES)
def test_import_exits_2(key, value):
    result = run([sys.executable, "-c", "import fastapi_service.main"], key, value)
    assert_one_line_exit_2(result, key, value)


@pytest.mark.parametrize(("key", "value"), BAD_VALUES)
def test_serve_exits_2_and_starts_nothing(key, value):
    port = free_port()
    result = run([str(ROOT / "scripts" / "serve.sh"), "fastapi", "--port", str(port)], key, value)
    assert_one_line_exit_2(result, key, value)
    assert granian_on_port(port) == []
    assert cgroups_for_port(port) == []
    assert not port_in_use("127.0.0.1", port)


def test_the_checks_see_a_running_server(database, tmp_path):
    """The control: the same checks do find a FastAPI server started on a port."""
    port = free_port()
    with Server("fastapi", database, port=port, log_path=tmp_path / "fastapi.log") as server:
        server.wait_ready()
        assert granian_on_port(port)
        assert cgroups_for_port(port) or server.cgroup.limiter == Limiter.TASKSET
        assert port_in_use("127.0.0.1", port)
    assert granian_on_port(port) == []
    assert cgroups_for_port(port) == []
