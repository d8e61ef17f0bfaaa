"""lab.db's exit check on a real child process: an exited child that nobody reaped is a
zombie, which still answers kill(pid, 0); the check must see it as gone (and reap it)."""

import os
import signal
import subprocess
import time

from lab.db import exited as _exited


def test_an_exited_child_is_gone_even_before_it_is_reaped():
    child = subprocess.Popen(["sleep", "30"])
    assert not _exited(child.pid)
    os.kill(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while not _exited(child.pid):
        assert time.monotonic() < deadline, "the exited child was never seen as gone"
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{child.pid}")  # reaped, not left a zombie
