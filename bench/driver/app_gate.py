"""The gate for an app the lab does not know (an app file, docs/app-file.md): before any
load, every request of the file answers on every stack with its expected status, the
stacks answer each request with the same content type, and the WSGI and ASGI stacks
serve the same body for each request that compares bodies. Reading requests go to every
stack before any request that writes (ask_all), so no stack is compared on data another
one's probe changed. A stack that fails is named
with the reason; a body that differs is shown by its first differing bytes.

The lab's own gate (verify.py) knows its endpoints' content and audits their SQL; this
one knows only what the app file says, and it sends a request that writes only when the
file marks it `writes = true`.
"""

from __future__ import annotations

import http.client
from dataclasses import dataclass
from urllib.parse import urlsplit

from lab.app_file import Request

SHOWN_BYTES = 24  # of context either side of the first difference
PROBE_TIMEOUT_S = 30


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes


def first_difference(a: bytes, b: bytes) -> int | None:
    """The offset of the first byte where a and b differ (the shorter one's length when one is
    a prefix of the other), None when they are equal."""
    if a == b:
        return None
    for index, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return index
    return min(len(a), len(b))


def _around(body: bytes, at: int) -> str:
    start = max(0, at - SHOWN_BYTES)
    return ("…" if start else "") + repr(body[start:at + SHOWN_BYTES])[2:-1] + (
        "…" if at + SHOWN_BYTES < len(body) else "")


def body_problem(request: Request, a_name: str, a: bytes, b_name: str, b: bytes) -> str | None:
    """One line when two stacks' bodies for a request differ, with the first differing bytes."""
    at = first_difference(a, b)
    if at is None:
        return None
    return (f"request {request.name!r}: {a_name} and {b_name} bodies differ at byte {at} of {len(a)}/{len(b)}: "
            f"{a_name} '{_around(a, at)}', {b_name} '{_around(b, at)}' (a body that changes per request: "
            "compare_body = false for it in the app file)")


def problems(requests: tuple[Request, ...], answers: dict[str, dict[str, Answer]],
             reference: str | None) -> dict[str, list[str]]:
    """stack -> what is wrong with its answers, from answers[stack][request name]: the
    expected status; and, against the reference stack (the WSGI one the others are held
    to), the same content type and, for a request that compares bodies, the same body. A
    difference is the other stack's problem, never the reference's."""
    found: dict[str, list[str]] = {}
    for stack, mine in answers.items():
        for request in requests:
            answer = mine[request.name]
            if answer.status != request.status:
                found.setdefault(stack, []).append(
                    f"request {request.name!r} ({request.method} {request.path}) answered {answer.status}, "
                    f"expected {request.status}")
            if reference is None or stack == reference or reference not in answers:
                continue
            theirs = answers[reference][request.name]
            if theirs.status != request.status:  # the reference is wrong itself: nothing to hold others to
                continue
            if answer.content_type != theirs.content_type:
                found.setdefault(stack, []).append(
                    f"request {request.name!r}: content type {answer.content_type or 'none'} on {stack}, "
                    f"{theirs.content_type or 'none'} on {reference}")
            said = body_problem(request, reference, theirs.body, stack, answer.body) if request.compare_body \
                else None
            if said:
                found.setdefault(stack, []).append(said)
    return found


def ask(base_url: str, request: Request) -> Answer:
    """Send one request as the app file describes it; raises OSError when nothing answers."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=PROBE_TIMEOUT_S)
    try:
        body = request.body.encode() if request.body is not None else None
        connection.request(request.method, request.path, body=body, headers=dict(request.headers))
        response = connection.getresponse()
        return Answer(response.status, response.getheader("Content-Type") or "", response.read())
    finally:
        connection.close()


def ask_all(urls: dict[str, str], requests: tuple[Request, ...]) -> tuple[dict[str, dict[str, Answer]],
                                                                         dict[str, str]]:
    """Every request on every stack: first every reading request on every stack, then the
    ones that write, so no stack reads data another stack's probe has just changed. Returns
    the answers of the stacks that answered everything, and why each other one did not."""
    answers: dict[str, dict[str, Answer]] = {stack: {} for stack in urls}
    silent: dict[str, str] = {}
    for writes in (False, True):
        for stack, url in urls.items():
            for request in requests:
                if request.writes is writes and stack not in silent:
                    try:
                        answers[stack][request.name] = ask(url, request)
                    except (OSError, http.client.HTTPException) as error:
                        silent[stack] = (f"request {request.name!r} ({request.method} {request.path}) got no "
                                         f"answer: {type(error).__name__}: {error}")
    return ({stack: {r.name: found[r.name] for r in requests} for stack, found in answers.items()
             if stack not in silent}, silent)
