"""The raw WSGI callable: /ping/ exactly as the frameworks answer it, /info/, else 404."""

from __future__ import annotations

from raw_service.info import PING_HEADERS, info_body, not_found


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/ping/" and environ.get("REQUEST_METHOD") == "GET":
        start_response("200 OK", PING_HEADERS)
        return [b"pong"]
    if path == "/info/":
        body = info_body("wsgi")
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]
    status, headers, body = not_found()
    start_response(status, headers)
    return [body]
