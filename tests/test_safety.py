"""The lab owns what it creates and touches nothing else (docs/design.md, What the lab
touches): IO_DIR, SERVER_HOST and secrets, tried as a user would, on real files,
real processes and the real scripts."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from lab import config, mariadb
from lab.config import IO_DIR_MARK, ROOT
from lab.io_files import prepare_io_dir, remove_io_files
from lab.net import free_port, port_in_use


def repo_files() -> set[str]:
    return {p.name for p in ROOT.iterdir()}


def run_bench(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bench/run_wrk.sh", "--stacks", "django-wsgi", "--profile", "smoke", *args], cwd=ROOT,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("io_dir", ["", ".", "/", "/tmp", str(Path.home()), "var", "project", ".."])
def test_an_io_dir_that_is_not_the_labs_own_is_refused_and_nothing_is_deleted(io_dir, tmp_path):
    before = repo_files()
    result = run_bench({"IO_DIR": io_dir}, "--out", str(tmp_path / "results"))
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"settings: IO_DIR={io_dir!r} is not allowed: a folder the lab makes")
    assert repo_files() == before
    assert not (tmp_path / "results").exists()


def test_a_users_existing_folder_is_refused_and_its_file_kept(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    (folder / "io-1-" f"{'a' * 32}.json").write_text("{}")  # even a name like the workload's
    result = run_bench({"IO_DIR": str(folder)}, "--out", str(tmp_path / "results"))
    assert result.returncode == 2 and "IO_DIR" in result.stderr, result.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["io-1-" + "a" * 32 + ".json", "notes.txt"]


def test_only_the_workloads_files_go_and_only_from_a_folder_the_lab_marked(tmp_path):
    io_dir = tmp_path / "io"
    io_file = f"io-{os.getpid()}-{'b' * 32}.json"
    prepare_io_dir(io_dir)
    for name in (io_file, "notes.txt", "io-notes.json", "io-1-abc.json"):
        (io_dir / name).write_text("x")
    (io_dir / "io-2-" f"{'c' * 32}.json").mkdir()  # a folder of that name is not the workload's
    assert remove_io_files(io_dir) == 1
    assert sorted(p.name for p in io_dir.iterdir()) == sorted([IO_DIR_MARK, "notes.txt", "io-notes.json",
                                                               "io-1-abc.json", "io-2-" + "c" * 32 + ".json"])
    (io_dir / io_file).write_text("x")
    (io_dir / IO_DIR_MARK).unlink()  # no longer marked as the lab's: nothing is touched
    assert remove_io_files(io_dir) == 0 and (io_dir / io_file).exists()
    # once made and marked, the folder is accepted again by the settings
    prepare_io_dir(io_dir)
    assert config.load({"IO_DIR": str(io_dir)}).io_dir == io_dir.resolve()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1", "localhost.lab.invalid", "::"])
def test_a_public_server_host_is_refused(host):
    port = free_port()
    result = subprocess.run(["scripts/serve.sh", "raw-wsgi", "--port", str(port)], cwd=ROOT, capture_output=True,
                            text=True, env={**os.environ, "SERVER_HOST": host}, timeout=30)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"settings: SERVER_HOST={host!r} is not allowed: a loopback address")
    assert "ALLOW_PUBLIC_BIND=true" in line
    assert not port_in_use("127.0.0.1", port)


def test_a_public_bind_said_explicitly_serves_with_a_warning():
    port = free_port()
    serve = subprocess.Popen(["scripts/serve.sh", "raw-wsgi", "--port", str(port)], cwd=ROOT,
                             env={**os.environ, "SERVER_HOST": "0.0.0.0", "ALLOW_PUBLIC_BIND": "true"},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        warning = serve.stderr.readline()
        assert "warning: raw-wsgi listens on 0.0.0.0 (ALLOW_PUBLIC_BIND=true)" in warning
        assert "0.0.0.0" in serve.stdout.readline()
        assert httpx.get(f"http://127.0.0.1:{port}/ping/", timeout=10).text == "pong"
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=30)
    assert config.load({"SERVER_HOST": "0.0.0.0", "ALLOW_PUBLIC_BIND": "true"}).record()["allow_public_bind"]


SECRET_WRITER = """
import sys
from pathlib import Path
import lab.config as c
c.VAR_DIR = Path(sys.argv[1])
print(c.generated_secret("db_password"))
"""


def test_secret_files_are_made_once_when_processes_race(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writers = [subprocess.Popen([sys.executable, "-c", SECRET_WRITER, str(tmp_path)], env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(8)]
    outputs = [w.communicate(timeout=60) for w in writers]
    assert all(w.returncode == 0 for w in writers), [err for _, err in outputs]
    values = {out.strip() for out, _ in outputs}
    assert len(values) == 1 and len(values.pop()) >= 40
    assert [p.name for p in tmp_path.iterdir()] == ["db_password"]  # no temporary file left
    assert (tmp_path / "db_password").stat().st_mode & 0o077 == 0


def test_an_empty_secret_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "VAR_DIR", tmp_path)
    (tmp_path / "db_password").write_text("\n")
    with pytest.raises(config.ConfigError, match="var/db_password='' is not allowed: a non-empty secret"):
        config.generated_secret("db_password")


def test_no_repr_or_error_carries_the_password():
    secret = "s3cr#t/pa?ss"
    settings = config.load({"DATABASE_URL": "mysql://me:s3cr%23t%2Fpa%3Fss@127.0.0.1:3306/mine"})
    assert settings.database.password == secret
    assert secret not in repr(settings) and secret not in repr(settings.database)
    assert secret not in str(settings.record()) and settings.secret_key not in repr(settings)
    # unencoded: the URL cannot be parsed, and its message shows no part of the password
    result = subprocess.run(["scripts/db.sh", "status"], cwd=ROOT, capture_output=True, text=True, timeout=30,
                            env={**os.environ, "DATABASE_URL": f"mysql://me:{secret}@127.0.0.1:3306/mine"})
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("settings: DATABASE_URL='mysql://me:***@127.0.0.1:3306/mine' is not allowed: ")
    assert "s3cr" not in result.stderr and "pa?ss" not in result.stderr


DEBUG_PAGE = """
import sys
import django
from django.conf import settings
from django.test import RequestFactory
from django.views.debug import ExceptionReporter
django.setup()
try:
    raise RuntimeError("boom")
