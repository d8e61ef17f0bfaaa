"""The one table of endpoints (docs/design.md, Endpoints), as lab/stacks.py is the one of
stacks: each row says what an endpoint is and how the lab reads it, so the driver (its
requests and the gate), the analysis (titles, the sweep's limits) and `bench run --help`
cannot disagree. Adding an endpoint is one row here plus its views in both apps (which
never import bench/); `Endpoint` is built from the rows.

Pure data: the driver and the analysis may both import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from lab.stacks import DJANGO_WSGI, FASTAPI


class Body(StrEnum):
    """What an endpoint answers, and so what the gate checks beyond status and headers."""

    PONG = "pong"
    USERS = "users"  # the seeded users table (cell for cell, ?limit=)
    IO = "io"  # the io workload's fixed JSON (exact body, Server-Timing, the statement audit)


@dataclass(frozen=True)
class Limit:
    """A setting that caps the requests a stack has in flight (the sweep's "what binds")."""

    setting: str  # the settings.env key
    what: str
    workers: str | None  # multiplied by this key's value (worker processes)


@dataclass(frozen=True)
class EndpointEntry:
    id: str
    method: str
    path: str
    content_type: str  # exactly what the gate expects
    body: Body
    description: str  # one line, for --help
    database: bool  # a request reaches MariaDB
    # stack -> what caps its requests in flight here; a stack not named has no cap of its own
    # (Django ASGI gives every request its own thread and connection), only the client's connections.
    in_flight: Mapping[str, Limit] = field(default_factory=dict)

    @property
    def io(self) -> bool:
        return self.body == Body.IO

    @property
    def title(self) -> str:
        return f"{self.method} {self.path}"


HTML = "text/html; charset=utf-8"
JSON = "application/json"
BLOCKING_THREADS = Limit("DJANGO_WSGI_BLOCKING_THREADS", "blocking threads", "DJANGO_WSGI_WORKERS")
SYNC_THREADS = Limit("FASTAPI_SYNC_THREADS", "sync threads", "FASTAPI_WORKERS")
POOL = Limit("FASTAPI_POOL_SIZE", "pool connections", "FASTAPI_WORKERS")

ENDPOINTS: dict[str, EndpointEntry] = {e.id: e for e in (
    EndpointEntry("ping", "GET", "/ping/", "text/plain", Body.PONG,
                  "pong: the floor, each interface's native kind of view", False, {DJANGO_WSGI: BLOCKING_THREADS}),
    EndpointEntry("sync", "GET", "/sync/", HTML, Body.USERS, "the users table, sync code path", True,
                  {DJANGO_WSGI: BLOCKING_THREADS}),
    EndpointEntry("async", "GET", "/async/", HTML, Body.USERS, "the users table, async code path", True,
                  {DJANGO_WSGI: BLOCKING_THREADS}),
    EndpointEntry("sync-io", "POST", "/sync/io/", JSON, Body.IO, "the io workload (files, then transactions), "
                  "sync code path", True, {DJANGO_WSGI: BLOCKING_THREADS, FASTAPI: SYNC_THREADS}),
    EndpointEntry("async-io", "POST", "/async/io/", JSON, Body.IO, "the io workload, async code path", True,
                  {DJANGO_WSGI: BLOCKING_THREADS, FASTAPI: POOL}),
)}

# ping -> PING, sync-io -> SYNC_IO; the values are the ids the results files carry.
Endpoint = StrEnum("Endpoint", [(e.id.upper().replace("-", "_"), e.id) for e in ENDPOINTS.values()],
                   module=__name__)
