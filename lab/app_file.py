"""The app file: a user's own Django project, named in a small TOML file, for the lab to
measure the way it measures its demo (docs/app-file.md has the format; examples/notes.toml
is an annotated one). This module reads and checks it, and nothing else: it starts
nothing, and it never writes or deletes a file the app file names.

Every mistake is one line naming the file, the key, the value and what is allowed
(AppFileError, a usage error: exit code 2). Requests whose method may change data must say
`writes = true`: sending them is the user's choice, recorded with the run.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.errors import UsageError

NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
TARGET_RE = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")
HEADER_RE = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")
# No HEAD: wrk reads a HEAD response's Content-Length as a body to wait for, and counts read errors.
READING_METHODS = ("GET",)
METHODS = (*READING_METHODS, "POST", "PUT", "PATCH", "DELETE")
TOP_KEYS = ("name", "folder", "python", "wsgi", "asgi", "env_file", "env", "database_processes", "request")
PROCESS_NAME_RE = re.compile(r"[A-Za-z0-9_.:-]{1,15}")  # as /proc/PID/comm shows it (at most 15 characters)
REQUEST_KEYS = ("name", "method", "path", "status", "body", "headers", "writes", "compare_body")
# The lab's own endpoint ids (bench/endpoints.py): a request must not read as one of them in results.
RESERVED_NAMES = ("ping", "sync", "async", "sync-io", "async-io")
# What the servers of an app see from the lab's environment; the rest is the app file's.
PASSED_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "TZ")


class AppFileError(UsageError, ValueError):
    """A bad app file; str() is the one line a person reads."""


@dataclass(frozen=True)
class Request:
    """One request the lab sends to every stack of the app."""

    name: str
    method: str
    path: str
    status: int = 200
    body: str | None = field(default=None, repr=False)  # may hold secrets
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # values may hold secrets
    writes: bool = False  # it may change the app's data: sent only because the app file says so
    compare_body: bool = True  # the gate compares its body across stacks (off: it changes per request)

    def record(self) -> dict:
        """For run.json: what was sent, without header values or the body (they may hold secrets)."""
        return {"name": self.name, "method": self.method, "path": self.path, "status": self.status,
                "header_names": [key for key, _ in self.headers], "body_bytes": len(self.body.encode()) if
                self.body is not None else None, "writes": self.writes, "compare_body": self.compare_body}


@dataclass(frozen=True)
class AppFile:
    path: Path
    name: str
    folder: Path
    python: Path
    wsgi: str
    asgi: str
    requests: tuple[Request, ...]
    env_file: Path | None = None
    env: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # may hold secrets
    database_processes: tuple[str, ...] = ()  # the app's database server on this machine, by process name

    @property
    def writing_requests(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.requests if r.writes)

    def environment(self) -> dict[str, str]:
        """The app's variables: its env file's, then `env` over them."""
        found = read_env_file(self.env_file, self.path) if self.env_file else {}
        return {**found, **dict(self.env)}


def app_server_environment(app: AppFile) -> dict[str, str]:
    """The environment of every process the lab runs on the app: a few of the lab's own
    variables (PASSED_VARIABLES), the app's, and no bytecode written into its folder."""
    passed = {key: os.environ[key] for key in PASSED_VARIABLES if key in os.environ}
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", **passed, **app.environment(), "PYTHONDONTWRITEBYTECODE": "1"}


def ready_path(app: AppFile) -> str:
    """Where a server of the app is asked whether it is up: its first reading request, else /."""
    return next((r.path for r in app.requests if not r.writes), "/")


HIDDEN = "…"  # shown instead of a body or header value: it may hold a secret


def _fail(path: Path, where: str, value: Any, allowed: str) -> AppFileError:
    shown = value if isinstance(value, (int, float, bool)) or value is None else str(value)[:80]
    return AppFileError(f"app file {path}: {where}={shown!r} is not allowed: {allowed}")


def _str(path: Path, data: dict, key: str, where: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, where, value, "a non-empty string")
    return value.strip()


def _unknown(path: Path, data: dict, allowed: tuple[str, ...], where: str) -> None:
    extra = sorted(set(data) - set(allowed))
    if extra:
        raise _fail(path, f"{where}{extra[0]}", HIDDEN, f"a key of {', '.join(allowed)}")


def _under(base: Path, value: str) -> Path:
    return (base / Path(value).expanduser()).resolve() if not os.path.isabs(value) else Path(value).resolve()


def read_env_file(env_file: Path, app_path: Path) -> dict[str, str]:
    """KEY=value lines (blank lines and # comments skipped, one pair of quotes stripped)."""
    found = {}
    try:
        lines = env_file.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise _fail(app_path, "env_file", str(env_file), f"a readable file ({error.strerror})") from None
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_]\w*", key.strip()):
            raise AppFileError(f"app file {app_path}: env_file {env_file} line {number} is not allowed: KEY=value")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        found[key.strip()] = value
    return found


