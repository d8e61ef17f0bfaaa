"""The raw ASGI callable: /ping/ exactly as the frameworks answer it, /info/, else 404."""

from __future__ import annotations

from raw_service.info import PING_HEADERS, info_body, not_found


def _encoded(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode(), v.encode()) for k, v in headers]


# /ping/ is what this app is measured on: its answer is built once, not per request.
PING_START = {"type": "http.response.start", "status": 200, "headers": _encoded(PING_HEADERS)}
PING_BODY = {"type": "http.response.body", "body": b"pong"}


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] != "http":
        return
    if scope["path"] == "/ping/" and scope["method"] == "GET":
        await send(PING_START)
        await send(PING_BODY)
        return
    if scope["path"] == "/info/":
        body = info_body("asgi")
        status, headers = 200, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    else:
        code, headers, body = not_found()
        status = int(code.split()[0])
    await send({"type": "http.response.start", "status": status, "headers": _encoded(headers)})
    await send({"type": "http.response.body", "body": body})
