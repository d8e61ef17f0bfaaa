"""The PostgreSQL engine end to end, with the real server: a private PostgreSQL started,
migrated, seeded, audited and stopped with nothing left; each Django stack on it passing
the gate with the exact statement counts, the pool on and off (connections per request
from the server's own log); a short real run whose rows the analysis reads; bad values
refused in one line, nothing started."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import PG
from test_settings import lab_cgroups

from bench.driver.dbprobe import open_probe
from bench.driver.verify import verify
from bench.schema import validate_row, validate_run
from lab import db, mariadb, postgresql
from lab.config import ROOT, load
from lab.io_files import STATEMENTS_PER_REQUEST
from lab.net import free_port, port_in_use
from lab.serve import Server

MANAGE = [str(ROOT / ".venv" / "bin" / "python"), str(ROOT / "project" / "manage.py")]


def shared_memory_segments() -> set[str]:
    """System V segments (key, id) and POSIX ones in /dev/shm named like PostgreSQL's."""
    sysv = {" ".join(line.split()[:2]) for line in Path("/proc/sysvipc/shm").read_text().splitlines()[1:]}
    return sysv | {p.name for p in Path("/dev/shm").glob("PostgreSQL.*")}


def postgres_processes(data_dir: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(data_dir).encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def test_private_server_started_seeded_audited_and_stopped_with_nothing_left(tmp_path, monkeypatch):
    """A second private server in a folder of its own (the session's keeps running)."""
    folder = tmp_path / "postgresql"
    for name, path in (("PG_DIR", folder), ("DATA_DIR", folder / "data"), ("LOG_DIR", folder / "log"),
                       ("LOG_FILE", folder / "log" / "postgresql.csv"), ("STDERR_LOG", folder / "server.log")):
        monkeypatch.setattr(postgresql, name, path)
    port = free_port()
    env = {"DB_ENGINE": "postgresql", "PG_PORT": str(port), "DB_NAME": "lab_lifecycle"}
    settings = load(env)
    segments_before = shared_memory_segments()
    db.start(settings)
    try:
        pid = db.running_pid(settings)
        assert pid is not None and postgresql.is_lab_postgres(pid)
        assert port_in_use("127.0.0.1", port)
        for command in (["migrate", "--noinput", "-v", "0"], ["seed_users"]):
            subprocess.run(MANAGE + command, check=True, cwd=ROOT / "project", capture_output=True,
                           env={**os.environ, **env, "PYTHONPATH": str(ROOT)})
        probe = open_probe(settings)
        try:
            assert probe.variables()["server_version"].startswith(("15", "16", "17"))
            assert int(probe.query("SELECT COUNT(*) FROM lab_users")[0][0]) == 1000
            probe.audit_on()
            with postgresql.app_connection(settings) as conn:
                conn.execute("INSERT INTO lab_records (name, email, age, created_at, updated_at) "
                             "VALUES ('a', 'a@example.com', 1, now(), now())")
                conn.execute("DELETE FROM lab_records")
            log, intact = probe.audit_off()
            assert intact
            assert [kind for _, kind, _ in log] == ["Connect", "Query", "Query"]
            assert log[1][2].startswith("INSERT INTO lab_records") and log[2][2] == "DELETE FROM lab_records"
            assert probe.query("SHOW log_statement")[0][0] == "none"  # the log is off again
            assert probe.open_transactions() == 0 and probe.backlog() == 0
            # A transaction left open holds its snapshot: every transaction after it adds to the backlog
            # (the db_backlog_growth flag's reading) and it counts as open (db_open_transactions).
            with postgresql.app_connection(settings) as holder, postgresql.app_connection(settings) as writer:
                holder.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")  # a snapshot kept to the end, as InnoDB's
                holder.execute("SELECT COUNT(*) FROM lab_users").fetchone()
                for n in range(5):
                    writer.execute("INSERT INTO lab_records (name, email, age, created_at, updated_at) "
                                   "VALUES ('a', %s, 1, now(), now())", (f"{n}@example.com",))
                writer.execute("DELETE FROM lab_records")
                assert probe.open_transactions() == 1 and probe.backlog() >= 5
                holder.execute("COMMIT")
            assert probe.open_transactions() == 0 and probe.backlog() == 0
            assert probe.connected() == 1  # the probe's own session: nothing leaked
        finally:
            probe.close()
    finally:
        db.stop(settings)
    assert db.running_pid(settings) is None
    assert postgres_processes(folder / "data") == []
    assert not port_in_use("127.0.0.1", port)
    assert shared_memory_segments() <= segments_before
    assert not (folder / ".initdb-password").exists()
    assert (folder / "data" / "postgresql.auto.conf").read_text().count("log_statement") == 0


@pytest.mark.parametrize(("stack", "env", "connections"), [
    ("django-wsgi", {}, 0),  # persistent connections
    ("django-asgi", {"DJANGO_DB_POOL": "false"}, 1),  # a connection per request
    ("django-asgi", {"DJANGO_DB_POOL": "true"}, 0),  # psycopg's pool
    ("fastapi", {}, 0),
])
def test_each_stack_passes_the_gate_on_postgresql(pg_database, stack, env, connections, tmp_path):
    probe = open_probe(pg_database)
    try:
        with Server(stack, pg_database, port=free_port(), log_path=tmp_path / "server.log",
                    extra_env={**PG, **env}) as server:
            server.wait_ready()
            outcome = verify(stack, server.url, pg_database, probe)
    finally:
        probe.close()
    assert outcome["passed"], outcome["failed"]
    assert outcome["statement_audit"] == {"ran": True, "why": None}
    for endpoint, per_request in outcome["statements_per_request"].items():
        assert {k: per_request["workload"][k] for k in STATEMENTS_PER_REQUEST} == STATEMENTS_PER_REQUEST, endpoint
        assert per_request["connections"] == connections, (endpoint, per_request)
        assert per_request["transaction_control"] == {"begin": 8.0}, per_request


@pytest.mark.parametrize("serve_env", [
    {"USE_ASGI": "false"},
    {"USE_ASGI": "true", "DJANGO_DB_POOL": "true"},
    {"STACK": "fastapi"},
])
def test_each_app_served_by_hand_on_postgresql(pg_database, serve_env, tmp_path):
    """As the README prints it: `DB_ENGINE=postgresql make db`, then each app served by hand
    with `scripts/serve.sh` on PostgreSQL, its users page counted and the io workload answered,
    stopped with Ctrl-C."""
    env = {**os.environ, **PG, "IO_DIR": str(tmp_path / "io"), **serve_env}
    made = subprocess.run(["make", "db"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr[-2000:]
    port = free_port()
    serve = subprocess.Popen(["scripts/serve.sh", env.pop("STACK", "django"), "--port", str(port)], cwd=ROOT,
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
    try:
        banner = serve.stdout.readline()
        assert banner.startswith(("serving django-", "serving fastapi")), banner + serve.stderr.read()
        count = subprocess.run(f"curl -s http://127.0.0.1:{port}/sync/ | grep -c '<tr><td>'", shell=True,
                               capture_output=True, text=True, timeout=60)
        assert count.stdout.strip() == "1000", count
        info = json.loads(subprocess.run(["curl", "-s", f"http://127.0.0.1:{port}/info/"], capture_output=True,
                                         text=True, timeout=60).stdout)
        assert info["db_engine"] == "postgresql", info
        io = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                             f"http://127.0.0.1:{port}/sync/io/"], capture_output=True, text=True, timeout=60)
        assert io.stdout == "200"
    finally:
        os.killpg(serve.pid, 2)  # Ctrl-C
        serve.wait(timeout=30)
    assert not port_in_use("127.0.0.1", port)


RUN_DB = "lab_test_engines_run"


@pytest.fixture
def run_databases(database, pg_database):
    """The run's own database on each engine (it empties lab_records and audits), dropped after."""
    yield RUN_DB
    conn = mariadb.admin_connection(database)
    try:
        conn.cursor().execute(f"DROP DATABASE IF EXISTS `{RUN_DB}`")
    finally:
        conn.close()
    with postgresql.admin_connection(pg_database, dbname="postgres") as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {RUN_DB} WITH (FORCE)")


def test_a_short_run_on_both_engines_with_the_pool_as_an_axis(run_databases, tmp_path):
    """bench/run_wrk.sh --vary DB_ENGINE=mariadb,postgresql --vary DJANGO_DB_POOL=false,true:
    every unit passes the gate on its engine; the rows are engine-neutral and valid; the
    sampler's new connections per request agree with the gate's count from each server's own
    log (a second way); the report answers what the engine and the pool change."""
    out = tmp_path / "results"
    env = {**os.environ, "DB_NAME": run_databases, "IO_DIR": str(tmp_path / "io")}
    result = subprocess.run([ROOT / "bench" / "run_wrk.sh", "--stacks", "django-wsgi django-asgi", "--endpoints",
                             "sync-io", "--concurrency", "4", "--profile", "smoke", "--duration", "2",
                             "--repeats", "1", "--vary", "DB_ENGINE=mariadb,postgresql",
                             "--vary", "DJANGO_DB_POOL=false,true", "--out", str(out), "--report"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    run_dir = Path(os.path.realpath(out / "latest"))
    run = json.loads((run_dir / "run.json").read_text())
    rows = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    assert validate_run(run) == [] and run["status"] == "complete"
    assert set(run["metadata"]["databases"]) == {"mariadb", "postgresql"}
    assert run["metadata"]["databases"]["postgresql"]["server_version"].startswith(("15", "16", "17"))
    assert run["metadata"]["settings"]["database"]["password"] == "***"
    units = run["stacks"]
    assert set(units) == {"django-wsgi@DB_ENGINE=mariadb", "django-asgi@DB_ENGINE=mariadb",
                          "django-wsgi@DB_ENGINE=postgresql", "django-asgi@DB_ENGINE=postgresql,DJANGO_DB_POOL=0",
                          "django-asgi@DB_ENGINE=postgresql,DJANGO_DB_POOL=1"}
    assert all(info["verification"]["passed"] for info in units.values())
    opened = {}
    for row in rows:
        assert validate_row(row) == [], row
        assert row["status"] == "ok" and row["db"]["cpu_ms_per_req"] > 0
        opened[(row["stack"], row["variant"])] = (row["db"]["new_connections"], row["requests"])
    # A connection per request without the pool (give or take the requests in flight at the window's ends)...
    for unit in (("django-asgi", "DB_ENGINE=mariadb"), ("django-asgi", "DB_ENGINE=postgresql,DJANGO_DB_POOL=0")):
        new, requests = opened[unit]
        assert new / requests == pytest.approx(1.0, abs=0.2), unit
        assert units["@".join(unit)]["verification"]["statements_per_request"]["sync-io"]["connections"] == 1
    # ...and with the pool or WSGI's persistent connections, at most one per pool slot or thread (8), however many
    # requests: a thread the gate and the warm-up left unused opens its connection in the window.
    for unit in (("django-asgi", "DB_ENGINE=postgresql,DJANGO_DB_POOL=1"), ("django-wsgi", "DB_ENGINE=mariadb"),
                 ("django-wsgi", "DB_ENGINE=postgresql")):
        new, requests = opened[unit]
        assert new <= 8 < requests, (unit, new, requests)
    answer = next(line for line in (run_dir / "report.md").read_text().splitlines()
                  if "What do the database and Django's pool change?" in line)
    for setting in ("MariaDB", "PostgreSQL without a pool", "PostgreSQL with Django’s pool"):
        assert setting in answer
    assert answer.endswith("MariaDB 1, PostgreSQL without a pool 1, PostgreSQL with Django’s pool 0.")


@pytest.mark.parametrize(("env", "allowed"), [
    ({"DB_ENGINE": "oracle"}, "mariadb or postgresql"),
    ({"DB_ENGINE": "postgresql", "DJANGO_DB_POOL": "true", "DJANGO_CONN_MAX_AGE_ASGI": "60"},
     "Django's pool takes no persistent connections"),
    ({"DB_ENGINE": "mariadb", "DATABASE_URL": "postgresql://u:secret@127.0.0.1/lab"}, "the engine of DATABASE_URL"),
])
@pytest.mark.parametrize("command", [["scripts/db.sh", "start"], ["bench/run_wrk.sh", "--profile", "smoke"]])
def test_bad_database_values_exit_2_with_one_line_and_nothing_started(env, allowed, command, tmp_path):
    groups_before = lab_cgroups()
    out = tmp_path / "results"
    result = subprocess.run([*command, *(["--out", str(out)] if "bench" in command[0] else [])], cwd=ROOT,
                            env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and allowed in lines[0], lines
    assert "secret" not in result.stderr
    assert not out.exists() or not any(out.iterdir())
    assert lab_cgroups() == groups_before
