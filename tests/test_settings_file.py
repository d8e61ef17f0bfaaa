"""What users type shows them what exists: every key lab/config.py reads is in the
commented settings.env, `scripts/serve.sh --list` prints the registry, the bench
scripts' -h is the driver's own help, and `make bench RESUME=` reaches the driver."""

import ast
import subprocess

import pytest

from bench.profiles import PROFILES
from lab.config import ROOT, SETTINGS_FILE
from lab.stacks import STACKS

READERS = {"raw", "int", "bool", "number", "choice"}
INTERNAL_PREFIX = "LAB_"  # set by the lab itself for the servers it starts, never by a user


def keys_read_by_config() -> set[str]:
    tree = ast.parse((ROOT / "lab" / "config.py").read_text())
    return {node.args[0].value for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in READERS
            and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
            and node.args[0].value.isupper()}


def test_every_setting_the_code_reads_is_in_settings_env():
    keys = keys_read_by_config()
    assert {"DATABASE_URL", "IO_DIR", "SERVER_HOST", "DB_LATENCY_MS"} <= keys  # the scan finds them
    in_file = {line.split("=", 1)[0] for line in SETTINGS_FILE.read_text().splitlines()
               if line and not line.startswith("#")}
    assert sorted(k for k in keys if not k.startswith(INTERNAL_PREFIX) and k not in in_file) == []


def test_serve_list_prints_the_registry():
    result = subprocess.run(["scripts/serve.sh", "--list"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert [line.split()[0] for line in result.stdout.splitlines()] == list(STACKS)


@pytest.mark.parametrize("tool", ["wrk", "ab", "openloop"])
def test_the_bench_scripts_help_is_the_drivers_own(tool):
    result = subprocess.run([f"bench/run_{tool}.sh", "-h"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: bench/run_{tool}.sh")
    for option in ("--vary", "--round-budget", "--resume", "--url", "--profile", "--report", "--rates", "--slo-ms"):
        assert option in result.stdout
    for name in PROFILES:
        assert name in result.stdout


def test_make_bench_resume_hands_the_folder_to_the_driver(tmp_path):
    result = subprocess.run(["make", "bench", f"RESUME={tmp_path / 'no-run'}"], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 2
    assert f"--resume '{tmp_path / 'no-run'}' is not allowed: a run folder holding run.json" in result.stderr
