"""What both raw apps share: the /ping/ answer and /info/ (the stack id and server come
from the environment the lab's server starter sets, lab/serve.py)."""

from __future__ import annotations

import json
import os
import platform

# As Django and FastAPI answer /ping/: text/plain without a charset, 4 bytes.
PING_HEADERS = [("Content-Type", "text/plain"), ("Content-Length", "4")]


def info_body(interface: str) -> bytes:
    return json.dumps({"stack": os.environ.get("LAB_STACK", f"raw-{interface}"), "framework": "none",
                       "interface": interface, "server": os.environ.get("LAB_SERVER", "unknown"),
                       "versions": {"python": platform.python_version()}, "settings": {}}).encode()


def not_found() -> tuple[str, list[tuple[str, str]], bytes]:
    body = b"not found"
    return "404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))], body