except RuntimeError:
    page = ExceptionReporter(RequestFactory().get("/"), *sys.exc_info()).get_traceback_html()
print("LAB" in page, settings.DATABASES["default"]["PASSWORD"] in page, settings.SECRET_KEY in page)
"""


def test_djangos_debug_page_shows_no_secret():
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'project'}", "DJANGO_SETTINGS_MODULE": "project.settings",
           "DEBUG": "true"}
    result = subprocess.run([sys.executable, "-c", DEBUG_PAGE], env=env, capture_output=True, text=True,
                            cwd=ROOT / "project", timeout=60)
    assert result.stdout.split() == ["True", "False", "False"], result.stderr


def test_db_stop_never_signals_a_process_a_stale_pid_file_names(tmp_path, monkeypatch):
    other = subprocess.Popen(["sleep", "30"])
    try:
        pid_file = tmp_path / "mariadbd.pid"
        pid_file.write_text(f"{other.pid}\n")
        monkeypatch.setattr(mariadb, "PID_FILE", pid_file)
        assert mariadb.running_pid() is None
        mariadb.stop()
        assert other.poll() is None  # still running: never signalled
    finally:
        other.kill()
        other.wait()


def test_the_running_private_server_is_recognised(database):
    pid = mariadb.running_pid()
    assert pid is not None and mariadb.is_lab_mariadbd(pid)
    assert not mariadb.is_lab_mariadbd(os.getpid())


def test_the_tests_never_use_a_users_database_url(tmp_path):
    """conftest empties DATABASE_URL before anything reads settings: a user's own server,
    named in the environment, never reaches `make test` (a test that would use it fails)."""
    probe = tmp_path / "test_probe.py"
    probe.write_text("from lab.config import load\n\ndef test_private():\n    assert load().database.private\n")
    (tmp_path / "conftest.py").write_text((ROOT / "tests" / "conftest.py").read_text())
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(probe)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'tests' / 'bench'}",  # pyproject's
                                 "DATABASE_URL": "mysql://someone:pw@192.0.2.1:3306/theirs"})
    assert result.returncode == 0, result.stdout + result.stderr
