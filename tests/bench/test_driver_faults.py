"""The driver when things go wrong, on real servers, tools and databases: a stack that
fails the verification gate, a server killed mid-level, Ctrl-C / SIGTERM and --resume,
the database going away, bad options. Every exit must leave valid files, no process and
no cgroup behind.

Faults are made for real from outside, the way they happen: the users table edited under
a running driver, SIGKILL to the server's processes, SIGINT to the driver's process group,
SIGTERM to MariaDB. The database that goes away is a throwaway MariaDB of this test's own
(used through DATABASE_URL), not the private instance other tests and people share.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import MySQLdb
import pytest
from conftest import bench_record_count
from test_driver_run import (
    DJANGO,
    SCRIPTS,
    assert_rows_follow_contract,
    driver_env,
    drop_database,
    expected_keys,
    marked_processes,
    read_run,
    row_key,
    run_cgroups,
    run_dirs,
)

from bench.driver.users_page import seed_rows
from bench.schema import validate_run
from lab import mariadb
from lab.config import IO_DIR_MARK, Settings, format_cpus
from lab.net import free_port

LEVEL_S = 2


class Driver:
    """One driver started in the background (its own process group, like a shell job),
    output to files; `stop_all` ends whatever of it is still running, by pid."""

    def __init__(self, tmp_path: Path, database_name: str):
        self.tmp_path = tmp_path
        self.database_name = database_name
        self.out = tmp_path / "out"
        self.io_dir = tmp_path / "io"
        self.markers: list[str] = []
        self.procs: list[subprocess.Popen] = []

    def start(self, tool: str, *args: str, env: dict[str, str] | None = None,
              pipe_stdout: bool = False, preexec: Callable[[], object] | None = None) -> subprocess.Popen:
        marker = uuid.uuid4().hex
        self.markers.append(marker)
        n = len(self.procs)
        with open(self.tmp_path / f"stdout-{n}.txt", "w") as out, open(self.tmp_path / f"stderr-{n}.txt", "w") as err:
            proc = subprocess.Popen([SCRIPTS[tool], *args],
                                    env={**driver_env(self.database_name, self.io_dir, marker), **(env or {})},
                                    stdout=subprocess.PIPE if pipe_stdout else out, stderr=err, text=True,
                                    start_new_session=True, preexec_fn=preexec)
        self.procs.append(proc)
        return proc

    def run(self, tool: str, *args: str) -> subprocess.Popen:
        proc = self.start(tool, *args)
        proc.wait(timeout=180)
        return proc

    def stderr(self, proc: subprocess.Popen) -> str:
        return (self.tmp_path / f"stderr-{self.procs.index(proc)}.txt").read_text()

    def marker(self, proc: subprocess.Popen) -> str:
        return self.markers[self.procs.index(proc)]

    def run_dir(self) -> Path:
        (run_dir,) = run_dirs(self.out)
        return run_dir

    def measured_tool_running(self, proc: subprocess.Popen) -> bool:
        """A wrk of a measured level is running (warm-ups are the driver's own client; the
        `wrk -v` that records its version is not a level)."""
        return any(cmd.split()[:1] == ["wrk"] and "--latency" in cmd.split()
                   for cmd in marked_processes(self.marker(proc)).values())

    def kill_server(self, proc: subprocess.Popen) -> int:
        """SIGKILL every Granian process of this driver (main and workers), as the OOM killer
        would; returns how many."""
        pids = [pid for pid, cmd in marked_processes(self.marker(proc)).items() if "bin/granian" in cmd]
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        return len(pids)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for marker in self.markers:
            for pid in marked_processes(marker):
                os.kill(pid, signal.SIGKILL)


def wait_for(condition: Callable[[], object], proc: subprocess.Popen, what: str, timeout: float = 90) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if proc.poll() is not None:
            pytest.fail(f"the driver exited ({proc.returncode}) before {what}")
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def rows_now(driver: Driver) -> int:
    runs = run_dirs(driver.out)
    return len(read_run(runs[0])[1]) if runs else 0


def assert_left_nothing(driver: Driver, proc: subprocess.Popen, settings: Settings | None, run: dict) -> None:
    """No process the driver started, no cgroup, no io file; no lab_records row (when the
    database is still there to ask)."""
    assert marked_processes(driver.marker(proc)) == {}
    assert run_cgroups(run["run_id"]) == []
    assert not driver.io_dir.exists() or [p.name for p in driver.io_dir.iterdir()] in ([], [IO_DIR_MARK])
    if settings is not None:
        assert bench_record_count(settings, driver.database_name) == 0


@pytest.fixture(scope="module")
def faults_db(database: Settings) -> Iterator[str]:
    name = "lab_test_driver_faults"
    yield name
    drop_database(database, name)


@pytest.fixture
def driver(tmp_path: Path, faults_db: str) -> Iterator[Driver]:
    started = Driver(tmp_path, faults_db)
    yield started
    started.stop_all()


# --- the verification gate --------------------------------------------------------------------
def test_stack_failing_verification_is_skipped_and_the_others_run(driver, database, faults_db):
    """The first stack's users page stops matching the seed (a row edited under it, as
    a stray migration or a hand edit would); restored once its gate has failed."""
    proc = driver.start("wrk", "--stacks", DJANGO, "--endpoints", "ping", "--concurrency", "1", "--duration", "1",
                        "--repeats", "1", "--profile", "smoke", "--out", str(driver.out), pipe_stdout=True)
    (original,) = [row[1] for row in seed_rows() if row[0] == "1"]
    conn = mariadb.admin_connection(database)
    cur = conn.cursor()
    edited = restored = None
    try:
        for line in proc.stdout:
            if edited is None and line.startswith("bench: starting 2 server(s)"):
                edited = DJANGO.split()[0]  # the gate runs in the order of --stacks
                cur.execute(f"UPDATE `{faults_db}`.lab_users SET first_name = 'Edited' WHERE id = 1")
            elif edited and restored is None and line.startswith(f"bench: {edited}: verification FAILED"):
                cur.execute(f"UPDATE `{faults_db}`.lab_users SET first_name = %s WHERE id = 1", (original,))
                restored = True
        proc.wait(timeout=60)
    finally:
        if edited and not restored:
            cur.execute(f"UPDATE `{faults_db}`.lab_users SET first_name = %s WHERE id = 1", (original,))
        conn.close()
    assert edited and restored, driver.stderr(proc)
    (other,) = set(DJANGO.split()) - {edited}
    run, rows = read_run(driver.run_dir())
    assert proc.returncode == 0 and run["status"] == "complete", driver.stderr(proc)
    assert validate_run(run) == []
    skipped = run["stacks"][edited]
    assert skipped["status"] == "skipped"
    assert skipped["reason"].startswith("verification failed: ")
    assert "users table equals the seed" in skipped["reason"]
    assert not skipped["verification"]["passed"]
    failed_checks = {c["name"] for c in skipped["verification"]["checks"] if not c["passed"]}
    assert failed_checks == {"sync: users table equals the seed (1,000 rows, cells, escaping)",
                             "async: users table equals the seed (1,000 rows, cells, escaping)"}
    assert f"bench: {edited}: skipped (verification failed" in driver.stderr(proc)
    assert run["stacks"][other]["status"] == "measured" and run["stacks"][other]["verification"]["passed"]
    assert {row_key(row) for row in rows} == expected_keys([other], ["wrk"], ["ping"], [1])
    assert_rows_follow_contract(driver.run_dir(), rows)
    assert_left_nothing(driver, proc, database, run)


# --- a server that dies -------------------------------------------------------------------
def test_killed_server_gives_a_failed_row_is_restarted_once_then_abandoned(driver, database):
    """Killed during ping c=1: a failed row, a restart, ping c=2 measured. Killed again during
    sync-io c=1: a failed row and the stack is abandoned (sync-io c=2 never runs)."""
    proc = driver.start("wrk", "--stacks", "django-wsgi", "--endpoints", "ping sync-io", "--concurrency", "1 2",
                        "--duration", str(LEVEL_S), "--repeats", "1", "--profile", "smoke", "--out", str(driver.out))
    for rows_before in (0, 2):
        wait_for(lambda n=rows_before: rows_now(driver) == n and driver.measured_tool_running(proc), proc,
                 f"a measured level after {rows_before} rows")
        time.sleep(0.5)
        assert run_cgroups(driver.run_dir().name)  # the server's cgroup exists while it runs
        assert driver.kill_server(proc) >= 2  # Granian's main process and its worker
    proc.wait(timeout=90)
    stderr = driver.stderr(proc)
    assert "Traceback" not in stderr
    assert "django-wsgi: server died (django-wsgi exited with status -9" in stderr
    assert "restarting it once" in stderr
    run, rows = read_run(driver.run_dir())
    assert validate_run(run) == [] and run["status"] == "complete"
    info = run["stacks"]["django-wsgi"]
    assert info["restarts"] == 1
    assert info["status"] == "failed" and info["reason"].startswith("server died again, stack abandoned")
    assert_rows_follow_contract(driver.run_dir(), rows)
    by_key = {(row["endpoint"], row["concurrency"]): row for row in rows}
    assert set(by_key) == {("ping", 1), ("ping", 2), ("sync-io", 1)}
    for key in (("ping", 1), ("sync-io", 1)):
        row = by_key[key]
        assert row["status"] == "failed" and row["valid"] is False and row["rps"] is None
        assert "failed" in row["flags"]
        assert row["failure"].startswith("django-wsgi exited with status -9; log: ")
    ok = by_key[("ping", 2)]
    assert ok["status"] == "ok" and ok["valid"] and ok["rps"] > 0 and ok["error_count"] == 0
    assert_left_nothing(driver, proc, database, run)


# --- Ctrl-C, SIGTERM and --resume --------------------------------------------------------------
def interrupt(driver: Driver, proc: subprocess.Popen, sig: int, rows_before: int) -> None:
    """Signal the driver's process group (what Ctrl-C does) during a measured level."""
    wait_for(lambda: rows_now(driver) >= rows_before and driver.measured_tool_running(proc), proc,
             f"a measured level after {rows_before} rows")
    os.killpg(proc.pid, sig)
    proc.wait(timeout=60)


