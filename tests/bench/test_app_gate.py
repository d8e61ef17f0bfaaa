"""The gate for an app the lab does not know (bench/driver/app_gate.py): the body comparison
and the checks as pure logic, then the example app (examples/notes, a copy of its folder
with its own SQLite file) served by real Granian under WSGI and under ASGI, asked every
request of its app file: the same answers, and its folder unchanged but for its database."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.driver.app_gate import Answer, ask_all, body_problem, first_difference, problems
from lab.app_file import Request, load_app_file
from lab.config import ROOT
from lab.net import free_port, port_in_use

HOME = Request("home", "GET", "/")
ADD = Request("add", "POST", "/notes/", 201, "{}", (), True, False)


@pytest.mark.parametrize(("a", "b", "at"), [(b"abc", b"abc", None), (b"abc", b"abd", 2), (b"ab", b"abc", 2),
                                            (b"", b"x", 0)])
def test_first_difference(a, b, at):
    assert first_difference(a, b) == at


def test_a_body_difference_shows_the_bytes_around_it():
    a, b = b"<p>token=" + b"1" * 40 + b"</p>", b"<p>token=" + b"2" * 40 + b"</p>"
    said = body_problem(HOME, "app-wsgi", a, "app-asgi", b)
    assert said.startswith("request 'home': app-wsgi and app-asgi bodies differ at byte 9 of 53/53: ")
    assert "<p>token=111" in said and "<p>token=222" in said and "compare_body = false" in said


def test_status_content_type_and_body_are_checked_against_the_reference_stack():
    good = Answer(200, "text/html; charset=utf-8", b"<html>same</html>")
    created = Answer(201, "application/json", b'{"id": 1}')
    answers = {"app-wsgi": {"home": good, "add": created},
               "app-asgi": {"home": Answer(200, "text/html; charset=utf-8", b"<html>else</html>"),
                            "add": Answer(201, "application/json", b'{"id": 2}')},
               "app-asgi-uvicorn": {"home": Answer(500, "text/plain", b"boom"), "add": created}}
    found = problems((HOME, ADD), answers, "app-wsgi")
    assert "app-wsgi" not in found  # the reference: a difference is never its problem
    assert found["app-asgi-uvicorn"][:2] == ["request 'home' (GET /) answered 500, expected 200",
                                             "request 'home': content type text/plain on app-asgi-uvicorn, "
                                             "text/html; charset=utf-8 on app-wsgi"]
    assert len(found["app-asgi"]) == 1 and found["app-asgi"][0].startswith(
        "request 'home': app-wsgi and app-asgi bodies differ at byte 6")
    assert not any("'add'" in line for lines in found.values() for line in lines)  # compare_body = false
    assert problems((HOME,), {"app-wsgi": {"home": good}, "app-asgi": {"home": good}}, "app-wsgi") == {}
    broken = {"app-wsgi": {"home": Answer(500, "text/plain", b"boom")}, "app-asgi": {"home": good}}
    assert problems((HOME,), broken, "app-wsgi") == {  # a reference that is wrong itself holds no one to it
        "app-wsgi": ["request 'home' (GET /) answered 500, expected 200"]}
    assert problems((HOME,), {"app-asgi": {"home": Answer(404, "text/html", b"")}}, None) == {
        "app-asgi": ["request 'home' (GET /) answered 404, expected 200"]}  # no reference: status only


def _granian(folder: Path, interface: str, target: str, port: int, env: dict[str, str]) -> subprocess.Popen:
    granian = Path(sys.executable).parent / "granian"
    server = subprocess.Popen([str(granian), "--interface", interface, "--host", "127.0.0.1", "--port", str(port),
                               "--workers", "1", "--working-dir", str(folder), "--no-ws", "--log-level", "warning",
                               target], cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              start_new_session=True)
    deadline = time.monotonic() + 30
    while not port_in_use("127.0.0.1", port):
        assert server.poll() is None and time.monotonic() < deadline, server.stderr.read().decode()[-2000:]
        time.sleep(0.2)
    return server


def test_the_example_app_answers_alike_under_wsgi_and_asgi(tmp_path):
    shutil.copytree(ROOT / "examples" / "notes", tmp_path / "notes", ignore=shutil.ignore_patterns(".venv", "var"))
    text = (ROOT / "examples" / "notes.toml").read_text().replace('python = "notes/.venv/bin/python"',
                                                                  f'python = "{sys.executable}"')
    (tmp_path / "notes.toml").write_text(text)
    app = load_app_file(tmp_path / "notes.toml", ROOT)
    env = {**os.environ, **app.environment(), "NOTES_DB": str(tmp_path / "notes.sqlite3"),
           "PYTHONDONTWRITEBYTECODE": "1"}
    for command in (["migrate", "-v", "0"], ["seed_notes"]):  # the user's own steps, on the copy's own database
        subprocess.run([sys.executable, "manage.py", *command], cwd=app.folder, env=env, check=True, timeout=120,
                       capture_output=True)
    urls, servers = {}, []
    try:
        for stack, interface, target in (("app-wsgi", "wsgi", app.wsgi), ("app-asgi", "asgi", app.asgi)):
            port = free_port()
            servers.append(_granian(app.folder, interface, target, port, env))
            urls[stack] = f"http://127.0.0.1:{port}"
        answers, silent = ask_all(urls, app.requests)
        assert silent == {}
    finally:
        for server in servers:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    assert problems(app.requests, answers, "app-wsgi") == {}
    home = answers["app-wsgi"]["list"]
    assert home.status == 200 and home.body.count(b"<li>") == 100 and b"Notes (500)" in home.body
    assert answers["app-asgi"]["add"].status == 201  # the request that writes, sent because the file says so
    assert not list(app.folder.rglob("__pycache__"))
    assert not any(port_in_use("127.0.0.1", int(url.rsplit(":", 1)[1])) for url in urls.values())
