"""One run at a time (bench/driver/runlock.py), on a real flock held by another process."""

import subprocess
import sys

import pytest

from bench.driver.runlock import RunLock, RunLocked

HOLD = """
import sys, time
from pathlib import Path
from bench.driver.runlock import RunLock
lock = RunLock(Path(sys.argv[1]))
lock.acquire("run results/holder")
print("held", flush=True)
time.sleep(60)
"""


def test_a_second_holder_is_refused_with_the_first_named(tmp_path):
    path = tmp_path / "bench.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunLocked, match=rf"pid {holder.pid}, run results/holder; .*kill -INT {holder.pid}"):
            RunLock(path).acquire("second")
    finally:
        holder.kill()
        holder.wait()
    lock = RunLock(path)  # released by the kernel when its holder died: no stale lock
    lock.acquire("third")
    lock.release()
