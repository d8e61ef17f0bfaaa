"""The metadata block of run.json, one small collect_* function per source (after
pyperf's _collect_metadata): what a reader needs to judge and reproduce a run."""

from __future__ import annotations

import platform
import socket
import subprocess
from importlib import metadata as importlib_metadata

from bench.driver.dbprobe import DbProbe
from bench.load_tools import TOOLS
from lab.config import ROOT, Settings, available_cpus, format_cpus, is_loopback

PACKAGES = ("django", "granian", "gunicorn", "uvicorn", "httptools", "fastapi", "starlette", "tortoise-orm",
            "aiomysql", "pymysql", "mysqlclient", "psycopg", "psycopg-binary", "psycopg-pool", "asyncpg",
            "uvloop", "jinja2", "aiofiles", "asgiref")


def _first_line(command: list[str]) -> str:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except OSError as error:
        return f"unavailable ({error.strerror})"
    return ((result.stdout or result.stderr).strip().splitlines() or ["unknown"])[0]


def collect_machine() -> dict:
    model = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        os_name = next(line.split("=", 1)[1].strip().strip('"') for line in open("/etc/os-release")
                       if line.startswith("PRETTY_NAME="))
    except (OSError, StopIteration):
        os_name = "unknown"
    return {"host": socket.gethostname(), "cpu_model": model, "cpu_count": len(available_cpus()),
            "kernel": platform.release(), "os": os_name}


def collect_versions() -> dict:
    packages = {}
    for name in PACKAGES:
        try:
            packages[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            packages[name] = None
    return {"python": platform.python_version(), "packages": packages,
            "tools": collect_tools()}


def collect_tools() -> dict:
    """Every known tool's version, then what each says its figures are (its notes)."""
    versions = {str(tool.id): _first_line(list(tool.version_command)) for tool in TOOLS.values()}
    return {**versions, **{key: note for tool in TOOLS.values() for key, note in tool.notes.items()}}


def collect_git() -> str:
    sha = _first_line(["git", "-C", str(ROOT), "rev-parse", "HEAD"])
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return f"{sha}{' (uncommitted changes)' if dirty else ''}"


def collect_placement(settings: Settings) -> dict:
    server, client, database = set(settings.server_cpus), set(settings.client_cpus), set(settings.db_cpus)
    return {"server_cpus": format_cpus(server), "server_cpu_quota": settings.server_cpu_quota,
            "server_memory_bytes": settings.server_memory, "client_cpus": format_cpus(client),
            "db_cpus": format_cpus(database), "server_shares_cpus_with_client": bool(server & client),
            "server_shares_cpus_with_db": bool(server & database)}


def collect_database(settings: Settings, probe: DbProbe) -> dict:
    return {"engine": settings.database.engine, "private": settings.database.private, "host": settings.database.host,
            "port": settings.database.port, **probe.variables()}


def collect_metadata(settings: Settings, probe: DbProbe | None) -> dict:
    """No probe: an app file's run, whose database the lab does not read (run.json `app`)."""
    database = collect_database(settings, probe) if probe else {"lab_database": False}
    return {**collect_machine(), **collect_versions(), "git_sha": collect_git(),
            "placement": collect_placement(settings), "limiter": None,
            "database": database, "settings": settings.record(),
            "public_bind": None if is_loopback(settings.server_host) else settings.server_host}
