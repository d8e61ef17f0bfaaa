"""Start one stack on Granian under its limits: the code behind scripts/serve.sh, and the
same code the bench uses to start servers (so a hand-served stack is the measured one).

The server runs in its own session (process group), pinned by taskset to SERVER_CPUS,
inside a cgroup it joins before exec. Stopping sends SIGTERM to the group, then SIGKILL,
then removes the cgroup: no process and no cgroup outlive a Server.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from lab.app_file import AppFile, app_server_environment, ready_path
from lab.config import ROOT, Settings, format_cpus, is_loopback, load_or_exit
from lab.errors import LabError, guarded
from lab.io_files import prepare_io_dir
from lab.limits import Cgroup, create_cgroup
from lab.log_tail import log_tail
from lab.net import port_in_use
from lab.stacks import STACKS, StackEntry

RUN_DIR = ROOT / "var" / "run"
READY_TIMEOUT_S = 30
STOP_TIMEOUT_S = 10


class ServerDied(LabError, RuntimeError):
    """The server exited; str() carries its exit status and the tail of its log."""


class PortTaken(LabError, RuntimeError):
    """Something already listens on the port; starting would measure the wrong server."""


ALIASES = ("django", "fastapi")  # serve.sh's names: django as USE_ASGI says, fastapi on Granian


def stack_for(name: str, settings: Settings) -> str:
    """A registered stack id, or an alias of one."""
    if name == "django":
        return "django-asgi" if settings.use_asgi else "django-wsgi"
    return name


def _setting(settings: Settings, key: str | None) -> int:
    return int(getattr(settings, key.lower())) if key else 1


@dataclass(frozen=True)
class Served:
    """What a server runs: the stack's app, or an app file's project (lab/app_file.py)."""

    program: list[str]  # the server, e.g. .venv/bin/granian, or the app's python -m granian
    working_dir: str
    target: str  # module:callable


def _gunicorn(spec: StackEntry, settings: Settings, host: str, port: int, workers: int, threads: int,
              served: Served) -> list[str]:
    return ["--worker-class", "gthread", "--workers", str(workers), "--threads", str(threads),
            "--bind", f"{host}:{port}", "--chdir", served.working_dir, "--backlog", "2048", "--keep-alive", "75",
            "--worker-connections", "1000", "--timeout", "120", "--graceful-timeout", "5",
            "--max-requests", "0", "--log-level", "warning", served.target]


def _uvicorn(spec: StackEntry, settings: Settings, host: str, port: int, workers: int, threads: int,
             served: Served) -> list[str]:
    return ["--host", host, "--port", str(port), "--workers", str(workers), "--loop", settings.loop,
            "--http", "httptools", "--ws", "none", "--lifespan", "on" if spec.lifespan else "off",
            "--backlog", "2048", "--timeout-keep-alive", "75", "--no-access-log", "--log-level", "warning",
            "--app-dir", served.working_dir, served.target]


def _granian(spec: StackEntry, settings: Settings, host: str, port: int, workers: int, threads: int,
             served: Served) -> list[str]:
    command = ["--interface", spec.granian_interface or spec.interface, "--host", host,
               "--port", str(port), "--workers", str(workers), "--runtime-threads", str(settings.runtime_threads),
               "--loop", settings.loop, "--http", settings.http, "--no-ws",
               "--backpressure", str(settings.backpressure), "--working-dir", served.working_dir,
               "--log-level", "warning", "--no-access-log"]
    if spec.interface == "wsgi":
        # Idle blocking threads are retired after 30 s by default, abandoning their Django
        # connection; keep them for the longest Granian allows.
        command += ["--blocking-threads", str(threads), "--blocking-threads-idle-timeout", "600"]
    return [*command, served.target]


def served_by_lab(spec: StackEntry) -> Served:
    return Served([str(ROOT / ".venv" / "bin" / spec.server)], str((ROOT / spec.working_dir).resolve()), spec.target)


def served_app(spec: StackEntry, app: AppFile) -> Served:
    """An app file's project on a Django stack's server: the app's own Python runs the server
    (`python -m granian`), in the app's folder, with its WSGI or ASGI target."""
    return Served([str(app.python), "-m", spec.server], str(app.folder), app.wsgi if spec.interface == "wsgi"
                  else app.asgi)


