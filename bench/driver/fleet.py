"""The servers of a run: every stack's server up for the whole run, each in its own
cgroup on SERVER_CPUS, only one under load at a time (or one server started elsewhere,
for `--url`). Stopping always stops them all, however the run ends."""

from __future__ import annotations

import json
import re
import sys
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from bench.driver.drain import Watched
from bench.driver.relay_process import RelayProcess
from bench.driver.sampling import process_cpu_s
from bench.driver.variants import split_unit, variant_of
from lab.app_file import AppFile
from lab.config import Settings
from lab.limits import Cgroup, CgroupV1, CgroupV2, Limiter
from lab.net import free_port
from lab.serve import RUN_DIR, PortTaken, Server, ServerDied

# What a stack id looks like (lab/stacks.py: django-wsgi, raw-asgi-uvicorn): a --url
# server's own label must too, since it names folders of the run (raw/<tool>/<stack>/).
STACK_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
STACK_ID_RULE = "1 to 64 of a-z, 0-9, - and _, not starting with - or _, e.g. django-wsgi"


def served_stack(info: object) -> str:
    """The `stack` of a served /info/, or ValueError: a label like `../x` would write
    outside the run folder."""
    label = info.get("stack") if isinstance(info, dict) else None
    if not isinstance(label, str) or not STACK_ID.fullmatch(label):
        raise ValueError(f"stack {label!r} is not allowed: {STACK_ID_RULE}")
    return label


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
        self.stack = served_stack(self.info())
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


def _safe_name(unit: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "-", unit)


class Fleet:
    """The servers by unit (bench/driver/variants.py): a stack, or a stack with a variant's
    settings; behind the latency relay when its DB_LATENCY_MS is above 0."""

    def __init__(self, units: dict[str, Settings], settings: Settings, run_dir: Path, run_id: str,
                 url: str | None = None, relays: dict[str, RelayProcess] | None = None,
                 app: AppFile | None = None):
        """`units`: each unit with its settings (bench/driver/variants.py unit_settings); `relays`:
        the latency relay of each database engine; `app`: an app file's project, served by each
        unit's stack instead of the lab's own app."""
        self.settings = settings
        self.latency_ms: dict[str, float] = {}
        if url:
            external = ExternalServer(url)
            self.servers: dict[str, Server | ExternalServer] = {external.stack: external}
            self.latency_ms[external.stack] = settings.db_latency_ms
            return
        self.servers = {}
        for unit, unit_settings in units.items():
            stack, label = split_unit(unit)
            env = dict(variant_of(label).overrides)
            if unit_settings.db_latency_ms > 0:
                relay = (relays or {}).get(unit_settings.database.engine)
                if relay is None:
                    raise ValueError(f"{unit}: DB_LATENCY_MS {unit_settings.db_latency_ms:g} needs the relay")
                env["LAB_DB_VIA"] = relay.address(unit_settings.db_latency_ms)
            self.latency_ms[unit] = unit_settings.db_latency_ms
            self.servers[unit] = Server(stack, unit_settings, port=free_port(),
                                        log_path=run_dir / "logs" / f"{_safe_name(unit)}.log",
                                        cgroup_name=f"bench-{run_id}-{_safe_name(unit)}", extra_env=env, app=app)

    def start(self) -> dict[str, str]:
        """Start every server, one after the other, each until it answers (they share
        SERVER_CPUS: a sweep's dozen Django start-ups at once would starve each other past
        the ready timeout); returns why each that could not start did not (that one is
        stopped; the others go on)."""
        failed, warned = {}, set()
        for unit, server in self.servers.items():
            try:
                server.start()
                if server.warning and server.warning not in warned:
                    print(server.warning, file=sys.stderr)
                    warned.add(server.warning)
                server.wait_ready()
            except (ServerDied, PortTaken) as error:
                failed[unit] = str(error)
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
