"""A run on an app file's project (bench/driver/app_run.py, `--app FILE`): what it may ask of
the app as pure logic, the gate on the example app served by the lab's own Server under
real Granian, and a refused run: one line, and nothing left running.

The end-to-end run of the example as a user's project (its own virtualenv, outside the
repository, followed from the README) is tests/test_readme_commands.py's."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_app_check import app_copy, tree_digest

from bench.driver.app_run import AppTarget, app_record, gate, request_files
from bench.driver.sampling import named_cpu_s
from bench.schema import Tool
from lab.app_check import Ready
from lab.app_file import AppFileError, load_app_file
from lab.config import ROOT, load
from lab.net import free_port, port_in_use
from lab.serve import Server

VENV_PYTHON = str(Path(sys.executable))
ALL = {"django": "5.2.19", "granian": "2.8.7", "uvloop": "0.23.0", "gunicorn": "27.0.1", "uvicorn": "0.54.0",
       "httptools": "0.9.0"}
SECRET = "Bearer test-only-s3cret"


def target(tmp_path: Path, versions: dict | None = None, **replace: str) -> AppTarget:
    return AppTarget(load_app_file(app_copy(tmp_path, VENV_PYTHON, **replace), ROOT), Ready(versions or ALL, "3.11"))


def test_the_stacks_are_the_django_stacks_whose_server_the_apps_python_has(tmp_path):
    assert target(tmp_path).stacks(None) == ("django-wsgi", "django-asgi", "django-wsgi-gunicorn",
                                             "django-asgi-uvicorn")
    granian_only = target(tmp_path / "g", {"django": "5.2.19", "granian": "2.8.7", "uvloop": "0.23.0"})
    assert granian_only.stacks(None) == ("django-wsgi", "django-asgi")
    with pytest.raises(AppFileError, match=r"^--stacks 'django-wsgi fastapi' is not allowed with --app: any of "
                                           r"django-wsgi, django-asgi \(the Django stacks whose server "):
        granian_only.stacks("django-wsgi fastapi")


def test_endpoints_are_the_app_files_requests_and_only_its_server_settings_vary(tmp_path):
    app = target(tmp_path)
    assert app.endpoints(None) == ("list", "detail", "tags", "add") and app.endpoints("add,list") == ("add", "list")
    with pytest.raises(AppFileError, match=r"^--endpoints 'ping' is not allowed with --app: any of the app file's "
                                           r"requests \(list, detail, tags, add\)$"):
        app.endpoints("ping")
    app.check_vary({"DJANGO_WSGI_BLOCKING_THREADS": ("8", "32")}, "app")
    with pytest.raises(AppFileError, match=r"^--vary DB_LATENCY_MS \(or the latency profile's axis\) is not allowed "
                                           r"with --app: the app's servers read only DJANGO_WSGI_WORKERS, "):
        app.check_vary({"DB_LATENCY_MS": ("0", "5")}, "latency")


def test_ab_is_refused_a_request_it_cannot_send(tmp_path):
    app = target(tmp_path, **{'method = "POST"': 'method = "PATCH"'})
    app.check_tools((Tool.WRK,), app.endpoints(None))
    app.check_tools((Tool.AB,), ("list",))  # left out with --endpoints: fine
    with pytest.raises(AppFileError, match=r"^request 'add' is not allowed with ab: ab cannot send a body with PATCH"):
        app.check_tools((Tool.WRK, Tool.AB), app.endpoints(None))


def test_bodies_go_to_the_run_folder_and_run_json_holds_no_secret(tmp_path):
    app = target(tmp_path, **{'headers = { content-type = "application/json" }':
                              f'headers = {{ content-type = "application/json", authorization = "{SECRET}" }}'})
    sent = request_files(app.file, tmp_path / "run")
    assert sent["add"].body_file == tmp_path / "run" / "requests" / "add.body"
    assert sent["add"].body() == app.file.requests[3].body.encode() and sent["list"].body_file is None
    assert SECRET not in repr(sent) and "example-only-not-a-secret" not in repr(app.file)
    record = app_record(app.file, app.ready, ("django-wsgi", "django-asgi"))
    assert (tmp_path / "run" / "requests" / "add.body").stat().st_mode & 0o777 == 0o600
    views = app.file.folder / "notes" / "views.py"
    views.write_text(views.read_text() + "\n# changed\n")
    assert app_record(app.file, app.ready, ())["code_sha256"] != record["code_sha256"]  # new code: not alike
    text = repr(record)
    assert "s3cret" not in text and "example-only-not-a-secret" not in text and "from the lab" not in text
    assert record["writing_requests"] == ["add"] and record["env_names"] == ["DJANGO_SETTINGS_MODULE",
                                                                             "NOTES_SECRET_KEY"]
    assert record["requests"][3] == {"name": "add", "method": "POST", "path": "/notes/", "status": 201,
                                     "header_names": ["authorization", "content-type"], "body_bytes": 68,
                                     "writes": True, "compare_body": False}


def _seeded_copy(tmp_path: Path, **replace: str):
    """The example copied with the lab's Python as its own, its SQLite file outside its folder."""
    key = 'NOTES_SECRET_KEY = "example-only-not-a-secret"'
    path = app_copy(tmp_path, VENV_PYTHON, **{key: f'{key}\nNOTES_DB = "{tmp_path / "notes.sqlite3"}"', **replace})
    app = load_app_file(path, ROOT)
    env = {**os.environ, **app.environment(), "PYTHONDONTWRITEBYTECODE": "1"}
    for command in (["migrate", "-v", "0"], ["seed_notes"]):  # the user's own steps
        subprocess.run([VENV_PYTHON, "manage.py", *command], cwd=app.folder, env=env, check=True, timeout=120,
                       capture_output=True)
    return path, app


