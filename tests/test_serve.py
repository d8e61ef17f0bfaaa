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


def granian_processes(port: int) -> set[int]:
    """Granian's processes serving this port, found by command line."""
    marker = f"--port {port} "
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                if "bin/granian" in cmdline and marker in cmdline:
                    found.add(int(entry.name))
            except OSError:
                pass
    return found


@pytest.mark.parametrize("use_asgi", ["false", "true"])
def test_serve_limits_and_clean_stop(database, use_asgi):
    port = free_port()
    serve = subprocess.Popen(["scripts/serve.sh", "django", "--port", str(port)], cwd=ROOT,
                             env={**os.environ, "USE_ASGI": use_asgi}, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        banner = serve.stdout.readline()
        stack = "django-asgi" if use_asgi == "true" else "django-wsgi"
        assert banner.startswith(f"serving {stack} ({'ASGINL' if use_asgi == 'true' else 'WSGI'}) "
                                 f"at http://127.0.0.1:{port}/"), banner + serve.stderr.read()
        for part in (f"CPUs {','.join(map(str, database.server_cpus))}", "quota 1 CPU", "memory 2 GiB", "limiter "):
            assert part in banner
        assert httpx.get(f"http://127.0.0.1:{port}/info/").json()["stack"] == stack

        record = json.loads((RUN_DIR / f"server-{port}.json").read_text())
        cgroup_paths = [Path(p) for p in record["cgroup"]["paths"]]
        server_pids = granian_processes(port)
        assert len(server_pids) >= 2  # Granian's main process and its worker
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
    assert granian_processes(port) == set()
    assert not any(path.exists() for path in cgroup_paths)
    assert not (RUN_DIR / f"server-{port}.json").exists()
    assert not port_in_use("127.0.0.1", port)
