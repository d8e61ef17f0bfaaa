"""parse_openloop on real output of the lab's open-loop generator (fixtures/raw/openloop/,
captured by fixtures/raw/capture.py openloop), failures included, checked against the
generator's own report and the command that made it."""

import json
from pathlib import Path

import pytest

from bench.driver.rates import keeping_up, rate_flags
from bench.parse_openloop import parse_openloop
from bench.rawfile import read_raw
from bench.schema import ERROR_KEYS, LATENCY_KEYS, RATE_TOOL_KEYS, Flag
from bench.tool_result import ParseError, ToolResult

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "raw" / "openloop"
PARSEABLE = ["get", "post", "non_2xx", "saturated", "timeouts", "closed_port", "server_killed"]


def parse(name: str) -> tuple[ToolResult, dict, dict]:
    raw = read_raw(FIXTURES / f"{name}.txt")
    report = json.loads(raw.stdout)
    return parse_openloop(raw.stdout, raw.stderr), report, raw.header


def option(header: dict, name: str) -> str:
    words = header["command"].split()
    return words[words.index(name) + 1]


@pytest.mark.parametrize("name", PARSEABLE)
def test_every_run_fills_the_row_keys_and_agrees_with_the_generators_report(name):
    result, report, header = parse(name)
    assert list(result.latency_ms) == list(LATENCY_KEYS)
    assert list(result.errors) == list(ERROR_KEYS)
    assert set(result.rate) == set(RATE_TOOL_KEYS)
    assert result.requests == report["answered"]
    assert result.rps == report["achieved_rps"] == report["answered_in_window"] / report["duration_s"]
    assert result.rate["target_rps"] == float(option(header, "--rate"))
    assert result.elapsed_s == float(option(header, "--duration"))
    assert result.rate["connections_limit"] == int(option(header, "--connections"))
    assert result.rate["seed"] == int(option(header, "--seed"))
    assert result.errors["length"] is None and result.errors["exceptions"] is None  # not what it counts


@pytest.mark.parametrize("name", ["get", "post"])
def test_a_clean_run_answers_every_arrival_in_time_and_keeps_up(name):
    result, report, header = parse(name)
    assert result.valid and result.invalid_reason is None
    assert sum(result.errors[k] for k in ("connect", "read", "write", "timeout", "non_2xx", "incomplete")) == 0
    assert result.requests == report["scheduled"] == report["sent"]
    # the generator fixes the window's count: offered exactly the rate asked
    assert result.rate["scheduled"] == round(result.rate["target_rps"] * result.elapsed_s)
    assert result.rate["scheduled_rps"] == result.rate["target_rps"]
    assert rate_flags(result.rate, result.latency_ms) == []
    latency = result.latency_ms
    assert 0 < latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["max"]
    assert result.rate["service_p50_ms"] <= latency["p50"] + 0.5  # from the send, never much above from the due time


def test_a_post_run_sent_its_body_and_content_type():
    _, report, header = parse("post")
    assert report["method"] == "POST"
    assert "--body-file bench/post_body.json" in header["command"]
    assert "Content-Type: application/json" in header["command"]


def test_non_2xx_responses_are_errors_of_a_valid_run():
    result, report, _ = parse("non_2xx")
    assert result.valid
    assert result.errors["non_2xx"] == report["errors"]["non_2xx"]
    assert 0.4 < result.errors["non_2xx"] / result.requests < 0.6  # /mixed/ alternates 200 and 503


def test_a_saturated_server_is_flagged_and_its_latency_grows():
    """/busy/ takes about 200 a second; offered 400, it answers about half inside the window."""
    result, report, _ = parse("saturated")
    assert result.valid  # the tool ran; the verdict on the rate is the driver's flag
    assert result.rps < 0.75 * result.rate["scheduled_rps"]
    assert not keeping_up(result.rate["scheduled"], result.rps, result.rate["scheduled_rps"],
                          result.latency_ms["mean"])
    assert Flag.SATURATED.value in rate_flags(result.rate, result.latency_ms)
    assert result.latency_ms["p99"] > 10 * 5  # the queue: ten times the 5 ms each request takes


def test_timeouts_are_counted_and_left_out_of_the_latencies():
    result, _, _ = parse("timeouts")
    assert result.errors["timeout"] > 0
    assert result.latency_ms["max"] < 1000 + 100  # the 1.5 s responses were cut at the 1 s timeout


def test_a_closed_port_is_an_invalid_run_saying_why():
    raw = read_raw(FIXTURES / "closed_port.txt")
    assert raw.header["exit_code"] == "1"
    result = parse_openloop(raw.stdout, raw.stderr)
    assert not result.valid and "no connection" in result.invalid_reason
    assert result.requests == 0 and result.errors["connect"] > 0


def test_a_killed_server_leaves_failed_requests_and_an_invalid_run():
    result, report, _ = parse("server_killed")
    assert result.errors["read"] + result.errors["connect"] + result.errors["incomplete"] == report["scheduled"]
    assert not result.valid and "none of" in result.invalid_reason


def test_a_bad_option_is_no_report_with_the_generators_own_message():
    raw = read_raw(FIXTURES / "bad_rate.txt")
    assert raw.header["exit_code"] == "2"
    with pytest.raises(ParseError, match="openloop printed no report: usage"):
        parse_openloop(raw.stdout, raw.stderr)


def test_nothing_at_all_is_a_parse_error():
    with pytest.raises(ParseError, match="no output"):
        parse_openloop("", "")