CLOCK = '[[request]]\nname = "clock"\npath = "/api/clock/"\n'


def test_the_gate_on_the_example_served_by_the_labs_server(tmp_path):
    """The lab's Server with an app: the app's Python and folder, its target, its variables
    only; the gate passes the example, names a wrong status, and shows where a body that
    changes per request differs."""
    path, app = _seeded_copy(tmp_path)
    before = tree_digest(app.folder)
    settings = load({"SERVER_PORT": "8000"})
    servers = [Server(stack, settings, port=free_port(), log_path=tmp_path / f"{stack}.log", app=app)
               for stack in ("django-wsgi", "django-asgi")]
    try:
        for server in servers:
            server.start()
            server.wait_ready()
        assert servers[0].command[3:6] == [VENV_PYTHON, "-m", "granian"]
        assert servers[0].command[-1] == "notes_site.wsgi:application" and str(app.folder) in servers[1].command
        urls = {s.stack: s.url for s in servers}
        passed = gate(app, {**urls, "django-asgi-uvicorn": f"http://127.0.0.1:{free_port()}"})  # nothing there
        assert passed["django-wsgi"]["passed"] and passed["django-asgi"]["passed"], passed
        assert passed["django-asgi-uvicorn"]["failed"][0].startswith(  # a stack that does not answer fails alone
            "request 'list' (GET /) got no answer: ConnectionRefusedError")
        assert passed["django-asgi"]["summary"] == ("django-asgi: 4 request(s): status; content type and body "
                                                    "against django-wsgi")
        wrong = load_app_file(app_copy(tmp_path / "wrong", VENV_PYTHON, **{'path = "/api/tags/"':
                                                                             'path = "/api/tags/"\nstatus = 404'}))
        outcome = gate(wrong, urls)
        assert outcome["django-wsgi"]["failed"] == ["request 'tags' (GET /api/tags/) answered 200, expected 404"]
        assert [c["name"] for c in outcome["django-wsgi"]["checks"] if not c["passed"]] == [
            "tags: GET /api/tags/ answers 404"]
        assert [c["name"] for c in outcome["django-asgi"]["checks"] if not c["passed"]] == [
            "tags: GET /api/tags/ answers 404, django-wsgi's content type and body"]
        clock_file = app_copy(tmp_path / "clock", VENV_PYTHON)
        clock_file.write_text(clock_file.read_text() + "\n" + CLOCK)
        clock = load_app_file(clock_file)
        differ = gate(clock, urls)
        said = differ["django-asgi"]["failed"]
        assert len(said) == 1 and said[0].startswith("request 'clock': django-wsgi and django-asgi bodies differ "
                                                     "at byte ") and "compare_body = false" in said[0], said
        assert differ["django-wsgi"]["passed"]  # the reference: the other stack differs from it
    finally:
        for server in servers:
            server.stop()
    assert not any(port_in_use("127.0.0.1", s.port) for s in servers)
    assert tree_digest(app.folder) == before  # not even a __pycache__