# A server the registry names -> its options (after the binary). A new server is one entry.
SERVER_OPTIONS = {"granian": _granian, "gunicorn": _gunicorn, "uvicorn": _uvicorn}


def server_command(stack: str, settings: Settings, host: str, port: int, app: AppFile | None = None) -> list[str]:
    """Every option of the stack's server that changes results, explicitly (no reliance on
    defaults), pinned to SERVER_CPUS; with `app`, serving that app file's project."""
    spec = STACKS[stack]
    workers, threads = _setting(settings, spec.workers_key), _setting(settings, spec.threads_key)
    served = served_app(spec, app) if app else served_by_lab(spec)
    options = SERVER_OPTIONS[spec.server](spec, settings, host, port, workers, threads, served)
    return ["taskset", "-c", format_cpus(settings.server_cpus), *served.program, *options]


class Server:
    """One stack's server process and cgroup, as a context manager that always cleans up."""

    def __init__(self, stack: str, settings: Settings, *, host: str | None = None, port: int | None = None,
                 log_path: Path | None = None, cgroup_name: str | None = None, extra_env: dict[str, str] | None = None,
                 app: AppFile | None = None):
        self.stack = stack
        self.app = app  # an app file's project instead of the lab's own app (bench --app)
        self.extra_env = extra_env or {}  # settings for the apps over settings.env (a bench variant's)
        self.settings = settings
        self.host = host or settings.server_host
        self.port = port or settings.server_port
        self.log_path = log_path or RUN_DIR / f"{stack}-{self.port}.log"
        self.cgroup_name = cgroup_name or f"{stack}-{self.port}-{os.getpid()}"
        self.command = server_command(stack, settings, self.host, self.port, app)
        self.cgroup: Cgroup | None = None
        self.warning: str | None = None
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        s = self.settings
        if port_in_use(self.host, self.port):
            raise PortTaken(f"port {self.port} on {self.host} is taken by another process; stop it, "
                            "or set SERVER_PORT in settings.env (serve.sh: --port)")
        if not is_loopback(self.host):  # lab/config.py let it through: ALLOW_PUBLIC_BIND=true
            print(f"serve: warning: {self.stack} listens on {self.host} (ALLOW_PUBLIC_BIND=true): its endpoints, "
                  "POST /sync/io/ that writes to the database among them, are open to the network",
                  file=sys.stderr, flush=True)
        self.cgroup, self.warning = create_cgroup(self.cgroup_name, s.server_cpu_quota, s.server_memory)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        spec = STACKS[self.stack]
        if self.app:  # the user's environment and folder, nothing of the lab's
            env, cwd = app_server_environment(self.app), self.app.folder
        else:
            prepare_io_dir(s.io_dir)
            env = {**os.environ, **self.extra_env, "PYTHONPATH": str(ROOT), "LAB_STACK": spec.id,
                   "LAB_SERVER": spec.server, "USE_ASGI": "true" if spec.interface == "asgi" else "false",
                   "LAB_CGROUP": json.dumps(self.cgroup.describe())}
            cwd = ROOT
        with open(self.log_path, "ab") as log:
            try:
                self.process = subprocess.Popen(self.command, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                                preexec_fn=self.cgroup.join_self)
            except BaseException:
                self.cgroup.remove()
                raise

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Poll /ping/ until it answers 200 (an app file's project: its first reading request,
        until it answers at all, whatever the status: the gate judges that); fail fast with
        the log tail if the server dies."""
        path = ready_path(self.app) if self.app else "/ping/"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if self.app:
                if self._answers(path):
                    return
                time.sleep(0.1)
                continue
            try:
                with urllib.request.urlopen(f"{self.url}{path}", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        raise ServerDied(f"{self.stack} did not answer {path} within {timeout:.0f} s; log: {self.log_tail()}")

    def _answers(self, path: str) -> bool:
        """Whether the server answers GET `path` with any HTTP response (no redirect followed)."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=2)
        try:
            connection.request("GET", path)
            connection.getresponse().read()
            return True
        except (OSError, http.client.HTTPException):
            return False
        finally:
            connection.close()

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise ServerDied(f"{self.stack} exited with status {self.process.returncode}; log: {self.log_tail()}")

    def log_tail(self, lines: int = 8) -> str:
        return log_tail(self.log_path, lines)

    def pids(self) -> set[int]:
        """Every process of the server: the cgroup's members, or the process group's."""
        if self.cgroup is not None and self.cgroup.paths():
            return self.cgroup.pids()
        if self.process is None:
            return set()
        pgid = self.process.pid
        found = set()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if os.getpgid(int(entry.name)) == pgid:
                        found.add(int(entry.name))
                except ProcessLookupError:
                    pass
        return found

    def stop(self) -> int | None:
        """SIGTERM the group, SIGKILL what is left, remove the cgroup. Returns the exit status."""
        status = None
        if self.process is not None:
            for sig, wait_s in ((signal.SIGTERM, STOP_TIMEOUT_S), (signal.SIGKILL, STOP_TIMEOUT_S)):
                try:
                    os.killpg(self.process.pid, sig)
                except ProcessLookupError:
                    pass
                deadline = time.monotonic() + wait_s
                while self.pids() and time.monotonic() < deadline:
                    self.process.poll()
                    time.sleep(0.05)
                if not self.pids():
                    break
            status = self.process.wait()
            self.process = None
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None
        return status

    def describe(self) -> dict:
        s = self.settings
        return {"stack": self.stack, "url": self.url, "command": self.command,
                "cpus": format_cpus(s.server_cpus), "cpu_quota": s.server_cpu_quota,
                "memory_bytes": s.server_memory,
                "cgroup": self.cgroup.describe() if self.cgroup else None,
                "pid": self.process.pid if self.process else None}

    def banner(self) -> str:
        s = self.settings
        spec = STACKS[self.stack]
        limiter = self.cgroup.limiter if self.cgroup else "none"
        return (f"serving {self.stack} ({spec.interface.upper()} on {spec.server}) at {self.url}/ "
                f"| CPUs {format_cpus(s.server_cpus)} "
                f"| quota {s.server_cpu_quota:g} CPU | memory {s.server_memory / 1024**3:g} GiB | limiter {limiter}")


