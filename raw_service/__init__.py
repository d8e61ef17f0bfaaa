"""Framework-free apps: a raw WSGI and a raw ASGI callable serving /ping/ and /info/
only, the ceiling each server reaches under the lab's limits (lab/stacks.py)."""
