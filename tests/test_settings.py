"""Bad settings values: one line naming the key, the value and what is allowed; exit 2;
nothing started (no server, no cgroup, no database)."""

import os
import subprocess

import pytest

from lab.config import ROOT
from lab.limits import CGROUP_ROOT, GROUP_PARENT
from lab.net import free_port, port_in_use

BAD_VALUES = [
    ("USE_ASGI", "maybe", "true or false"),
    ("SERVER_CPUS", "7", "CPU list"),
    ("CLIENT_CPUS", "0-99", "CPU list"),
    ("SERVER_CPU_QUOTA", "0", "number of CPUs"),
    ("SERVER_CPU_QUOTA", "abc", "number of CPUs"),
    ("SERVER_MEMORY", "lots", "size"),
    ("DATABASE_URL", "postgres://h/db", "mysql://"),
    ("DATABASE_URL", "mysql://h/my-db", "mysql://"),
    ("SERVER_HOST", "0.0.0.0", "loopback"),
    ("IO_DIR", "/", "a folder the lab makes"),
    ("DB_READ_TIMEOUT_S", "0", "whole number"),
    ("DATABASE_URL", "mysql://h:notaport/db", "mysql://"),
    ("DJANGO_WSGI_BLOCKING_THREADS", "0", "whole number"),
    ("DJANGO_CONN_MAX_AGE_ASGI", "60", "0 only"),
    ("SERVER_LOOP", "auto", "asyncio or uvloop"),
    ("DB_ENGINE", "oracle", "mariadb or postgresql"),
    ("DJANGO_DB_POOL", "true", "false on MariaDB"),
]


def lab_cgroups() -> set[str]:
    found = set()
    for hierarchy in (CGROUP_ROOT / "cpu" / GROUP_PARENT, CGROUP_ROOT / GROUP_PARENT):
        if hierarchy.is_dir():
            found |= {p.name for p in hierarchy.iterdir() if p.is_dir()}
    return found


@pytest.mark.parametrize(("key", "value", "allowed"), BAD_VALUES)
@pytest.mark.parametrize("command", [["scripts/serve.sh", "django"], ["scripts/db.sh", "status"]])
def test_bad_value_exits_2_with_one_line(key, value, allowed, command):
    port = free_port()
    groups_before = lab_cgroups()
    result = subprocess.run([*command, *(["--port", str(port)] if "serve" in command[0] else [])],
                            cwd=ROOT, env={**os.environ, key: value}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert key in lines[0] and repr(value) in lines[0] and allowed in lines[0]
    assert result.stdout == ""
    assert not port_in_use("127.0.0.1", port)
    assert lab_cgroups() == groups_before


def test_bad_serve_arguments_exit_2():
    for args in (["nginx"], [], ["django", "--port", "80"]):
        result = subprocess.run(["scripts/serve.sh", *args], cwd=ROOT, capture_output=True, text=True)
        assert result.returncode == 2, (args, result.stderr)
