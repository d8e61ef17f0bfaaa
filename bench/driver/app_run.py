"""A run on an app file's project (`--app FILE`, docs/app-file.md): which of the Django
stacks measure it, what each request sends, what run.json records of the app, and the
gate for an app the lab does not know (bench/driver/app_gate.py) over the started servers.

The stacks are the registry's Django stacks (lab/stacks.py), serving the user's project
instead of the lab's: Granian WSGI and ASGI always, gunicorn and uvicorn when the app's
Python has them. Their ids are the demo's, so every figure, ratio and answer of the
analysis reads the same; run.json's `app` says whose code they served.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from bench.driver.app_gate import ask_all, problems
from bench.driver.tools import Sent
from bench.driver.variants import split_unit
from bench.load_tools.ab import cannot_send
from bench.schema import Tool
from lab.app_check import Ready, check
from lab.app_file import AppFile, AppFileError, load_app_file
from lab.config import ROOT
from lab.stacks import DJANGO_ASGI, DJANGO_WSGI, STACKS

APP_STACKS = (DJANGO_WSGI, DJANGO_ASGI, "django-wsgi-gunicorn", "django-asgi-uvicorn")
# The settings the app's servers read (their workers and threads, as the registry names them):
# the only ones a run on an app may vary.
SERVER_SETTINGS = tuple(dict.fromkeys(key for stack in APP_STACKS
                                      for key in (STACKS[stack].workers_key, STACKS[stack].threads_key) if key))


def _pick(option: str, given: str | None, allowed: tuple[str, ...], allowed_said: str) -> tuple[str, ...]:
    """Some of `allowed` as an option names them (space or comma separated), all when not given."""
    if given is None:
        return allowed
    words = [w for w in given.replace(",", " ").split() if w]
    if not words or any(w not in allowed for w in words):
        raise AppFileError(f"{option} {given!r} is not allowed with --app: {allowed_said}")
    return tuple(dict.fromkeys(words))


@dataclass(frozen=True)
class AppTarget:
    """An app file, checked ready to serve (lab/app_check.py), and what a run may ask of it."""

    file: AppFile
    ready: Ready

    @classmethod
    def load(cls, path: str, loop: str) -> AppTarget:
        """AppFileError or AppCheckError (one line, exit 2) when the app cannot be measured;
        `loop`: the lab's SERVER_LOOP, which the app's servers run on too."""
        app = load_app_file(path, ROOT)
        return cls(app, check(app, loop))

    def installed(self) -> tuple[str, ...]:
        """The Django stacks whose server the app's Python has."""
        return tuple(s for s in APP_STACKS if STACKS[s].server in self.ready.servers)

    def stacks(self, given: str | None) -> tuple[str, ...]:
        installed = self.installed()
        return _pick("--stacks", given, installed, f"any of {', '.join(installed)} (the Django stacks whose server "
                                                   f"{self.file.python} has)")

    def endpoints(self, given: str | None) -> tuple[str, ...]:
        names = tuple(r.name for r in self.file.requests)
        return _pick("--endpoints", given, names, f"any of the app file's requests ({', '.join(names)})")

    def check_vary(self, vary: dict[str, tuple[str, ...]], profile: str) -> None:
        for key in vary:
            if key not in SERVER_SETTINGS:
                raise AppFileError(f"--vary {key} (or the {profile} profile's axis) is not allowed with --app: the "
                                   f"app's servers read only {', '.join(SERVER_SETTINGS)}")

    def check_tools(self, tools: tuple[Tool, ...], endpoints: tuple[str, ...]) -> None:
        if Tool.AB not in tools:
            return
        for request in self.file.requests:
            why = cannot_send(request.method, request.body is not None) if request.name in endpoints else None
            if why:
                raise AppFileError(f"request {request.name!r} is not allowed with ab: {why} (bench/run_wrk.sh), "
                                   "or leave it out with --endpoints")

    def banner(self) -> str:
        writes = self.file.writing_requests
        return (f"bench: app {self.file.name} ({self.file.path}): {self.file.folder} served by {self.file.python} "
                f"(Django {self.ready.versions.get('django')}); the lab's database is not used; "
                + (f"requests that write, as the app file says: {', '.join(writes)}" if writes
                   else "no request writes"))

    def record(self, stacks: tuple[str, ...]) -> dict:
        return app_record(self.file, self.ready, stacks)

    def same_as(self, saved: dict | None, stacks: tuple[str, ...], run_dir: Path) -> None:
        """A resumed run goes on only with the app it began with: the same record (file,
        requests, versions, code) and the same bodies as it wrote; else AppFileError."""
        changed = [f"the body of {r.name!r}" for r in self.file.requests if r.body is not None
                   and (run_dir / "requests" / f"{r.name}.body").exists()
                   and (run_dir / "requests" / f"{r.name}.body").read_bytes() != r.body.encode()]
        if saved is not None:  # None: it stopped before recording the app; its bodies still hold it
            now = self.record(stacks)
            changed = sorted(k for k in set(now) | set(saved) if now.get(k) != saved.get(k)) + changed
        if changed:
            raise AppFileError(f"--resume {run_dir} is not allowed: the app changed since the run began "
                               f"({', '.join(changed[:4])}); start a new run")