def _request(path: Path, index: int, data: Any) -> Request:
    where = f"request[{index}]"
    if not isinstance(data, dict):
        raise _fail(path, where, data, "a table ([[request]])")
    _unknown(path, data, REQUEST_KEYS, f"{where}.")
    name = _str(path, data, "name", f"{where}.name")
    if not NAME_RE.fullmatch(name):
        raise _fail(path, f"{where}.name", name, "lower-case letters, digits, - and _, at most 64, e.g. home")
    if name in RESERVED_NAMES:
        raise _fail(path, f"{where}.name", name,
                    f"a name other than the lab's own endpoints ({', '.join(RESERVED_NAMES)})")
    where = f"request {name!r}"
    method = _str(path, data, "method", f"{where} method", "GET").upper()
    if method not in METHODS:
        raise _fail(path, f"{where} method", method, f"one of {', '.join(METHODS)}")
    url_path = _str(path, data, "path", f"{where} path")
    if not url_path.startswith("/") or url_path.startswith("//") or not url_path.isascii() \
            or not url_path.isprintable() or " " in url_path or "#" in url_path:
        raise _fail(path, f"{where} path", url_path, "a path on the app starting with one /, printable ASCII "
                    "(percent-encode the rest, e.g. /caf%C3%A9/), e.g. /notes/?page=2")
    status = data.get("status", 200)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise _fail(path, f"{where} status", status, "an HTTP status from 100 to 599")
    body = data.get("body")
    if body is not None and not isinstance(body, str):
        raise _fail(path, f"{where} body", HIDDEN, "a string")
    if body is not None and method in READING_METHODS:
        raise _fail(path, f"{where} body", HIDDEN, f"no body with {method}")
    headers = data.get("headers", {})
    if not isinstance(headers, dict):
        raise _fail(path, f"{where} headers", HIDDEN, "a table of header = \"value\"")
    for key, value in headers.items():
        if not HEADER_RE.fullmatch(key) or not isinstance(value, str) or not value.isascii() \
                or not value.isprintable():
            raise _fail(path, f"{where} headers.{key[:40]}", HIDDEN, "a header name (letters, digits, -) and a "
                        "one-line value of printable ASCII")
    if body is not None and not any(key.lower() == "content-type" for key in headers):
        raise _fail(path, f"{where} headers", ", ".join(headers) or "none", "a content-type header with the body, e.g. "
                    "headers = { content-type = \"application/json\" }")
    writes = data.get("writes", False)
    if not isinstance(writes, bool):
        raise _fail(path, f"{where} writes", writes, "true or false")
    if method not in READING_METHODS and not writes:
        raise _fail(path, f"{where} writes", writes,
                    f"true for a {method} (it may change the app's data: say so, or measure a GET)")
    compare_body = data.get("compare_body", True)
    if not isinstance(compare_body, bool):
        raise _fail(path, f"{where} compare_body", compare_body, "true or false")
    return Request(name, method, url_path, status, body, tuple(sorted(headers.items())), writes, compare_body)


def load_app_file(path: str | Path, lab_root: Path | None = None) -> AppFile:
    """Read and check an app file. `lab_root`: the lab's repository, which an app's folder may
    sit in (examples/) but never be, nor hold."""
    path = Path(path).expanduser().resolve()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AppFileError(f"app file {path}: not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise AppFileError(f"app file {path}: not readable ({error})") from None
    except tomllib.TOMLDecodeError as error:
        raise AppFileError(f"app file {path}: not TOML ({error})") from None
    _unknown(path, data, TOP_KEYS, "")
    base = path.parent
    name = _str(path, data, "name", "name", path.stem)
    if not NAME_RE.fullmatch(name):
        raise _fail(path, "name", name, "lower-case letters, digits, - and _, at most 64")
    folder = _under(base, _str(path, data, "folder", "folder"))
    if not folder.is_dir():
        raise _fail(path, "folder", str(folder), "an existing folder holding the Django project")
    if lab_root is not None and (folder == lab_root.resolve() or lab_root.resolve().is_relative_to(folder)):
        raise _fail(path, "folder", str(folder), "the app's own folder, not the lab's repository or one holding it")
    # not resolved: a virtualenv's python is a symlink, and what makes it the virtualenv's is its path
    python = Path(os.path.abspath(base / Path(_str(path, data, "python", "python")).expanduser()))
    if not os.access(python, os.X_OK) or python.is_dir():
        raise _fail(path, "python", str(python), "the path of an executable Python, e.g. its .venv/bin/python")
    targets = {}
    for key in ("wsgi", "asgi"):
        target = _str(path, data, key, key)
        if not TARGET_RE.fullmatch(target):
            raise _fail(path, key, target, "module:callable, e.g. mysite.wsgi:application")
        targets[key] = target
    env_file = data.get("env_file")
    if env_file is not None:
        env_file = _under(base, _str(path, data, "env_file", "env_file"))
        if not env_file.is_file():
            raise _fail(path, "env_file", str(env_file), "an existing file of KEY=value lines")
    env = data.get("env", {})
    if not isinstance(env, dict) or not all(re.fullmatch(r"[A-Za-z_]\w*", k) and isinstance(v, (str, int, float))
                                            and not isinstance(v, bool) for k, v in env.items()):
        raise _fail(path, "env", "…", "a table of NAME = \"value\"")
    processes = data.get("database_processes", [])
    if not isinstance(processes, list) or not all(isinstance(n, str) and PROCESS_NAME_RE.fullmatch(n)
                                                  for n in processes):
        raise _fail(path, "database_processes", processes, "a list of process names as ps -o comm shows them "
                    "(at most 15 characters), e.g. [\"postgres\"]")
    raw_requests = data.get("request")
    if not isinstance(raw_requests, list) or not raw_requests:
        raise _fail(path, "request", HIDDEN if raw_requests else raw_requests, "at least one [[request]] table")
    requests = tuple(_request(path, i, r) for i, r in enumerate(raw_requests))
    names = [r.name for r in requests]
    twice = next((n for n in names if names.count(n) > 1), None)
    if twice:
        raise _fail(path, "request.name", twice, "a name used once")
    app = AppFile(path, name, folder, python, targets["wsgi"], targets["asgi"], requests, env_file,
                  tuple((k, str(v)) for k, v in env.items()), tuple(dict.fromkeys(processes)))
    if env_file is not None:
        app.environment()  # a malformed env file is a usage error now, not at server start
    return app
