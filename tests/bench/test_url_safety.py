"""`--url` reaches this machine only, and a --url server's own stack label never names a
folder outside the run: the URL check through the CLI's real parser; the label refused
from a real HTTP server's /info/, by the fleet and by the driver end to end."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bench.driver.cli import _resumed, build_parser, make_plan
from bench.driver.fleet import ExternalServer, Fleet, served_stack
from bench.schema import SCHEMA_VERSION
from lab.config import ROOT, load
from lab.stacks import STACKS

PROG = "bench/run_wrk.sh"
RUN_WRK = ROOT / "bench" / "run_wrk.sh"


def plan_for(*args: str):
    return make_plan(build_parser(PROG).parse_args(list(args)), PROG, max_concurrency=64)


# --- the URL ------------------------------------------------------------------------------------
@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8000", "http://localhost:8000/", "http://[::1]:8000", "http://127.0.0.1/",
    "http://127.4.5.6:65535/prefix/", "http://LOCALHOST:8000",
])
def test_a_url_on_this_machine_is_taken_as_given(url):
    assert plan_for("--url", url).url == url


@pytest.mark.parametrize(("url", "why"), [
    ("http://127.0.0.1@lab.invalid/", "a user@ part"),
    ("http://user:secret@127.0.0.1:8000", "a user@ part"),
    ("http://localhost.lab.invalid/", "host localhost.lab.invalid is not this machine"),
    ("http://127.0.0.1.lab.invalid:8000", "host 127.0.0.1.lab.invalid is not this machine"),
    ("http://lab.invalid:8000", "host lab.invalid is not this machine"),
    ("http://128.0.0.1:8000", "host 128.0.0.1 is not this machine"),
    ("http://0.0.0.0:8000", "host 0.0.0.0 is not this machine"),
    ("http://[::ffff:127.0.0.1]:8000", "host ::ffff:127.0.0.1 is not this machine"),
    ("https://127.0.0.1:8000", "scheme https"),
    ("127.0.0.1:8000", "scheme none"),
    ("", "scheme none"),
    ("http://127.0.0.1:", "'127.0.0.1:' is not HOST or HOST:PORT"),
    ("http://127.0.0.1:0", "'127.0.0.1:0' is not HOST or HOST:PORT"),
    ("http://127.0.0.1:080", "'127.0.0.1:080' is not HOST or HOST:PORT"),
    ("http://[127.0.0.1]:8000", "a malformed host or port"),
    ("http://127.0.0.1:http", "a malformed host or port"),
    ("http://127.0.0.1:65536", "a malformed host or port"),
    ("http://127.0.0.1:8000\\.lab.invalid/", "a malformed host or port"),
    ("http://127.0.0.1:8000/?", "a query or fragment"),
    ("http://127.0.0.1:8000/info/?x=1", "a query or fragment"),
    ("http://127.0.0.1:8000/#top", "a query or fragment"),
    ("http://127.0.0.1:8000/\n", "printable ASCII only"),
])
def test_a_url_elsewhere_is_one_line_naming_it_and_exit_2(capsys, url, why):
    with pytest.raises(SystemExit) as stop:
        plan_for("--url", url)
    assert stop.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{PROG}: --url {url!r} is not allowed: {why}")
    assert "localhost, an address in 127.0.0.0/8 or [::1]" in lines[0]  # what is allowed


def test_the_driver_refuses_a_url_elsewhere_before_anything_starts(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([RUN_WRK, "--url", "http://127.0.0.1@lab.invalid/", "--out", str(out)],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "LAB_BENCH_LOCK": str(tmp_path / "bench.lock")})
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [
        "bench/run_wrk.sh: --url 'http://127.0.0.1@lab.invalid/' is not allowed: a user@ part; http://HOST[:PORT]"
        "[/PATH] with HOST localhost, an address in 127.0.0.0/8 or [::1], e.g. http://127.0.0.1:8000"]
    assert list(tmp_path.iterdir()) == []


def test_resuming_a_run_whose_url_is_elsewhere_is_refused(capsys, tmp_path):
    """A run.json from before this check, or edited by hand."""
    (tmp_path / "run.json").write_text(json.dumps({"schema_version": SCHEMA_VERSION,
                                                   "plan": {"url": "http://localhost.lab.invalid/"}}))
    with pytest.raises(SystemExit) as stop:
        _resumed(PROG, str(tmp_path))
    assert stop.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{PROG}: --resume {str(tmp_path)!r} is not allowed: its --url 'http://localhost.lab.invalid/' is not "
        "allowed: host localhost.lab.invalid is not this machine; http://HOST[:PORT][/PATH] with HOST localhost, "
        "an address in 127.0.0.0/8 or [::1], e.g. http://127.0.0.1:8000"]


# --- the served stack label ---------------------------------------------------------------------
@pytest.fixture
def info_server() -> Iterator[dict]:
    """A real HTTP server on a free loopback port whose /info/ answers `served["info"]`."""
    served: dict = {"info": {}}

    class Info(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps(served["info"]).encode()
            self.send_response(200 if self.path == "/info/" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Info)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    served["url"] = f"http://127.0.0.1:{server.server_address[1]}"
    yield served
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def evil_labels(tmp_path: Path) -> list[str]:
    return ["../evil", "../../../../evil", str(tmp_path / "evil")]


@pytest.mark.parametrize("stack", [*STACKS, "unknown", "my_stack2"])
def test_a_registry_shaped_label_is_the_stack(stack):
    assert served_stack({"stack": stack, "framework": "django"}) == stack


@pytest.mark.parametrize("info", [
    {"stack": ".."}, {"stack": "a/b"}, {"stack": "django-wsgi@DB_LATENCY_MS=1"}, {"stack": "Django"},
    {"stack": "-rf"}, {"stack": ""}, {"stack": "x" * 65}, {"stack": "fastapi\n"}, {"stack": 7}, {}, ["fastapi"],
], ids=repr)
def test_a_label_that_is_not_a_stack_id_is_refused(info):
    with pytest.raises(ValueError, match="is not allowed: 1 to 64 of a-z, 0-9, - and _"):
        served_stack(info)


def test_the_fleet_takes_a_good_label_from_a_real_server(info_server):
    info_server["info"] = {"stack": "django-asgi", "framework": "django"}
    assert ExternalServer(info_server["url"]).stack == "django-asgi"


def test_the_fleet_refuses_a_label_that_is_a_path(info_server, tmp_path):
    run_dir = tmp_path / "out" / "run"
    for label in evil_labels(tmp_path):
        info_server["info"] = {"stack": label, "framework": "django"}
        with pytest.raises(ValueError) as refused:
            Fleet({}, load(), run_dir, "run", url=info_server["url"])
        assert str(refused.value).startswith(f"stack {label!r} is not allowed: ")
    assert list(tmp_path.iterdir()) == []


def test_the_driver_refuses_a_server_whose_label_is_a_path_and_writes_nothing(info_server, tmp_path):
    """End to end through bench/run_wrk.sh: refused after reading /info/, before the database,
    a run folder or a load tool."""
    out = tmp_path / "out"
    lock = tmp_path / "lock" / "bench.lock"
    for label in evil_labels(tmp_path):
        info_server["info"] = {"stack": label, "framework": "django"}
        proc = subprocess.run([RUN_WRK, "--url", info_server["url"], "--out", str(out)], capture_output=True,
                              text=True, timeout=60, env={**os.environ, "LAB_BENCH_LOCK": str(lock)})
        assert proc.returncode == 1, proc.stderr
        assert proc.stderr.splitlines() == [
            f"bench/run_wrk.sh: cannot read {info_server['url']}/info/: stack {label!r} is not allowed: "
            "1 to 64 of a-z, 0-9, - and _, not starting with - or _, e.g. django-wsgi"]
        assert proc.stdout == ""
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == ["lock", "lock/bench.lock"]