def assert_interrupted(driver: Driver, proc: subprocess.Popen, code: int, database: Settings,
                       mariadbd: int | None) -> list[dict]:
    stderr = driver.stderr(proc)
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr
    assert (f"interrupted; finished rows are kept; resume with: make bench RESUME={driver.run_dir()} "
            f"(or --resume {driver.run_dir()})") in stderr
    run, rows = read_run(driver.run_dir())
    assert validate_run(run) == [] and run["status"] == "interrupted" and run["ended_at"]
    assert_rows_follow_contract(driver.run_dir(), rows)
    assert all(row["status"] == "ok" and row["valid"] for row in rows)
    raw_files = {p.relative_to(driver.run_dir()) for p in (driver.run_dir() / "raw").rglob("*.txt")}
    assert raw_files == {Path(row["raw"]) for row in rows}  # the interrupted level left nothing half-written
    assert_left_nothing(driver, proc, database, run)
    assert mariadb.running_pid() == mariadbd  # the shared database was not the driver's to stop
    return rows


def test_sigint_and_sigterm_keep_finished_rows_and_resume_completes(driver, database):
    mariadbd = mariadb.running_pid()
    proc = driver.start("wrk", "--stacks", DJANGO, "--endpoints", "ping", "--concurrency", "1 2", "--duration",
                        str(LEVEL_S), "--repeats", "1", "--profile", "smoke", "--out", str(driver.out))
    interrupt(driver, proc, signal.SIGINT, rows_before=1)
    first = assert_interrupted(driver, proc, 130, database, mariadbd)
    assert 1 <= len(first) < 4

    proc = driver.start("wrk", "--resume", str(driver.run_dir()))
    interrupt(driver, proc, signal.SIGTERM, rows_before=len(first) + 1)
    second = assert_interrupted(driver, proc, 143, database, mariadbd)
    assert second[:len(first)] == first and len(first) < len(second) < 4

    proc = driver.run("wrk", "--resume", str(driver.run_dir()))
    assert proc.returncode == 0, driver.stderr(proc)
    run, rows = read_run(driver.run_dir())
    assert validate_run(run) == [] and run["status"] == "complete"
    assert rows[:len(second)] == second  # finished rows were not redone
    assert len(rows) == 4 and {row_key(row) for row in rows} == expected_keys(DJANGO.split(), ["wrk"], ["ping"],
                                                                              [1, 2])
    assert all(row["status"] == "ok" and row["valid"] for row in rows)
    assert all(info["status"] == "measured" for info in run["stacks"].values())
    assert_left_nothing(driver, proc, database, run)