def _bench(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / "bench" / "run_wrk.sh"), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def _lab_servers() -> list[str]:
    found = subprocess.run(["pgrep", "-af", "granian|gunicorn|uvicorn"], capture_output=True, text=True).stdout
    return [line for line in found.splitlines() if "notes_site" in line]


@pytest.mark.parametrize(("replace", "said"), [
    ({'wsgi = "notes_site.wsgi:application"': 'wsgi = "notes_site.wsgy:application"'},
     r"wsgi='notes_site\.wsgy:application' does not load in .*: ModuleNotFoundError: No module named "
     r"'notes_site\.wsgy'"),
    ({'name = "tags"': 'name = "ping"'}, r"request\[2\]\.name='ping' is not allowed: a name other than the lab's own "
                                         r"endpoints"),
])
def test_an_app_that_cannot_be_served_is_one_line_and_exit_2_with_nothing_started(tmp_path, replace, said):
    path = app_copy(tmp_path, VENV_PYTHON, **replace)
    before = tree_digest(tmp_path / "notes")
    done = _bench("--app", str(path), "--profile", "smoke", "--out", str(tmp_path / "results"))
    assert done.returncode == 2 and done.stdout == "", done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"bench/run_wrk.sh: app file {path}: "), lines
    assert re.search(said, lines[0]), lines
    assert not (tmp_path / "results").exists() and tree_digest(tmp_path / "notes") == before


def test_a_missing_server_package_names_the_pip_line(tmp_path):
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "bare")], check=True, timeout=120)
    path = app_copy(tmp_path, str(tmp_path / "bare" / "bin" / "python"))
    done = _bench("--app", str(path), "--out", str(tmp_path / "results"))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stderr.strip().endswith("-m pip install django==5.2.19 granian==2.8.7 uvloop==0.23.0")


def test_a_request_with_the_wrong_status_stops_the_run_in_one_line_with_nothing_left(tmp_path):
    path, app = _seeded_copy(tmp_path, **{'path = "/api/tags/"': 'path = "/api/tags/"\nstatus = 201'})
    before = tree_digest(app.folder)
    done = _bench("--app", str(path), "--profile", "smoke", "--stacks", "django-wsgi,django-asgi",
                  "--out", str(tmp_path / "results"))
    assert done.returncode == 1, done.stdout + done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last == ("bench/run_wrk.sh: app notes has no WSGI stack to measure: app gate failed: request 'tags' "
                    "(GET /api/tags/) answered 200, expected 201"), done.stderr
    run = next((tmp_path / "results").glob("*-wrk"))
    assert '"status": "failed"' in (run / "run.json").read_text()
    assert not (run / "results.jsonl").exists() or not (run / "results.jsonl").read_text()
    assert not _lab_servers() and tree_digest(app.folder) == before


