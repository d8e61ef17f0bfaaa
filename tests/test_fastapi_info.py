"""/info/ says what the FastAPI server really runs: the driver read from its live pool, the
pool size and sync threads from settings.env. And the driver pin holds even where asyncmy
is importable, which Tortoise would otherwise pick without a word (docs/design.md,
Tortoise driver and pool defaults)."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest

from lab.config import ROOT, load
from lab.net import free_port
from lab.serve import Server

# Just enough of an asyncmy package for tortoise.backends.mysql.client to import it.
FAKE_ASYNCMY = {
    "__init__.py": "",
    "errors.py": "",
    "charset.py": "def charset_by_name(name):\n    return None\n",
    "constants.py": "COMMAND = None\n",
}
BOUND_DRIVER = "from tortoise.backends.mysql import client; print(client.mysql.__name__)"


def get_info(server: Server) -> dict:
    response = httpx.get(f"{server.url}/info/", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-length"] == str(len(response.content))
    return response.json()


def test_info_names_the_live_driver_and_settings(start_server, database):
    info = get_info(start_server("fastapi"))
    assert (info["stack"], info["framework"], info["interface"], info["server"]) == (
        "fastapi", "fastapi", "asgi", "granian")
    assert info["db_driver"] == "aiomysql"
    assert info["sync_db_driver"] == "mysqlclient"
    assert info["versions"]["aiomysql"] == version("aiomysql")
    assert info["versions"]["tortoise-orm"] == version("tortoise-orm")
    s = info["settings"]
    assert s["pool"]["class"] == "aiomysql.pool.Pool"
    assert s["pool"]["minsize"] == s["pool"]["maxsize"] == s["pool_size"] == database.fastapi_pool_size
    assert s["sync_threads"] == database.fastapi_sync_threads
    assert s["loop"] == database.loop
    assert s["running_loop"].startswith(f"{database.loop}.")
    assert s["middleware"] == []


def test_info_follows_settings(database, monkeypatch, tmp_path):
    """Other values in the environment (which overrides settings.env) reach the live pool
    and the thread limiter: the numbers are read back, not echoed."""
    monkeypatch.setenv("FASTAPI_POOL_SIZE", "3")
    monkeypatch.setenv("FASTAPI_SYNC_THREADS", "2")
    with Server("fastapi", load(), port=free_port(), log_path=tmp_path / "fastapi.log") as server:
        server.wait_ready()
        s = get_info(server)["settings"]
    assert (s["pool"]["minsize"], s["pool"]["maxsize"], s["pool_size"], s["sync_threads"]) == (3, 3, 3, 2)


@pytest.fixture
def fake_asyncmy(tmp_path: Path) -> dict[str, str]:
    """An environment in which `import asyncmy` succeeds."""
    package = tmp_path / "asyncmy"
    package.mkdir()
    for name, text in FAKE_ASYNCMY.items():
        (package / name).write_text(text)
    return {"PYTHONPATH": f"{tmp_path}:{ROOT}", "PATH": "/usr/bin:/bin"}


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=60)


def test_tortoise_alone_would_pick_asyncmy(fake_asyncmy):
    """The control: without the pin, the fake asyncmy wins silently."""
    result = run_python(BOUND_DRIVER, fake_asyncmy)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "asyncmy"


def test_engine_pins_aiomysql_when_asyncmy_is_importable(fake_asyncmy):
    result = run_python(f"import fastapi_service.aiomysql_engine; {BOUND_DRIVER}", fake_asyncmy)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "aiomysql"


def test_engine_refuses_a_backend_already_bound_to_asyncmy(fake_asyncmy):
    result = run_python(f"{BOUND_DRIVER}; import fastapi_service.aiomysql_engine", fake_asyncmy)
    assert result.returncode != 0
    assert "bound to asyncmy, not aiomysql" in result.stderr