def _raise_exit(signum, frame):
    raise SystemExit(128 + signum)


def registry_lines() -> list[str]:
    """`scripts/serve.sh --list`: one line per registered stack."""
    return [f"{s.id:22} {s.label} ({s.interface.upper()} on {s.server}), "
            f"serves {' '.join(s.endpoints) or 'every endpoint'}" for s in STACKS.values()]


def main(argv: list[str]) -> int:
    if argv == ["--list"]:
        print("\n".join(registry_lines()))
        return 0
    parser = argparse.ArgumentParser(prog="scripts/serve.sh", description="Serve one stack by hand under its limits.")
    parser.add_argument("stack", help=f"a registered stack ({', '.join(STACKS)}), or django (WSGI or ASGI as "
                                      "USE_ASGI says) or fastapi")
    parser.add_argument("--port", type=int, help="default: SERVER_PORT from settings.env")
    args = parser.parse_args(argv)
    if args.stack not in STACKS and args.stack not in ALIASES:
        print(f"serve: stack {args.stack!r} is not allowed: one of {', '.join(STACKS)} (or django, fastapi)",
              file=sys.stderr)
        return 2
    settings = load_or_exit()
    if args.port is not None and not 1024 <= args.port <= 65535:
        print(f"serve: --port {args.port} is not allowed: a port from 1024 to 65535", file=sys.stderr)
        return 2
    server = Server(stack_for(args.stack, settings), settings, port=args.port)
    record = RUN_DIR / f"server-{server.port}.json"
    signal.signal(signal.SIGTERM, _raise_exit)
    # Started in the background by a non-interactive shell, SIGINT arrives ignored and
    # Python installs no handler: `kill -INT` must stop the server all the same.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        server.start()
        if server.warning:
            print(server.warning, file=sys.stderr)
        record.write_text(json.dumps(server.describe(), indent=1))
        server.wait_ready()
        print(server.banner(), flush=True)
        print(f"log: {server.log_path}  (Ctrl-C stops the server)", flush=True)
        while True:
            server.check_alive()
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 130
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 1
    except (ServerDied, PortTaken) as error:
        print(f"serve: {error}", file=sys.stderr)
        return 1
    finally:
        server.stop()
        record.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(guarded("serve", main, sys.argv[1:]))