def test_ab_posts_the_requests_body_with_its_content_type(tmp_path):
    """bench/run_ab.sh --app: ab alone, measured like wrk, sends the request that writes with
    its body file and content type, each POST creates a note, and a level whose answers
    changed length (new ids) is invalid, saying why."""
    path, app = _seeded_copy(tmp_path)
    done = subprocess.run([str(ROOT / "bench" / "run_ab.sh"), "--app", str(path), "--profile", "smoke", "--stacks",
                           "django-wsgi,django-asgi", "--endpoints", "add", "--out", str(tmp_path / "results")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    run = next(p for p in (tmp_path / "results").iterdir() if not p.is_symlink())
    rows = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    assert {r["stack"] for r in rows} == {"django-wsgi", "django-asgi"}
    assert all(r["tool"] == "ab" and r["status"] == "ok" and r["errors"]["non_2xx"] == 0 for r in rows), rows
    # ab counts a body whose length differs from its first as failed: ids past 999 do (docs/app-file.md)
    assert all(r["valid"] == (not r["errors"]["length"]) for r in rows), rows
    assert all("Length failures" in r["invalid_reason"] for r in rows if not r["valid"]), rows
    command = (run / "raw" / "ab" / "django-wsgi" / "add-c2-r1.txt").read_text().splitlines()[0]
    assert f"-p {run}/requests/add.body -T application/json http://127.0.0.1:" in command
    count = subprocess.run([VENV_PYTHON, "-c", "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("
                            "'select count(*) from notes_note').fetchone()[0])", str(tmp_path / "notes.sqlite3")],
                           capture_output=True, text=True, check=True)
    assert int(count.stdout) >= 500 + sum(r["requests"] for r in rows)  # the seed, then each POST's note


BURNER = """
import os, sys, time
def burn(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
sys.stdin.readline()  # go
for _ in range(3):  # a backend per connection, each ending and reaped, as PostgreSQL's are
    child = os.fork()
    if child == 0:
        burn(0.3)
        os._exit(0)
    os.waitpid(child, 0)
burn(0.3)
print("done", flush=True)
sys.stdin.readline()  # alive until read
"""


def test_an_apps_database_processes_are_counted_with_the_children_they_reaped(tmp_path):
    """named_cpu_s, the CPU of an app file's `database_processes`: a process found by its name
    burns 0.3 s itself and 0.9 s in three children that end and are reaped before the second
    reading; the counter holds all 1.2 s."""
    program = tmp_path / "labdbtest"  # a Python named like a database server: /proc/PID/comm
    program.symlink_to(Path(sys.executable).resolve())
    started = subprocess.Popen([str(program), "-c", BURNER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True)
    try:
        time.sleep(0.3)
        before = named_cpu_s(("labdbtest",))
        started.stdin.write("go\n")
        started.stdin.flush()
        assert started.stdout.readline() == "done\n"
        after = named_cpu_s(("labdbtest",))
    finally:
        started.kill()
        started.wait()
    assert 1.1 <= after - before <= 1.6, (before, after)
    assert named_cpu_s(("no-such-name",)) is None  # not measured, never a measured 0


def test_a_resumed_run_goes_on_only_with_the_app_it_began_with(tmp_path):
    app = target(tmp_path)
    run_dir = tmp_path / "run"
    request_files(app.file, run_dir)
    saved = app.record(("django-wsgi", "django-asgi"))
    app.same_as(saved, ("django-wsgi", "django-asgi"), run_dir)
    app.same_as(None, ("django-wsgi",), run_dir)  # it stopped before recording the app: nothing to hold it to
    with pytest.raises(AppFileError, match=r"^--resume .* is not allowed: the app changed since the run began "
                                           r"\(requests\); start a new run$"):
        app.same_as({**saved, "requests": []}, ("django-wsgi", "django-asgi"), run_dir)
    (run_dir / "requests" / "add.body").write_bytes(b"{}")
    with pytest.raises(AppFileError, match=r"\(the body of 'add'\)"):
        app.same_as(saved, ("django-wsgi", "django-asgi"), run_dir)
