"""The load tool adapters (bench/load_tools/): one per tool id, their commands, their parsers
on real saved output (fixtures/raw/), their limits, and that they only describe (they
start nothing and import nothing of the driver)."""

from pathlib import Path

import pytest
from test_rooms import imported

from bench.load_tools import TOOLS, adapter, is_cross_check
from bench.load_tools.ab import cannot_send
from bench.load_tools.base import LoadRequest
from bench.rawfile import read_raw
from bench.schema import Tool
from lab.config import ROOT

RAW = ROOT / "fixtures" / "raw"
BODY = Path("/lab/bench/post_body.json")


JSON = (("Content-Type", "application/json"),)


def request(method: str = "GET", concurrency: int = 8, threads: int = 2, side_file: Path | None = None,
            headers: tuple[tuple[str, str], ...] | None = None):
    body = BODY if method in ("POST", "PUT", "PATCH") else None
    return LoadRequest("http://127.0.0.1:8000/ping/", method, concurrency, 5, threads, ("taskset", "-c", "1,2"),
                       body, 30, side_file, JSON if headers is None and body else headers or ())


def test_every_tool_id_has_its_adapter_and_an_adapter_its_program():
    assert list(TOOLS) == list(Tool)
    assert all(tool.id == key and tool.program == tool.version_command[0] for key, tool in TOOLS.items())
    assert adapter("wrk") is TOOLS[Tool.WRK] and adapter("siege") is None


@pytest.mark.parametrize(("concurrency", "threads"), [(1, 1), (2, 2), (64, 3)])
def test_wrk_runs_a_thread_per_client_cpu_and_never_more_than_connections(concurrency, threads):
    command = TOOLS[Tool.WRK].invocation(request(concurrency=concurrency, threads=3)).command
    assert command[:4] == ["taskset", "-c", "1,2", "wrk"]
    assert f"-t{threads}" in command and f"-c{concurrency}" in command and command[-1].endswith("/ping/")


def test_wrk_hands_the_method_and_body_to_its_script_and_records_them():
    get, post = (TOOLS[Tool.WRK].invocation(request(method)) for method in ("GET", "POST"))
    assert get.env["WRK_BODY_FILE"] == "" and post.env["WRK_BODY_FILE"] == str(BODY)
    assert post.env["WRK_HEADERS"] == "Content-Type: application/json" and "WRK_HEADERS" not in get.env
    assert post.raw_header == {"env": f"WRK_METHOD=POST WRK_BODY_FILE={BODY} WRK_CONNECTIONS=8 "
                                      "WRK_HEADERS='Content-Type: application/json'"}
    script = Path(post.command[post.command.index("-s") + 1])
    assert script == ROOT / "bench" / "wrk_summary.lua" and script.is_file()


def test_ab_writes_its_percentiles_only_for_a_kept_run_and_posts_the_body():
    kept = TOOLS[Tool.AB].invocation(request("POST", side_file=Path("/run/raw/x.csv")))
    discarded = TOOLS[Tool.AB].invocation(request())
    assert kept.command[kept.command.index("-e") + 1] == "/run/raw/x.csv"
    assert kept.raw_header == {"percentiles_csv": "x.csv"}
    assert kept.command[kept.command.index("-p") + 1] == str(BODY)
    assert "-e" not in discarded.command and "-p" not in discarded.command and discarded.raw_header == {}
    assert discarded.command.index("-n") > discarded.command.index("-t")  # -t alone caps ab at 50,000 requests


def test_header_values_other_than_content_type_are_sent_but_never_recorded():
    secret = (("Authorization", "Bearer s3cret"), ("Content-Type", "text/csv"))
    wrk = TOOLS[Tool.WRK].invocation(request("POST", headers=secret))
    assert "Authorization: Bearer s3cret" in wrk.env["WRK_HEADERS"] and "s3cret" not in str(wrk.raw_header)
    assert "Authorization: <not recorded>" in wrk.raw_header["env"] and "text/csv" in wrk.raw_header["env"]
    ab = TOOLS[Tool.AB].invocation(request("POST", headers=secret))
    assert ab.command[ab.command.index("-H") + 1] == "Authorization: Bearer s3cret"
    assert ab.command[ab.command.index("-T") + 1] == "text/csv"
    assert "s3cret" not in " ".join(ab.recorded_command) and "Authorization: <not recorded>" in ab.recorded_command
    plain = TOOLS[Tool.AB].invocation(request())
    assert plain.recorded_command is plain.command  # nothing to hide: the command itself


def test_ab_sends_each_method_its_own_way_or_says_it_cannot():
    assert TOOLS[Tool.AB].invocation(request("PUT")).command[-5:-1] == ["-u", str(BODY), "-T", "application/json"]
    assert TOOLS[Tool.AB].invocation(request("DELETE")).command[-3:-1] == ["-m", "DELETE"]
    assert cannot_send("PATCH", True) == ("ab cannot send a body with PATCH (only with POST or PUT): "
                                          "measure it with wrk")
    assert cannot_send("DELETE", False) is None and cannot_send("PUT", True) is None


@pytest.mark.parametrize(("tool", "name", "checkable"), [(Tool.WRK, "get", True), (Tool.AB, "get", False)])
def test_a_whole_millisecond_mean_is_too_coarse_for_littles_law(tool, name, checkable):
    raw = read_raw(RAW / str(tool) / f"{name}.txt")
    side = RAW / str(tool) / f"{name}.csv"
    result = TOOLS[tool].parse(raw.stdout, raw.stderr, side.read_text() if side.exists() else None)
    assert result.measured_mean_ms is not None and result.measured_mean_ms < 20
    assert (TOOLS[tool].checkable_mean(result) == result.measured_mean_ms) is checkable


def test_ab_only_cross_checks_wrk_when_wrk_runs_too():
    assert is_cross_check("ab", ["wrk", "ab"]) and not is_cross_check("ab", ["ab"])
    assert not is_cross_check("wrk", ["wrk", "ab"]) and not is_cross_check("siege", ["wrk"])


def test_the_adapters_start_nothing_and_import_nothing_of_the_driver():
    for path in sorted((ROOT / "bench" / "load_tools").glob("*.py")):
        names = imported(path)
        assert not {"subprocess", "os"} & names, path
        assert not [n for n in names if n.startswith("bench.driver")], path
