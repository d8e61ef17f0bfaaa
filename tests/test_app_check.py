"""lab/app_check.py on real Pythons: the example app in a copy of its folder is ready with
the lab's virtualenv; a bare virtualenv gets one line with the exact pip install at the
lab's pins; a wrong target is one line naming it; the app's folder is byte-for-byte the
same afterwards, and nothing is left running."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lab.app_check import AppCheckError, Ready, check, pinned
from lab.app_file import load_app_file
from lab.config import ROOT

EXAMPLE = ROOT / "examples" / "notes.toml"


def app_copy(tmp_path: Path, python: str, **replace: str) -> Path:
    """examples/notes (its folder copied) with its python replaced."""
    shutil.copytree(EXAMPLE.parent / "notes", tmp_path / "notes", ignore=shutil.ignore_patterns(".venv", "var"))
    text = EXAMPLE.read_text().replace('python = "notes/.venv/bin/python"', f'python = "{python}"')
    for old, new in replace.items():
        text = text.replace(old, new)
    path = tmp_path / "notes.toml"
    path.write_text(text)
    return path


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


def test_the_example_is_ready_with_the_labs_virtualenv_and_its_folder_is_untouched(tmp_path):
    path = app_copy(tmp_path, sys.executable)
    before = tree_digest(tmp_path / "notes")
    ready = check(load_app_file(path, ROOT))
    assert ready.versions["django"] == pinned()["django"] and ready.servers == ("granian", "gunicorn", "uvicorn")
    assert tree_digest(tmp_path / "notes") == before


def test_a_python_without_the_servers_gets_the_pip_line_at_the_labs_pins(tmp_path):
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "bare")], check=True, timeout=120)
    path = app_copy(tmp_path, str(tmp_path / "bare" / "bin" / "python"))
    with pytest.raises(AppCheckError) as caught:
        check(load_app_file(path, ROOT))
    pins = pinned()
    assert str(caught.value) == (f"app file {path}: django, granian, uvloop not installed in "
                                 f"{tmp_path}/bare/bin/python: run {tmp_path}/bare/bin/python -m pip install "
                                 f"django=={pins['django']} granian=={pins['granian']} uvloop=={pins['uvloop']}")
    with pytest.raises(AppCheckError) as caught:  # SERVER_LOOP=asyncio: no uvloop needed
        check(load_app_file(path, ROOT), loop="asyncio")
    assert "django, granian not installed" in str(caught.value) and "uvloop" not in str(caught.value)


def test_a_server_is_measured_only_with_what_the_lab_starts_it_with():
    base = {"django": "5.2.19", "granian": "2.8.7", "uvloop": "0.23.0", "gunicorn": "27.0.1", "uvicorn": "0.54.0"}
    assert Ready(base).servers == ("granian", "gunicorn")  # uvicorn without httptools: not measured
    assert Ready({**base, "httptools": "0.9.0"}).servers == ("granian", "gunicorn", "uvicorn")


@pytest.mark.parametrize(("old", "new", "said"), [
    ('wsgi = "notes_site.wsgi:application"', 'wsgi = "notes_site.wsgi:app"', "wsgi='notes_site.wsgi:app' does not "
                                                                            "load"),
    ('asgi = "notes_site.asgi:application"', 'asgi = "notes_sight.asgi:application"', "No module named "
                                                                                      "'notes_sight'"),
    ('NOTES_SECRET_KEY = "example-only-not-a-secret"', 'OTHER = "x"', "NOTES_SECRET_KEY is not set"),
])
def test_a_target_that_does_not_load_is_one_line(tmp_path, old, new, said):
    path = app_copy(tmp_path, sys.executable, **{old: new})
    with pytest.raises(AppCheckError) as caught:
        check(load_app_file(path, ROOT))
    assert said in str(caught.value) and "\n" not in str(caught.value), str(caught.value)


def test_the_command_prints_one_line_and_exits_2_on_a_problem(tmp_path):
    path = app_copy(tmp_path, sys.executable, **{'wsgi = "notes_site.wsgi:application"': 'wsgi = "x.y:z"'})
    done = subprocess.run([sys.executable, "-m", "lab.app_check", str(path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.startswith("app-check: app file ") and \
        len(done.stderr.strip().splitlines()) == 1, done.stderr
    ok = subprocess.run([sys.executable, "-m", "lab.app_check", str(app_copy(tmp_path / "ok", sys.executable))],
                        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and ok.stdout.startswith("notes: ready in "), ok.stderr


def test_the_examples_requirements_are_the_labs_pins():
    wanted = dict(line.split("==") for line in (ROOT / "examples" / "notes" / "requirements.txt").read_text()
                  .splitlines() if "==" in line and not line.startswith("#"))
    pins = pinned()
    assert wanted and all(pins[name] == version for name, version in wanted.items()), wanted
