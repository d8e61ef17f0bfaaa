"""Every command the README prints is run by a test, so a README command cannot break
unseen: the commands are read from the README itself (its shell blocks and the commands
in backticks), each must match a row of COVERED naming the test that runs it (the long
ones with their cheapest options), and that test must exist. The walk-through of serving
by hand is run here, step by step, as the README prints it."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from lab.config import ROOT
from lab.net import free_port, port_in_use

README = ROOT / "README.md"
COMMAND = re.compile(r"^(?:[A-Z_]+=\S+ )*(?:make\b|(?:scripts|bench)/\S+\.sh\b|python -m |curl )")
# README command (a regular expression over the command as printed) -> "file::test" that runs it.
COVERED: dict[str, str] = {
    r"make bench": "tests/test_make_bench.py::test_make_bench_smoke_writes_report_and_charts",
    r"make test": ".ci/run",  # CI runs it, as the README prints it
    r"make bench RESUME=results/<run-id>": "tests/test_readme_commands.py::test_serving_by_hand_as_the_readme_shows",
    r"make bench PROFILE=\.\.\.": "tests/test_make_bench.py::test_make_bench_smoke_writes_report_and_charts",
    r"bench/run_wrk\.sh --resume results/<run-id>": ("tests/bench/test_driver_faults.py::"
                                                     "test_sigint_and_sigterm_keep_finished_rows_and_resume_completes"),
    r"make report RUN=results/<run-id>": "tests/test_readme_commands.py::test_serving_by_hand_as_the_readme_shows",
    r'make compare RUNS="results/(A results/B|<first-run> results/<second-run>)"':
        "tests/test_readme_commands.py::test_serving_by_hand_as_the_readme_shows",
    r"scripts/setup\.sh( && make db)?": "tests/test_readme_commands.py::test_make_db_is_idempotent",
    r"scripts/serve\.sh --list": "tests/test_settings_file.py::test_serve_list_prints_the_registry",
    r"(USE_ASGI=(true|false) )?scripts/serve\.sh django": "tests/test_readme_commands.py::"
                                                          "test_serving_by_hand_as_the_readme_shows",
    r"curl -s http://127\.0\.0\.1:8000/(a?sync)/ \| grep -c '<tr><td>'":
        "tests/test_readme_commands.py::test_serving_by_hand_as_the_readme_shows",
    r'bench/run_wrk\.sh --url http://127\.0\.0\.1:8000 --endpoints "ping sync"':
        "tests/test_readme_commands.py::test_serving_by_hand_as_the_readme_shows",
    r"bench/run_wrk\.sh": "tests/test_readme_commands.py::test_serving_by_hand_as_the_readme_shows",
    r"bench/run_wrk\.sh -h": "tests/test_settings_file.py::test_the_bench_scripts_help_is_the_drivers_own",
    r"bench/run_wrk\.sh --app ~/notes\.toml --report": "tests/test_readme_commands.py::"
                                                       "test_your_own_app_as_the_readme_shows",
    r"bench/run_ab\.sh --app": "tests/bench/test_app_run.py::test_ab_posts_the_requests_body_with_its_content_type",
    r"DB_ENGINE=postgresql make db": "tests/test_postgresql.py::test_each_app_served_by_hand_on_postgresql",
    r"DB_ENGINE=postgresql (DJANGO_DB_POOL=true )?(USE_ASGI=(true|false) )?scripts/serve\.sh (django|fastapi)":
        "tests/test_postgresql.py::test_each_app_served_by_hand_on_postgresql",
    r"scripts/serve\.sh fastapi": "tests/test_postgresql.py::test_each_app_served_by_hand_on_postgresql",
    r"DB_ENGINE=postgresql make bench": ("tests/test_make_bench.py::"
                                        "test_make_bench_on_postgresql_writes_report_and_charts"),
    r"(DB_ENGINE=postgresql )?make bench PROFILE=(pool|databases)": (
        "tests/test_make_bench.py::test_make_bench_profile_openloop_measures_with_wrk_and_the_open_loop_generator"),
    r"make bench PROFILE=openloop": ("tests/test_make_bench.py::"
                                     "test_make_bench_profile_openloop_measures_with_wrk_and_the_open_loop_generator"),
    r'bench/run_openloop\.sh( --rates "[^"]+")?( --slo-ms \d+)?( --endpoints \S+)?( --report)?':
        "tests/bench/test_openloop_run.py::test_the_run_measures_capacity_with_wrk_then_rates_with_the_generator",
}


def readme_commands() -> list[str]:
    """Shell-block lines (comments dropped) and backticked spans that are commands."""
    text = README.read_text(encoding="utf-8")
    found = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line and not line.startswith("#"):
                found.append(line)
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    found += [span.strip() for span in re.findall(r"`([^`\n]+)`", prose)]
    return list(dict.fromkeys(c for c in found if COMMAND.match(c)))


def test_the_readme_prints_commands():
    assert {"make bench", "make test"} <= set(readme_commands())


@pytest.mark.parametrize("command", readme_commands())
def test_every_readme_command_is_run_by_a_test_that_exists(command):
    tests = [test for pattern, test in COVERED.items() if re.fullmatch(pattern, command)]
    assert tests, f"README command {command!r} is run by no test: add it to COVERED with the test that runs it"
    path, _, name = tests[0].partition("::")
    source = (ROOT / path).read_text(encoding="utf-8")
    assert (f"def {name}(" in source) if name else "make test" in source, tests[0]


def test_make_db_is_idempotent(database):
    """`scripts/setup.sh && make db`, the README's once-only step, again on a set-up machine: it
    finds everything done, the seeded users in place."""
    result = subprocess.run("scripts/setup.sh && make db", shell=True, cwd=ROOT, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def _serve(env: dict[str, str], port: int, use_asgi: str) -> subprocess.Popen:
    serve = subprocess.Popen(["scripts/serve.sh", "django", "--port", str(port)], cwd=ROOT,
                             env={**env, "USE_ASGI": use_asgi}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, start_new_session=True)
    banner = serve.stdout.readline()
    assert banner.startswith("serving django-"), banner + serve.stderr.read()
    return serve


def _stop(serve: subprocess.Popen) -> None:
    os.killpg(serve.pid, 2)  # Ctrl-C, as the README says
    serve.wait(timeout=30)


def test_serving_by_hand_as_the_readme_shows(database, tmp_path):
    """The README's walk-through with its cheapest options (a free port for 8000, the smoke
    profile): WSGI then ASGI served by hand, the users page counted with curl, a run against
    each, `make compare` of the two, `make report` of one, and `make bench RESUME=` of a
    complete run, which measures nothing again."""
    env = {**os.environ, "IO_DIR": str(tmp_path / "io")}
    out = tmp_path / "results"
    port = free_port()
    runs = []
    for use_asgi, page in (("false", "sync"), ("true", "async")):
        serve = _serve(env, port, use_asgi)
        try:
            count = subprocess.run(f"curl -s http://127.0.0.1:{port}/{page}/ | grep -c '<tr><td>'", shell=True,
                                   capture_output=True, text=True, timeout=60)
            assert count.stdout.strip() == "1000", count
            run = subprocess.run(["bench/run_wrk.sh", "--url", f"http://127.0.0.1:{port}", "--endpoints",
                                  "ping sync", "--profile", "smoke", "--out", str(out)], cwd=ROOT, env=env,
                                 capture_output=True, text=True, timeout=300)
            assert run.returncode == 0, run.stderr[-2000:]
            runs.append(max((p.parent for p in out.glob("*/run.json") if not p.parent.is_symlink()),
                            key=lambda p: p.stat().st_mtime))
            if use_asgi == "true":  # resuming a --url run checks its server again: while it is up
                rows = (runs[-1] / "results.jsonl").read_text()
                resume = subprocess.run(["make", "bench", f"RESUME={runs[-1]}"], cwd=ROOT, env=env,
                                        capture_output=True, text=True, timeout=300)
                assert resume.returncode == 0, resume.stderr[-2000:]
                assert (runs[-1] / "results.jsonl").read_text() == rows  # complete: nothing measured again
        finally:
            _stop(serve)
        time.sleep(1.1)  # run ids are to the second
    assert len(set(runs)) == 2
    compare = subprocess.run(["make", "compare", f"RUNS={runs[0]} {runs[1]}"], cwd=ROOT, capture_output=True,
                             text=True, timeout=300)
    assert compare.returncode == 0, compare.stderr[-2000:]
    assert "django-wsgi" in compare.stdout and "django-asgi" in compare.stdout
    report = subprocess.run(["make", "report", f"RUN={runs[0]}"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert report.returncode == 0 and (runs[0] / "report.md").stat().st_size > 0, report.stderr[-2000:]
    assert not port_in_use("127.0.0.1", port)  # the servers stopped by Ctrl-C are gone


def _shell_block(path: Path, heading: str) -> list[str]:
    """The lines of the first shell block under `## heading` (comments dropped)."""
    section = path.read_text(encoding="utf-8").split(f"## {heading}\n", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, flags=re.S).group(1)
    return [re.sub(r"\s+#.*$", "", line).strip() for line in block.splitlines() if line.strip()]


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*")) if ".venv" not in p.parts and "var" not in p.parts}


def test_your_own_app_as_the_readme_shows(tmp_path):
    """The example as a user's project outside the repository, as docs/app-file.md prints it
    (HOME is a temporary folder: its own virtualenv from the package index, its own SQLite
    database), measured by the README's command with its cheapest options (the smoke
    profile, Granian's two stacks, two requests, one of them writing), twice. The report answers
    for the app and pools the earlier run; `make compare` reads both; the app's folder is
    unchanged but for the database it keeps in var/; no server is left; no value of its
    variables reaches the run's files."""
    env = {**os.environ, "HOME": str(tmp_path)}
    steps = _shell_block(ROOT / "docs" / "app-file.md", "The example")
    done = subprocess.run(" && ".join(steps), shell=True, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600, executable="/bin/bash")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    folder = tmp_path / "notes"
    before = _digest(folder)
    [command] = [c for c in readme_commands() if c.startswith("bench/run_wrk.sh --app")]
    out = tmp_path / "results"
    runs = []
    for _ in range(2):  # twice: the second report pools the first, and `make compare` reads both
        run = subprocess.run(command.replace("~", str(tmp_path)).split() + [
            "--profile", "smoke", "--stacks", "django-wsgi,django-asgi", "--endpoints", "list,add", "--out",
            str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        assert "bench: app notes (" in run.stdout and "requests that write, as the app file says: add" in run.stdout
        runs.append(next(p for p in out.iterdir() if not p.is_symlink() and p not in runs))
        time.sleep(1.1)  # run ids are to the second
    first, run_dir = runs
    compare = subprocess.run(["make", "compare", f"RUNS={first} {run_dir}"], cwd=ROOT, capture_output=True,
                             text=True, timeout=300)
    assert compare.returncode == 0 and "list (GET /)" in compare.stdout, compare.stdout[-2000:] + compare.stderr
    report = (run_dir / "report.md").read_text()
    assert f"A = {first.name}, B = {run_dir.name} (this run)" in report  # the earlier run like it, pooled
    assert report.startswith("# Benchmark report: app notes, run ")
    assert "- **ASGI or WSGI for this app (notes)? " in report and "Is FastAPI worth it" not in report
    assert "list (GET /)" in report and "add (POST /notes/)" in report
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "complete" and info["metadata"]["app"]["writing_requests"] == ["add"]
    assert info["metadata"]["app"]["python"] == str(folder / ".venv" / "bin" / "python")
    rows = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    assert {(r["stack"], r["endpoint"]) for r in rows} == {(s, e) for s in ("django-wsgi", "django-asgi")
                                                            for e in ("list", "add")}
    assert all(r["status"] == "ok" and r["db"]["cpu_pct"] is None for r in rows)
    assert _digest(folder) == before
    every_file = " ".join(p.read_text(errors="replace") for p in run_dir.rglob("*") if p.is_file()
                          and p.suffix in ("", ".json", ".jsonl", ".md", ".txt", ".log", ".body", ".html"))
    assert "NOTES_SECRET_KEY" in every_file and "example-only-not-a-secret" not in every_file
    left = subprocess.run(["pgrep", "-af", str(folder)], capture_output=True, text=True).stdout
    assert not left, left
