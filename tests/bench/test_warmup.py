"""The warm-up client (bench/driver/warmup.py) against a real HTTP server on loopback."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bench.driver.warmup import warm_up


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, bytes]] = []

    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        Handler.seen.append(("GET", b""))
        self._answer(b"pong")

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Handler.seen.append(("POST", body))
        self._answer(b'{"ok": true}')

    def log_message(self, *args):
        pass


def test_every_connection_gets_an_answer_and_nothing_is_left_in_flight():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        result = warm_up(url, "GET", "/ping/", b"", 8, 10)
        assert result.complete and result.connections == 8 == result.connections_answered
        assert result.requests >= 8 and result.rps > 0
        Handler.seen.clear()
        posted = warm_up(url, "POST", "/sync/io/", b'{"x": 1}', 2, 10)
        assert posted.complete and ("POST", b'{"x": 1}') in Handler.seen
        assert len(Handler.seen) == posted.requests  # every request sent was answered and counted
    finally:
        server.shutdown()


def test_a_server_that_is_not_there_leaves_connections_unanswered():
    result = warm_up("http://127.0.0.1:9", "GET", "/ping/", b"", 4, 2)
    assert not result.complete and result.connections_answered == 0 and result.rps is None