# --- the database going away ------------------------------------------------------------------
def _binary(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin:/sbin")
    if not found:
        pytest.skip(f"{name} is not installed")
    return found


@pytest.fixture
def own_mariadb(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """A throwaway MariaDB (its own datadir and port) and its DATABASE_URL."""
    data, socket = tmp_path / "mysql", tmp_path / "mysqld.sock"
    as_root = ["--user=root"] if os.geteuid() == 0 else []
    subprocess.run([_binary("mariadb-install-db"), "--no-defaults", f"--datadir={data}",
                    "--auth-root-authentication-method=socket", "--skip-test-db", *as_root],
                   check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen([_binary("mariadbd"), "--no-defaults", f"--datadir={data}", f"--socket={socket}",
                               f"--port={port}", "--bind-address=127.0.0.1", "--skip-name-resolve",
                               f"--log-error={tmp_path / 'mysql-error.log'}", "--innodb-buffer-pool-size=64M",
                               "--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci", *as_root],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = MySQLdb.connect(unix_socket=str(socket), user="root", autocommit=True)
                break
            except MySQLdb.OperationalError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        cur = conn.cursor()
        cur.execute("CREATE DATABASE lab_gone CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        cur.execute("CREATE USER 'bench'@'127.0.0.1' IDENTIFIED BY 'bench-pw'")
        cur.execute("GRANT ALL PRIVILEGES ON *.* TO 'bench'@'127.0.0.1'")
        conn.close()
        yield f"mysql://bench:bench-pw@127.0.0.1:{port}/lab_gone", server
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=60)


def test_database_going_away_is_a_clear_message_not_a_traceback(driver, own_mariadb):
    url, mariadbd = own_mariadb
    proc = driver.start("wrk", "--stacks", "django-wsgi", "--endpoints", "sync-io", "--concurrency", "1 2",
                        "--duration", str(LEVEL_S), "--repeats", "1", "--profile", "smoke", "--out", str(driver.out),
                        env={"DATABASE_URL": url})
    wait_for(lambda: driver.measured_tool_running(proc), proc, "the first measured level")
    time.sleep(0.5)
    mariadbd.terminate()  # what scripts/db.sh stop does
    mariadbd.wait(timeout=60)
    proc.wait(timeout=90)
    stderr = driver.stderr(proc)
    assert proc.returncode == 1, stderr
    assert "Traceback" not in stderr and "Exception in thread" not in stderr, stderr
    assert "database went away" in stderr
    assert "stopping the run (finished rows are kept)" in stderr
    run, rows = read_run(driver.run_dir())
    assert validate_run(run) == [] and run["status"] == "failed"
    assert run["stacks"]["django-wsgi"]["status"] == "failed"
    assert "database went away" in run["stacks"]["django-wsgi"]["reason"]
    assert_rows_follow_contract(driver.run_dir(), rows)
    assert [(row["concurrency"], row["status"]) for row in rows] == [(1, "failed")]
    assert "database went away" in rows[0]["failure"] and rows[0]["rps"] is None
    assert_left_nothing(driver, proc, None, run)


# --- bad options ------------------------------------------------------------------------------
BAD_OPTIONS = [
    ["--stacks", "nginx"], ["--endpoints", "foo"], ["--concurrency", "1 x"], ["--concurrency", "0"],
    ["--duration", "abc"], ["--repeats", "0"], ["--profile", "fast"], ["--bogus"],
    ["--url", "http://example.com"], ["--resume", "/nonexistent"], ["--tool", "ab"],
    ["--round-budget", "-1"], ["--round-budget", "ten"],
]


@pytest.mark.parametrize("tool", ["wrk", "ab"])
@pytest.mark.parametrize("args", BAD_OPTIONS, ids=" ".join)
def test_bad_option_exits_2_with_one_line_and_starts_nothing(tmp_path, args, tool):
    marker = uuid.uuid4().hex
    out = tmp_path / "out"
    started = time.monotonic()
    proc = subprocess.run([SCRIPTS[tool], *args, "--out", str(out)], capture_output=True, text=True, timeout=30,
                          env=driver_env("lab_test_driver_unused", tmp_path / "io", marker))
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"run_{tool}.sh: ") or lines[0].startswith(f"bench/run_{tool}.sh: ")
    assert args[0] in lines[0]
    assert "not allowed" in lines[0] or "unrecognized arguments" in lines[0]
    assert not out.exists() and not (tmp_path / "io").exists()
    assert marked_processes(marker) == {}
    assert time.monotonic() - started < 10  # refused at once, before any database or server work


# --- one run at a time, SIGINT however started, missing tools ---------------------------------
def test_a_second_run_is_refused_while_one_is_measuring(driver, database):
    first = driver.start("wrk", "--stacks", "django-wsgi", "--endpoints", "ping", "--concurrency", "1 2",
                         "--duration", str(LEVEL_S), "--repeats", "2", "--profile", "smoke", "--out", str(driver.out))
    wait_for(lambda: driver.measured_tool_running(first), first, "the first run's first level")
    second = driver.run("wrk", "--stacks", "django-wsgi", "--endpoints", "ping", "--profile", "smoke",
                        "--out", str(driver.tmp_path / "second"))
    lines = driver.stderr(second).splitlines()
    assert second.returncode == 2 and len(lines) == 1, lines
    assert "another run is measuring on this machine" in lines[0] and f"pid {first.pid}" in lines[0]
    assert str(driver.out) in lines[0]  # names the run that holds the machine
    assert not (driver.tmp_path / "second").exists() and marked_processes(driver.marker(second)) == {}
    assert first.poll() is None  # the running one goes on
    os.kill(first.pid, signal.SIGINT)
    first.wait(timeout=30)


def test_sigint_stops_a_background_run_that_inherited_sigint_ignored(driver, database):
    """A shell script's `bench/run_wrk.sh ... &` starts the driver with SIGINT ignored;
    `kill -INT <pid>` (to the driver alone, not its group) must still stop it, fast and clean."""
    proc = driver.start("wrk", "--stacks", DJANGO, "--endpoints", "ping", "--concurrency", "1 2", "--duration",
                        str(LEVEL_S), "--repeats", "3", "--profile", "smoke", "--out", str(driver.out),
                        preexec=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    wait_for(lambda: rows_now(driver) >= 1 and driver.measured_tool_running(proc), proc, "a measured level")
    sent = time.monotonic()
    os.kill(proc.pid, signal.SIGINT)
    proc.wait(timeout=20)
    assert time.monotonic() - sent < 20
    assert proc.returncode == 130, driver.stderr(proc)
    run, rows = read_run(driver.run_dir())
    assert run["status"] == "interrupted" and run["failure"] == "stopped by SIGINT" and rows
    assert_left_nothing(driver, proc, database, run)


def test_missing_wrk_is_one_line_exit_2_and_nothing_started(tmp_path):
    """PATH holds everything but wrk: refused before the database, a server or a run folder."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for folder in ("/usr/local/bin", "/usr/bin", "/bin"):
        for program in Path(folder).iterdir():
            if program.name != "wrk" and not (bin_dir / program.name).exists():
                (bin_dir / program.name).symlink_to(program)
    marker = uuid.uuid4().hex
    out = tmp_path / "out"
    proc = subprocess.run([SCRIPTS["wrk"], "--profile", "smoke", "--out", str(out)], capture_output=True, text=True,
                          timeout=30, env={**driver_env("lab_test_driver_unused", tmp_path / "io", marker),
                                           "PATH": str(bin_dir)})
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == ["bench/run_wrk.sh: wrk not found on PATH (scripts/setup.sh installs it)"]
    assert not out.exists() and marked_processes(marker) == {}


# --- levels that must not count -----------------------------------------------------------------
def test_a_level_too_short_for_its_concurrency_is_flagged_and_its_backlog_drained(driver, database):
    """64 connections on the ~10 RPS users page cannot each complete 3 requests within the
    smoke profile's 3 s cap: the window is capped, the row is too_short, and the servers'
    backlog is drained before the run goes on."""
    proc = driver.run("wrk", "--stacks", "django-wsgi", "--endpoints", "sync", "--concurrency", "64",
                      "--duration", "1", "--repeats", "1", "--profile", "smoke", "--out", str(driver.out))
    assert proc.returncode == 0, driver.stderr(proc)
    run, (row,) = read_run(driver.run_dir())
    assert row["window"]["capped"] and row["window"]["planned_s"] == 3
    assert row["requests"] < row["window"]["min_requests"] == 3 * 64
    assert "too_short" in row["flags"]
    assert row["drain"]["after_s"] > 0.2  # the abandoned requests were waited out, not ignored
    assert_left_nothing(driver, proc, database, run)


def test_levels_measured_beside_a_cpu_burner_are_flagged_noisy(driver, database):
    """A process that is not the lab's spins on the server's CPU for the whole run."""
    burner = subprocess.Popen(["taskset", "-c", format_cpus(database.server_cpus), sys.executable, "-c",
                               "while True: pass"], start_new_session=True)
    try:
        proc = driver.run("wrk", "--stacks", "django-wsgi", "--endpoints", "ping", "--concurrency", "2",
                          "--duration", "1", "--repeats", "2", "--profile", "smoke", "--out", str(driver.out))
    finally:
        burner.kill()
        burner.wait()
    assert proc.returncode == 0, driver.stderr(proc)
    run, rows = read_run(driver.run_dir())
    assert len(rows) == 2
    for row in rows:
        assert "noisy" in row["flags"], row["noise"]
        assert row["noise"]["foreign_cpu_share"] > 0.1  # the burner took a good part of the server CPU