def request_files(app: AppFile, run_dir: Path) -> dict[str, Sent]:
    """Each request as the load tools send it; a body is written once into the run's
    folder (requests/NAME.body, readable by its owner only: it may hold a secret), so the
    run keeps exactly what it sent. A resumed run finds them written (AppTarget.same_as)."""
    sent = {}
    for request in app.requests:
        body_file = None
        if request.body is not None:
            body_file = run_dir / "requests" / f"{request.name}.body"
            if not body_file.exists():
                body_file.parent.mkdir(parents=True, exist_ok=True)
                descriptor = os.open(body_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(descriptor, "wb") as out:
                    out.write(request.body.encode())
        sent[request.name] = Sent(request.method, request.path, body_file, request.headers)
    return sent


CODE_SUFFIXES = (".py", ".html", ".txt", ".json", ".toml", ".cfg", ".ini", ".jinja", ".jinja2")
SKIPPED_FOLDERS = ("__pycache__", ".git", "node_modules", "media", "var")


def code_digest(folder: Path) -> str:
    """sha256 over the app's code and templates (every file with a CODE_SUFFIXES suffix, by
    path and content, outside virtualenvs, hidden folders (.git, .mypy_cache, ...) and
    SKIPPED_FOLDERS): runs of changed code are not
    pooled or compared as like (bench/analysis/compare LOUD_KEYS: app)."""
    digest = hashlib.sha256()
    for root, folders, files in os.walk(folder):
        folders[:] = sorted(f for f in folders if f not in SKIPPED_FOLDERS and not f.startswith(".")
                            and not (Path(root) / f / "pyvenv.cfg").exists())
        for name in sorted(files):
            if name.endswith(CODE_SUFFIXES):
                path = Path(root) / name
                digest.update(str(path.relative_to(folder)).encode() + b"\0")
                try:
                    digest.update(path.read_bytes())
                except OSError:
                    continue
    return digest.hexdigest()


def app_record(app: AppFile, ready: Ready, stacks: tuple[str, ...]) -> dict:
    """run.json `app`: whose code was measured, at which versions, and which requests wrote
    (never the env values, header values or bodies: they may hold secrets)."""
    return {"name": app.name, "file": str(app.path), "folder": str(app.folder), "python": str(app.python),
            "python_version": ready.python_version, "wsgi": app.wsgi, "asgi": app.asgi,
            "code_sha256": code_digest(app.folder),
            "versions": ready.versions, "env_names": sorted(app.environment()),
            "requests": [r.record() for r in app.requests], "writing_requests": list(app.writing_requests),
            "database_processes": list(app.database_processes),
            "stacks": list(stacks),
            "untouched": "the lab did not migrate, seed, truncate or audit the app's database; it sent the "
                         "requests that write only because the app file marks them writes = true"}


def reference_stack(stacks) -> str | None:
    """The stack every other is held to: the first WSGI one (Granian's, else gunicorn's)."""
    return next((s for s in stacks if STACKS[split_unit(s)[0]].interface == "wsgi"), None)


def gate(app: AppFile, urls: dict[str, str]) -> dict[str, dict]:
    """The gate's outcome per stack (the shape of bench/driver/verify.py's): every request
    answered with its status on every stack, and, on every stack but the reference (the
    first WSGI one), the reference's content type and, for requests that compare bodies,
    its body. A stack that differs fails alone; a request nothing answers fails them all."""
    answers, silent = ask_all(urls, app.requests)
    reference = reference_stack(answers)
    found = problems(app.requests, answers, reference)
    for stack, why in silent.items():
        found[stack] = [why]
    return {stack: _outcome(stack, found.get(stack, []), app, reference) for stack in urls}


def _outcome(stack: str, failed: list[str], app: AppFile, reference: str | None) -> dict:
    held = reference is not None and stack != reference
    checks = []
    for r in app.requests:
        mine = [line for line in failed if line.startswith(f"request {r.name!r}")]
        checks.append({"name": f"{r.name}: {r.method} {r.path} answers {r.status}"
                       + (f", {reference}'s content type" if held else "")
                       + (" and body" if held and r.compare_body else ""),
                       "passed": not mine, "detail": "; ".join(mine) or None})
    checks += [{"name": "every request answered", "passed": False, "detail": line}
               for line in failed if not line.startswith("request ")]
    summary = f"{len(app.requests)} request(s): status" + (f"; content type and body against {reference}" if held
                                                           else " (the reference the others are held to)"
                                                           if stack == reference else "")
    return {"passed": not failed, "checks": checks, "statements_per_request": {},
            "statement_audit": {"ran": False, "why": "the app's database is not the lab's: never audited"},
            "summary": f"{stack}: {summary}", "failed": failed}
