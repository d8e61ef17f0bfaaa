"""scripts/serve.sh: every server process inside the cgroup with the configured limits,
pinned to SERVER_CPUS; SIGTERM leaves no process and no cgroup."""

import json
import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from lab.config import ROOT
from lab.net import free_port, port_in_use
from lab.serve import RUN_DIR
from lab.stacks import STACKS


def test_an_unknown_stack_is_one_line_listing_the_registered_ones():
    result = subprocess.run(["scripts/serve.sh", "flask"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    allowed = f"one of {', '.join(STACKS)} (or django, fastapi)"
    assert result.stderr.strip() == f"serve: stack 'flask' is not allowed: {allowed}"


def alive(pids: set[int]) -> set[int]:
    found = set()
    for pid in pids:
        try:
            os.kill(pid, 0)
            found.add(pid)
        except ProcessLookupError:
            pass
    return found


CASES = [(name, {}, name) for name in STACKS] + [("django", {"USE_ASGI": "true"}, "django-asgi"),
                                                 ("django", {"USE_ASGI": "false"}, "django-wsgi")]


@pytest.mark.parametrize(("name", "env", "stack"), CASES, ids=[f"{n}-{s}" for n, _, s in CASES])
def test_serve_limits_and_clean_stop(database, name, env, stack):
    """Every registered stack (and the django alias) served by hand: banner, /info/ naming
    the stack and its server, every process pinned and inside the limited cgroup, and a
    SIGTERM that leaves nothing behind."""
    port = free_port()
    spec = STACKS[stack]
    serve = subprocess.Popen(["scripts/serve.sh", name, "--port", str(port)], cwd=ROOT,
                             env={**os.environ, **env}, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        banner = serve.stdout.readline()
        assert banner.startswith(f"serving {stack} ({spec.interface.upper()} on {spec.server}) "
                                 f"at http://127.0.0.1:{port}/"), banner + serve.stderr.read()
        for part in (f"CPUs {','.join(map(str, database.server_cpus))}", "quota 1 CPU", "memory 2 GiB", "limiter "):
            assert part in banner
        info = httpx.get(f"http://127.0.0.1:{port}/info/").json()
        assert (info["stack"], info["server"], info["interface"]) == (stack, spec.server, spec.interface)
        assert httpx.get(f"http://127.0.0.1:{port}/ping/").text == "pong"

        record = json.loads((RUN_DIR / f"server-{port}.json").read_text())
        cgroup_paths = [Path(p) for p in record["cgroup"]["paths"]]
        server_pids = {int(p) for p in (cgroup_paths[0] / "cgroup.procs").read_text().split()}
        commands = [Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode() for pid in server_pids]
        assert any(f"bin/{spec.server} " in c and str(port) in c for c in commands), commands  # the server itself
        for pid in server_pids:
            assert os.sched_getaffinity(pid) == set(database.server_cpus)
        if record["cgroup"]["limiter"] == "cgroup-v1":
            cpu, memory = (next(p for p in cgroup_paths if f"/{kind}/" in str(p)) for kind in ("cpu", "memory"))
            quota = int((cpu / "cpu.cfs_quota_us").read_text()) / int((cpu / "cpu.cfs_period_us").read_text())
            assert quota == database.server_cpu_quota
            assert int((memory / "memory.limit_in_bytes").read_text()) == database.server_memory
        elif record["cgroup"]["limiter"] == "cgroup-v2":
            quota, period = (cgroup_paths[0] / "cpu.max").read_text().split()
            assert int(quota) / int(period) == database.server_cpu_quota
            assert int((cgroup_paths[0] / "memory.max").read_text()) == database.server_memory
        else:
            pytest.fail(f"no cgroup could be written on this machine: {record['cgroup']}")
        for path in cgroup_paths:
            assert server_pids <= {int(p) for p in (path / "cgroup.procs").read_text().split()}
    finally:
        serve.send_signal(signal.SIGTERM)
        status = serve.wait(timeout=30)
    assert status == 128 + signal.SIGTERM
    assert alive(server_pids) == set()
    assert not any(path.exists() for path in cgroup_paths)
    assert not (RUN_DIR / f"server-{port}.json").exists()
    assert not port_in_use("127.0.0.1", port)
