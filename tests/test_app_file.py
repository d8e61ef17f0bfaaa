"""The app file (lab/app_file.py): the annotated example reads as written, and every mistake
is one line naming the file, the key, the value and what is allowed, a usage error (exit
code 2). Pure: nothing is started, and the files it names are only read."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from lab.app_file import AppFileError, load_app_file
from lab.config import ROOT
from lab.errors import USAGE_ERROR

EXAMPLE = ROOT / "examples" / "notes.toml"


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    """An app folder with an executable 'python' (a link to this one, as a virtualenv's is)."""
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "bin").mkdir()
    os.symlink(sys.executable, tmp_path / "site" / "bin" / "python")
    return tmp_path


GOOD = '''
folder = "site"
python = "site/bin/python"
wsgi = "mysite.wsgi:application"
asgi = "mysite.asgi:application"
[env]
DJANGO_SETTINGS_MODULE = "mysite.settings"
[[request]]
name = "home"
path = "/"
'''


def write(app_dir: Path, text: str) -> Path:
    path = app_dir / "app.toml"
    path.write_text(text)
    return path


def test_the_example_reads_as_written(tmp_path):
    """examples/notes.toml, with its virtualenv's python (made by the README's steps) replaced by this one."""
    text = EXAMPLE.read_text()
    assert 'python = "notes/.venv/bin/python"' in text and 'folder = "notes"' in text
    copy = tmp_path / "notes.toml"
    copy.write_text(text.replace('python = "notes/.venv/bin/python"', f'python = "{sys.executable}"')
                    .replace('folder = "notes"', f'folder = "{EXAMPLE.parent / "notes"}"'))
    app = load_app_file(copy, ROOT)
    assert app.name == "notes" and app.folder == ROOT / "examples" / "notes"
    assert (app.wsgi, app.asgi) == ("notes_site.wsgi:application", "notes_site.asgi:application")
    assert [r.name for r in app.requests] == ["list", "detail", "tags", "add"]
    add = app.requests[-1]
    assert (add.method, add.status, add.writes, add.compare_body) == ("POST", 201, True, False)
    assert app.writing_requests == ("add",)
    assert app.environment()["DJANGO_SETTINGS_MODULE"] == "notes_site.settings"


def test_a_good_file_with_defaults(app_dir):
    app = load_app_file(write(app_dir, GOOD))
    assert app.name == "app" and app.python == app_dir / "site" / "bin" / "python"  # the link, not its target
    (home,) = app.requests
    assert (home.method, home.status, home.writes, home.compare_body, home.body) == ("GET", 200, False, True, None)


def test_env_values_stay_out_of_the_repr(app_dir):
    app = load_app_file(write(app_dir, GOOD.replace('[env]', '[env]\nSECRET = "hunter2"')))
    assert "hunter2" not in repr(app) and app.environment()["SECRET"] == "hunter2"


def test_an_env_file_is_read_and_env_wins(app_dir):
    (app_dir / ".env").write_text("# comment\nexport A='1'\nB=\"two\"\nDJANGO_SETTINGS_MODULE=other\n")
    app = load_app_file(write(app_dir, 'env_file = ".env"\n' + GOOD))
    assert app.environment() == {"A": "1", "B": "two", "DJANGO_SETTINGS_MODULE": "mysite.settings"}


@pytest.mark.parametrize(("change", "message"), [
    (lambda t: t.replace('folder = "site"', 'folder = "nowhere"'), "folder="),
    (lambda t: t.replace('python = "site/bin/python"', 'python = "site/bin/nope"'), "python="),
    (lambda t: t.replace('"mysite.wsgi:application"', '"mysite.wsgi"'), "wsgi='mysite.wsgi' is not allowed: "
                                                                       "module:callable"),
    (lambda t: t.replace('path = "/"', 'path = "http://example.com/"'), "request 'home' path="),
    (lambda t: t.replace('path = "/"', 'path = "/"\nmethod = "POST"'), "request 'home' writes=False is not "
                                                                       "allowed: true for a POST"),
    (lambda t: t.replace('path = "/"', 'path = "/"\nmethod = "BREW"'), "method='BREW'"),
    (lambda t: t.replace('path = "/"', 'path = "/"\nstatus = 99'), "status=99"),
    (lambda t: t.replace('path = "/"', 'path = "/"\nbody = "x"'), "no body with GET"),
    (lambda t: t.replace('path = "/"', 'path = "/"\nheaders = { "bad name" = "x" }'), "headers.bad name"),
    (lambda t: t.replace('name = "home"', 'name = "Home Page"'), "request[0].name='Home Page'"),
    (lambda t: t + '[[request]]\nname = "home"\npath = "/again/"\n', "request.name='home' is not allowed: a name "
                                                                     "used once"),
    (lambda t: t.split("[[request]]")[0], "at least one [[request]]"),
    (lambda t: t + 'colour = "blue"\n', "colour="),
    (lambda t: t.replace('[[request]]\nname = "home"', '[[request]]\nname = "home"\ncolour = 1'),
     "request[0].colour='…' is not allowed: a key of"),
    (lambda t: "folder = ", "not TOML"),
    (lambda t: 'env_file = "missing.env"\n' + t, "env_file="),
    (lambda t: t.replace('path = "/"', 'path = "/"\nmethod = "POST"\nwrites = true\nbody = "x"'),
     "request 'home' headers='none' is not allowed: a content-type header with the body"),
    (lambda t: t.replace('name = "home"', 'name = "sync-io"'), "request[0].name='sync-io' is not allowed: a name "
                                                                "other than the lab's own endpoints"),
    (lambda t: 'database_processes = ["postgres: main"]\n' + t, "database_processes=\"['postgres: main']\" is not "
                                                                  "allowed: a list of process names"),
    (lambda t: t.replace('path = "/"', 'path = "/"\nmethod = "HEAD"'), "method='HEAD' is not allowed: one of GET, "
                                                                        "POST"),
])
def test_each_mistake_is_one_line_naming_the_key(app_dir, change, message):
    path = write(app_dir, change(GOOD))
    with pytest.raises(AppFileError) as caught:
        load_app_file(path)
    text = str(caught.value)
    assert text.startswith(f"app file {path}: ") and message in text and "\n" not in text, text
    assert caught.value.exit_code == USAGE_ERROR


def test_the_labs_repository_is_never_an_apps_folder(app_dir):
    path = write(app_dir, GOOD.replace('folder = "site"', f'folder = "{ROOT}"'))
    with pytest.raises(AppFileError, match="not the lab's repository"):
        load_app_file(path, ROOT)
    path = write(app_dir, GOOD.replace('folder = "site"', 'folder = "/"'))
    with pytest.raises(AppFileError, match="not the lab's repository or one holding it"):
        load_app_file(path, ROOT)


def test_a_missing_file_is_one_line(tmp_path):
    with pytest.raises(AppFileError, match=r"app file .*missing\.toml: not found$"):
        load_app_file(tmp_path / "missing.toml")
