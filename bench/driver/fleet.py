"""The servers of a run: every stack's server up for the whole run, each in its own
cgroup on SERVER_CPUS, only one under load at a time (or one server started elsewhere,
for `--url`). Stopping always stops them all, however the run ends."""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from bench.driver.drain import Watched
from bench.driver.sampling import process_cpu_s
from lab.config import Settings
from lab.limits import Cgroup, CgroupV1, CgroupV2, Limiter
from lab.net import free_port
from lab.serve import RUN_DIR, PortTaken, Server, ServerDied


class ExternalServer:
    """A server started elsewhere (`--url`), e.g. by scripts/serve.sh: measured, never
    started or stopped; its cgroup is sampled when serve.sh recorded one."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")
        self.port = urlsplit(self.url).port or 80
        record_path = RUN_DIR / f"server-{self.port}.json"
        self.record = json.loads(record_path.read_text()) if record_path.exists() else None
        self.cgroup = _cgroup_from_record(self.record["cgroup"]) if self.record else None
        self.command = self.record["command"] if self.record else None
        self.stack = self.info()["stack"]
        self.warning = None

    def info(self) -> dict:
        with urllib.request.urlopen(f"{self.url}/info/", timeout=10) as response:
            return json.load(response)

    def start(self) -> None:
        """Not ours to start."""

    def wait_ready(self) -> None:
        self.info()

    def stop(self) -> None:
        """Not ours to stop."""

    def check_alive(self) -> None:
        """A foreign server is not ours to watch: its failures show up as tool errors."""

    def pids(self) -> set[int]:
        return self.cgroup.pids() if self.cgroup else set()


def _cgroup_from_record(record: dict | None) -> Cgroup | None:
    if not record or record["limiter"] == Limiter.TASKSET:
        return None
    kind = CgroupV2 if record["limiter"] == Limiter.CGROUP_V2 else CgroupV1
    group = kind(Path(record["paths"][0]).name)
    return group if all(Path(p).exists() for p in group.paths()) else None


def server_cpu_s(server: Server | ExternalServer) -> float | None:
    """Cumulative CPU seconds of one server: its cgroup's counter, else its processes'."""
    usage = server.cgroup.usage() if server.cgroup else None
    if usage:
        return usage.cpu_ns / 1e9
    pids = server.pids()
    return process_cpu_s(pids) if pids else None


class Fleet:
    def __init__(self, stacks: tuple[str, ...], settings: Settings, run_dir: Path, run_id: str,
                 url: str | None = None):
        self.settings = settings
        if url:
            external = ExternalServer(url)
            self.servers: dict[str, Server | ExternalServer] = {external.stack: external}
        else:
            self.servers = {stack: Server(stack, settings, port=free_port(), log_path=run_dir / "logs" / f"{stack}.log",
                                          cgroup_name=f"bench-{run_id}-{stack}") for stack in stacks}

    def start(self) -> dict[str, str]:
        """Start every server and wait until each answers; returns why each that could not
        start did not (that one is stopped; the others go on)."""
        failed = {}
        for stack, server in self.servers.items():
            try:
                server.start()
            except (ServerDied, PortTaken) as error:
                failed[stack] = str(error)
                continue
            if server.warning:
                print(server.warning, file=sys.stderr)
        for stack, server in self.servers.items():
            if stack not in failed:
                try:
                    server.wait_ready()
                except ServerDied as error:
                    failed[stack] = str(error)
                    server.stop()
        return failed

    def limiter(self) -> str:
        limiters = {str(s.cgroup.limiter) for s in self.servers.values() if s.cgroup}
        return ", ".join(sorted(limiters)) or "unknown (--url, no cgroup recorded)"

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()

    def watched(self) -> list[Watched]:
        quota = self.settings.server_cpu_quota
        return [Watched(s.port, lambda s=s: server_cpu_s(s), quota) for s in self.servers.values()]

    def cpu_s(self) -> float:
        """CPU seconds of every server together (the lab's share of SERVER_CPUS)."""
        return sum(server_cpu_s(s) or 0.0 for s in self.servers.values())
