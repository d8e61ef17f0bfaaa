"""Is an app file's project ready to be served? Run in the app's own Python, in its folder,
with its variables: Django and the servers are installed there (a missing one is one line
with the exact `pip install` at the lab's pinned version), and the WSGI and ASGI targets
load. Loading a target imports the user's settings and URLs, as a server would; it
migrates, seeds and writes nothing. Every check is a short-lived child process: nothing is
left running.

`python -m lab.app_check FILE` prints what it found, or the first problem as one line
(exit code 2).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from lab.app_file import AppFile, app_server_environment, load_app_file
from lab.config import ROOT, load_or_exit
from lab.errors import UsageError, guarded

LOCK = ROOT / "requirements.lock"
NEEDED = ("django", "granian")  # the app's WSGI and ASGI stacks run on Granian, as the demo's do
LOOP_PACKAGE = "uvloop"  # needed too when the lab's SERVER_LOOP is uvloop (Granian and uvicorn run on it)
OPTIONAL = ("gunicorn", "uvicorn")  # their stacks are measured too when installed
# What an optional server needs beside itself, started as the lab starts it (uvicorn --http httptools).
SERVER_EXTRAS = {"uvicorn": ("httptools",)}
CHECK_TIMEOUT_S = 60
VERSIONS_SCRIPT = """
import importlib.metadata as m, json, sys
found = {}
for name in sys.argv[1:]:
    try:
        found[name] = m.version(name)
    except m.PackageNotFoundError:
        found[name] = None
print(json.dumps({"packages": found, "python": sys.version.split()[0]}))
"""
LOAD_SCRIPT = """
import importlib, sys
sys.path.insert(0, ".")
module, _, attr = sys.argv[1].partition(":")
target = getattr(importlib.import_module(module), attr)
if not callable(target):
    raise SystemExit(f"{sys.argv[1]} is not callable")
"""


class AppCheckError(UsageError):
    """The app cannot be served as its file says; str() is one line, with the fix when there is one."""


@dataclass(frozen=True)
class Ready:
    versions: dict[str, str | None]  # package -> version in the app's Python (None: not installed)
    python_version: str = ""

    @property
    def servers(self) -> tuple[str, ...]:
        """The servers the lab can start in the app's Python: each installed with what it needs."""
        return tuple(name for name in ("granian", *OPTIONAL)
                     if all(self.versions.get(p) for p in (name, *SERVER_EXTRAS.get(name, ()))))


def pinned(lock: Path = LOCK) -> dict[str, str]:
    """package -> version, from the lab's requirements.lock."""
    found = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        hit = re.match(r"([A-Za-z0-9_.-]+)==([^\s\\;]+)", line)
        if hit:
            found[hit.group(1).lower()] = hit.group(2)
    return found


def _run(app: AppFile, args: list[str]) -> subprocess.CompletedProcess:
    # no __pycache__ written into the user's folder: the lab writes nothing there
    env = app_server_environment(app)
    try:
        return subprocess.run([str(app.python), *args], cwd=app.folder, env=env, capture_output=True, text=True,
                              timeout=CHECK_TIMEOUT_S, start_new_session=True)
    except subprocess.TimeoutExpired:
        raise AppCheckError(f"app file {app.path}: {app.python} did not answer within {CHECK_TIMEOUT_S} s") from None
    except OSError as error:
        raise AppCheckError(f"app file {app.path}: python={str(app.python)!r} cannot run ({error.strerror})") from None


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no message"


def check(app: AppFile, loop: str = LOOP_PACKAGE) -> Ready:
    """Raise AppCheckError for the first problem; return what is installed. `loop`: the lab's
    SERVER_LOOP, which the app's servers run on too."""
    needed = (*NEEDED, LOOP_PACKAGE) if loop == LOOP_PACKAGE else NEEDED
    extras = tuple(p for packages in SERVER_EXTRAS.values() for p in packages)
    done = _run(app, ["-c", VERSIONS_SCRIPT, *dict.fromkeys((*needed, *OPTIONAL, *extras))])
    if done.returncode != 0:
        raise AppCheckError(f"app file {app.path}: python={str(app.python)!r} failed: {_last_line(done.stderr)}")
    found = json.loads(done.stdout)
    versions = found["packages"]
    missing = [name for name in needed if not versions.get(name)]
    if missing:
        pins = pinned()
        install = " ".join(f"{name}=={pins[name]}" if name in pins else name for name in missing)
        raise AppCheckError(f"app file {app.path}: {', '.join(missing)} not installed in {app.python}: run "
                            f"{app.python} -m pip install {install}")
    for key, target in (("wsgi", app.wsgi), ("asgi", app.asgi)):
        loaded = _run(app, ["-c", LOAD_SCRIPT, target])
        if loaded.returncode != 0:
            raise AppCheckError(f"app file {app.path}: {key}={target!r} does not load in {app.folder}: "
                                f"{_last_line(loaded.stderr)}")
    return Ready(versions, found["python"])


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        print("usage: python -m lab.app_check APP_FILE  (the format: docs/app-file.md)",
              file=sys.stdout if argv else sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    app = load_app_file(argv[0], ROOT)
    ready = check(app, load_or_exit().loop)
    shown = ", ".join(f"{name} {version}" for name, version in ready.versions.items() if version)
    absent = [" with ".join((name, ", ".join(SERVER_EXTRAS[name]))) if name in SERVER_EXTRAS else name
              for name in OPTIONAL if name not in ready.servers]
    print(f"{app.name}: ready in {app.python} ({shown}); WSGI {app.wsgi} and ASGI {app.asgi} load; servers: "
          f"{', '.join(ready.servers)}" + (f" ({'; '.join(absent)} not installed: not measured)" if absent else ""))
    return 0


if __name__ == "__main__":
    sys.exit(guarded("app-check", main, sys.argv[1:]))
