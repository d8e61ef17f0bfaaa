"""A run on an app file's project (`--app FILE`, docs/app-file.md): which of the Django
stacks measure it, what each request sends, what run.json records of the app, and the
gate for an app the lab does not know (bench/driver/app_gate.py) over the started servers.

The stacks are the registry's Django stacks (lab/stacks.py), serving the user's project
instead of the lab's: Granian WSGI and ASGI always, gunicorn and uvicorn when the app's
Python has them. Their ids are the demo's, so every figure, ratio and answer of the
analysis reads the same; run.json's `app` says whose code they served.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.driver.app_gate import ask_all, problems
from bench.driver.tools import Sent
from bench.load_tools.ab import cannot_send
from bench.schema import Tool
from lab.app_check import Ready, check
from lab.app_file import AppFile, AppFileError, load_app_file
from lab.config import ROOT
from lab.stacks import DJANGO_ASGI, DJANGO_WSGI, STACKS

APP_STACKS = (DJANGO_WSGI, DJANGO_ASGI, "django-wsgi-gunicorn", "django-asgi-uvicorn")
# The settings the app's servers read (their workers and threads), the only ones a run may vary.
APP_SETTINGS = ("DJANGO_WSGI_WORKERS", "DJANGO_WSGI_BLOCKING_THREADS", "DJANGO_ASGI_WORKERS")


def _words(value: str) -> list[str]:
    return [w for w in value.replace(",", " ").split() if w]


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
        if given is None:
            return self.installed()
        words = _words(given)
        bad = [w for w in words if w not in self.installed()]
        if bad or not words:
            raise AppFileError(f"--stacks {given!r} is not allowed with --app: any of {', '.join(self.installed())} "
                               f"(the Django stacks whose server {self.file.python} has)")
        return tuple(dict.fromkeys(words))

    def endpoints(self, given: str | None) -> tuple[str, ...]:
        names = [r.name for r in self.file.requests]
        if given is None:
            return tuple(names)
        words = _words(given)
        bad = [w for w in words if w not in names]
        if bad or not words:
            raise AppFileError(f"--endpoints {given!r} is not allowed with --app: any of the app file's requests "
                               f"({', '.join(names)})")
        return tuple(dict.fromkeys(words))

    def check_vary(self, vary: dict[str, tuple[str, ...]], profile: str) -> None:
        for key in vary:
            if key not in APP_SETTINGS:
                raise AppFileError(f"--vary {key} (or the {profile} profile's axis) is not allowed with --app: the "
                                   f"app's servers read only {', '.join(APP_SETTINGS)}")

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


def request_files(app: AppFile, run_dir: Path) -> dict[str, Sent]:
    """Each request as the load tools send it; a body is written once into the run's
    folder (requests/NAME.body), so the run keeps exactly what it sent."""
    sent = {}
    for request in app.requests:
        body_file = None
        if request.body is not None:
            body_file = run_dir / "requests" / f"{request.name}.body"
            body_file.parent.mkdir(parents=True, exist_ok=True)
            body_file.write_bytes(request.body.encode())
        sent[request.name] = Sent(request.method, request.path, body_file, request.headers)
    return sent


def app_record(app: AppFile, ready: Ready, stacks: tuple[str, ...]) -> dict:
    """run.json `app`: whose code was measured, at which versions, and which requests wrote
    (never the env values, header values or bodies: they may hold secrets)."""
    return {"name": app.name, "file": str(app.path), "folder": str(app.folder), "python": str(app.python),
            "python_version": ready.python_version, "wsgi": app.wsgi, "asgi": app.asgi,
            "versions": ready.versions, "env_names": sorted(app.environment()),
            "requests": [r.record() for r in app.requests], "writing_requests": list(app.writing_requests),
            "stacks": list(stacks),
            "untouched": "the lab did not migrate, seed, truncate or audit the app's database; it sent the "
                         "requests that write only because the app file marks them writes = true"}


def gate(app: AppFile, urls: dict[str, str]) -> dict[str, dict]:
    """The gate's outcome per stack (the shape of bench/driver/verify.py's): every request
    answered with its status on every stack, one content type per request, and the same
    body as the WSGI stack's for each request that compares bodies. A problem between stacks
    fails both of them; a stack that does not answer fails alone."""
    try:
        answers = ask_all(urls, app.requests)
    except OSError as error:
        return {stack: _outcome(stack, [f"a request got no answer: {type(error).__name__}: {error}"], app)
                for stack in urls}
    pairs = tuple((DJANGO_WSGI, other) for other in urls if other != DJANGO_WSGI)
    found = problems(app.requests, answers, pairs)
    shared = found.get("", [])
    return {stack: _outcome(stack, found.get(stack, []) + [p for p in shared if _names(p, stack)], app)
            for stack in urls}


def _names(problem: str, stack: str) -> bool:
    """Whether a problem between stacks involves this one (content types name every stack)."""
    return "content types differ" in problem or f" {stack} " in problem or problem.startswith(f"{stack} ")


def _outcome(stack: str, failed: list[str], app: AppFile) -> dict:
    checks = []
    for r in app.requests:
        mine = [line for line in failed if line.startswith(f"request {r.name!r}")]
        checks.append({"name": f"{r.name}: {r.method} {r.path} answers {r.status}, one content type"
                       + (", the body WSGI serves" if r.compare_body and stack != DJANGO_WSGI else ""),
                       "passed": not mine, "detail": "; ".join(mine) or None})
    checks += [{"name": "every request answered", "passed": False, "detail": line}
               for line in failed if not line.startswith("request ")]
    summary = f"{len(app.requests)} request(s): status, content type" + (
        ", body against WSGI" if stack != DJANGO_WSGI else "")
    return {"passed": not failed, "checks": checks, "statements_per_request": {},
            "statement_audit": {"ran": False, "why": "the app's database is not the lab's: never audited"},
            "summary": f"{stack}: {summary}", "failed": failed}
