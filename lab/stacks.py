"""The one registry of stacks: app x server x interface. Serving by hand, the bench's
servers, the gate, the rounds, run metadata and the analysis all read it; adding a stack
is one entry here, plus its settings (if new) and its pinned package.

A stack's server is started by `lab/serve.py` from `server` (granian, gunicorn, uvicorn)
with every option that changes results written out; `workers_key` / `threads_key` name
the settings it reads. `endpoints` are what it serves, every endpoint of the table
(bench/endpoints.py) unless it names fewer: an endpoint it does not serve is declared,
never measured and never a failure. `ceiling` is the framework-free stack on
the same server and interface: what that server itself reaches on /ping/ under the same
limits. Pure data: importing it starts nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

# The stacks the lab's questions name (ASGI or WSGI for Django? Is FastAPI worth it?).
DJANGO_WSGI, DJANGO_ASGI, FASTAPI = "django-wsgi", "django-asgi", "fastapi"
PING_ONLY = ("ping",)


@dataclass(frozen=True)
class StackEntry:
    id: str
    label: str  # in charts and prose
    short: str  # in ratios ("ASGI/WSGI")
    colour: str
    app: str  # django | fastapi | raw
    interface: str  # wsgi | asgi
    server: str  # granian | gunicorn | uvicorn
    target: str  # module:callable
    working_dir: str  # relative to the repository root
    workers_key: str
    threads_key: str | None = None  # WSGI threads per worker
    endpoints: tuple[str, ...] = ()  # empty: every endpoint
    ceiling: str | None = None  # the framework-free stack on the same server and interface
    default: bool = False  # measured unless --stacks or the profile says otherwise (make bench)
    granian_interface: str | None = None  # Granian's --interface when it differs (asginl)
    lifespan: bool = False  # the app needs the ASGI lifespan protocol (uvicorn --lifespan on)
    ab_note: str | None = None  # why ab cannot measure this server validly, said once in the report

    def serves(self, endpoint: str) -> bool:
        return not self.endpoints or endpoint in self.endpoints


UVICORN_AB = ("uvicorn closes HTTP/1.0 connections after each response even when asked to keep them alive, so "
              "ab (HTTP/1.0) measures connection set-up there, not the stack: its rows are invalid; trust wrk")

STACKS: dict[str, StackEntry] = {s.id: s for s in (
    StackEntry(DJANGO_WSGI, "Django WSGI", "WSGI", "#1f77b4", "django", "wsgi", "granian",
               "project.wsgi:application", "project", "DJANGO_WSGI_WORKERS", "DJANGO_WSGI_BLOCKING_THREADS",
               ceiling="raw-wsgi", default=True),
    StackEntry(DJANGO_ASGI, "Django ASGI", "ASGI", "#d62728", "django", "asgi", "granian",
               "project.asgi:application", "project", "DJANGO_ASGI_WORKERS", ceiling="raw-asgi", default=True,
               granian_interface="asginl"),
    StackEntry(FASTAPI, "FastAPI", "FastAPI", "#2ca02c", "fastapi", "asgi", "granian",
               "fastapi_service.main:app", ".", "FASTAPI_WORKERS", ceiling="raw-asgi", default=True),
    StackEntry("django-wsgi-gunicorn", "Django WSGI (gunicorn)", "WSGI/gunicorn", "#17becf", "django", "wsgi",
               "gunicorn", "project.wsgi:application", "project", "DJANGO_WSGI_WORKERS",
               "DJANGO_WSGI_BLOCKING_THREADS", ceiling="raw-wsgi-gunicorn"),
    StackEntry("django-asgi-uvicorn", "Django ASGI (uvicorn)", "ASGI/uvicorn", "#ff7f0e", "django", "asgi", "uvicorn",
               "project.asgi:application", "project", "DJANGO_ASGI_WORKERS", ceiling="raw-asgi-uvicorn",
               ab_note=UVICORN_AB),
    StackEntry("fastapi-uvicorn", "FastAPI (uvicorn)", "FastAPI/uvicorn", "#bcbd22", "fastapi", "asgi", "uvicorn",
               "fastapi_service.main:app", ".", "FASTAPI_WORKERS", ceiling="raw-asgi-uvicorn", lifespan=True,
               ab_note=UVICORN_AB),
    StackEntry("raw-wsgi", "raw WSGI (Granian)", "raw WSGI", "#7f7f7f", "raw", "wsgi", "granian",
               "raw_service.wsgi:application", ".", "DJANGO_WSGI_WORKERS", "DJANGO_WSGI_BLOCKING_THREADS",
               endpoints=PING_ONLY),
    StackEntry("raw-asgi", "raw ASGI (Granian)", "raw ASGI", "#8c564b", "raw", "asgi", "granian",
               "raw_service.asgi:app", ".", "DJANGO_ASGI_WORKERS", endpoints=PING_ONLY),
    StackEntry("raw-wsgi-gunicorn", "raw WSGI (gunicorn)", "raw WSGI/gunicorn", "#9467bd", "raw", "wsgi", "gunicorn",
               "raw_service.wsgi:application", ".", "DJANGO_WSGI_WORKERS", "DJANGO_WSGI_BLOCKING_THREADS",
               endpoints=PING_ONLY),
    StackEntry("raw-asgi-uvicorn", "raw ASGI (uvicorn)", "raw ASGI/uvicorn", "#e377c2", "raw", "asgi", "uvicorn",
               "raw_service.asgi:app", ".", "DJANGO_ASGI_WORKERS", endpoints=PING_ONLY, ab_note=UVICORN_AB),
)}

DEFAULT_STACKS = tuple(s.id for s in STACKS.values() if s.default)
BASELINE = DJANGO_WSGI


def entry(stack: str) -> StackEntry | None:
    return STACKS.get(stack)


def serves(stack: str, endpoint: str) -> bool:
    """Whether the stack serves the endpoint; a stack the registry does not know (a --url
    server's own label) is taken to serve everything."""
    known = STACKS.get(stack)
    return known is None or known.serves(endpoint)
