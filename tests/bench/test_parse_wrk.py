"""parse_wrk on real wrk output (fixtures/raw/wrk/), checked against wrk's own human report
in the same file, so a re-capture with other numbers still tests the same things."""

import json
import re
from pathlib import Path

import pytest

from bench.parse_wrk import parse_wrk
from bench.rawfile import read_raw
from bench.schema import ERROR_KEYS, LATENCY_KEYS
from bench.tool_result import ParseError, ToolResult

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "raw" / "wrk"
PARSEABLE = ["get", "post", "non_2xx", "timeouts", "server_killed", "no_response", "steady", "long_tail"]


def parse(name: str) -> tuple[ToolResult, str]:
    raw = read_raw(FIXTURES / f"{name}.txt")
    return parse_wrk(raw.stdout, raw.stderr), raw.stdout


def reported(stdout: str, pattern: str) -> int:
    """A count from wrk's human report, e.g. '16811 requests in 3.10s'."""
    return int(re.search(pattern, stdout).group(1))


def socket_errors(stdout: str) -> dict[str, int]:
    match = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", stdout)
    counts = [int(n) for n in match.groups()] if match else [0, 0, 0, 0]
    return dict(zip(("connect", "read", "write", "timeout"), counts, strict=True))


@pytest.mark.parametrize("name", PARSEABLE)
def test_every_run_fills_the_row_keys_and_agrees_with_wrks_report(name):
    result, stdout = parse(name)
    assert list(result.latency_ms) == list(LATENCY_KEYS)
    assert list(result.errors) == list(ERROR_KEYS)
    assert result.requests == reported(stdout, r"(\d+) requests in")
    assert {k: result.errors[k] for k in ("connect", "read", "write", "timeout")} == socket_errors(stdout)
    assert result.errors["length"] is None and result.errors["exceptions"] is None
    assert result.rps == pytest.approx(result.requests / result.elapsed_s)
    assert float(re.search(r"Requests/sec:\s+([\d.]+)", stdout).group(1)) == pytest.approx(result.rps, abs=0.01)


@pytest.mark.parametrize("name", ["get", "post", "non_2xx", "timeouts", "server_killed"])
def test_latency_is_ordered_and_in_milliseconds(name):
    result, stdout = parse(name)
    lat = result.latency_ms
    assert 0 < lat["p50"] <= lat["p75"] <= lat["p90"] <= lat["p99"] <= lat["p99_9"] <= lat["max"]
    assert lat["stdev"] > 0
    # wrk's report rounds ("561.00us", "2.55ms"); the JSON has the exact microseconds.
    p50 = re.search(r"50%\s+([\d.]+)(us|ms)", stdout)
    assert lat["p50"] == pytest.approx(float(p50.group(1)) / (1000 if p50.group(2) == "us" else 1), rel=0.01)


def summary_of(stdout: str) -> dict:
    return json.loads(stdout.split("WRK_SUMMARY_JSON ", 1)[1].splitlines()[0])


def test_the_row_latency_is_the_measured_one():
    result, stdout = parse("get")
    measured = summary_of(stdout)["latency_us"]
    assert result.measured_mean_ms == measured["mean"] / 1000 == result.latency_ms["mean"]
    assert result.latency_ms["p99"] == measured["p99"] / 1000


@pytest.mark.parametrize("name", ["get", "post", "non_2xx", "timeouts", "server_killed", "steady", "long_tail"])
def test_one_measured_sample_per_request_and_a_mean_never_above_wrks(name):
    """wrk drops latencies beyond --timeout; nothing else is missing. wrk adds samples only
    above its interval (the mean time per request on a connection, which is at least the
    mean latency), so taking them out can only lower the mean; the top bucket is untouched."""
    result, stdout = parse(name)
    summary = summary_of(stdout)
    measured, reported = summary["latency_us"], summary["latency_us_wrk"]
    assert result.requests - result.errors["timeout"] <= measured["samples"] <= result.requests
    assert measured["max"] == reported["max"]
    assert measured["mean"] <= reported["mean"] + 0.001


def test_without_a_long_tail_the_measured_figures_are_wrks_own():
    """No latency reached twice wrk's correction interval, so it added nothing: the script's
    own statistics over the histogram must then equal wrk's to the microsecond."""
    _, stdout = parse("steady")
    summary = summary_of(stdout)
    measured, reported = summary["latency_us"], summary["latency_us_wrk"]
    assert reported["max"] < 2 * summary["correction_us"]
    for key in ("mean", "stdev", "max", "p50", "p75", "p90", "p99", "p99_9"):
        assert measured[key] == pytest.approx(reported[key], abs=0.001), key


def test_a_long_tail_keeps_littles_law_once_wrks_added_samples_are_taken_out():
    """10 connections in a closed loop serve at most 10 / mean latency requests per second
    (less by the client's own gap between requests). wrk's corrected mean breaks that bound;
    the measured mean keeps it."""
    result, stdout = parse("long_tail")
    summary = summary_of(stdout)
    connections = 10
    assert summary["latency_us_wrk"]["max"] >= 2 * summary["correction_us"]  # the correction did add samples
    by_measured = connections / (result.latency_ms["mean"] / 1000)
    by_wrk = connections / (summary["latency_us_wrk"]["mean"] / 1e6)
    assert 0.90 * by_measured <= result.rps <= 1.02 * by_measured
    assert result.rps > 1.10 * by_wrk


def test_a_histogram_that_does_not_add_up_is_invalid():
    """A wrk whose correction differs from the one the script undoes would leave a sample
    count that does not match the requests: the level is disowned, not published."""
    raw = read_raw(FIXTURES / "get.txt")
    summary = summary_of(raw.stdout)
    wrong = raw.stdout.replace(f'"samples":{summary["latency_us"]["samples"]}',
                               f'"samples":{summary["requests"] // 2}', 1)
    result = parse_wrk(wrong, raw.stderr)
    assert not result.valid
    assert result.invalid_reason.startswith(f"wrk: {summary['requests'] // 2} latency samples for "
                                            f"{summary['requests']} requests")


def test_clean_get_is_valid_with_no_errors():
    result, _ = parse("get")
    assert result.valid and result.invalid_reason is None
    assert result.requests > 1000
    assert all(result.errors[k] == 0 for k in ("connect", "read", "write", "timeout", "non_2xx"))
    assert result.latency_ms["max"] < 1000


def test_post_carries_the_io_response():
    result, _ = parse("post")
    header = read_raw(FIXTURES / "post.txt").header
    assert "WRK_METHOD=POST" in header["env"]
    assert result.valid
    assert result.bytes / result.requests > 93  # the 93-byte JSON body plus headers


def test_non_2xx_responses_are_errors_not_invalid():
    result, stdout = parse("non_2xx")
    assert result.errors["non_2xx"] == reported(stdout, r"Non-2xx or 3xx responses: (\d+)")
    assert result.errors["non_2xx"] == pytest.approx(result.requests / 2, abs=2)
    assert result.valid


def test_timeouts_are_counted_and_left_out_of_latency():
    result, _ = parse("timeouts")
    assert result.errors["timeout"] > 0
    # the 1.5 s responses exceed --timeout 1s: wrk keeps them out of its latency stats
    assert result.latency_ms["max"] < 1000
    assert result.valid


def test_server_killed_mid_run_shows_socket_errors():
    result, _ = parse("server_killed")
    assert result.errors["read"] + result.errors["write"] + result.errors["connect"] > 0
    assert result.requests > 0 and result.valid


def test_no_completed_request_is_invalid_with_null_latency():
    result, _ = parse("no_response")
    assert result.requests == 0 and result.rps == 0
    assert not result.valid
    assert result.invalid_reason.startswith("wrk: no request completed")
    assert all(v is None for v in result.latency_ms.values())


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("closed_port", "wrk printed no summary: unable to connect to 127.0.0.1:"),
        ("bad_body_file", "wrk printed no summary: wrk_summary.lua: cannot read WRK_BODY_FILE"),
        ("killed", "wrk printed no summary: no output"),
    ],
)
def test_runs_without_a_summary_raise_with_wrks_message(name, message):
    raw = read_raw(FIXTURES / f"{name}.txt")
    assert raw.header["exit_code"] != "0"
    with pytest.raises(ParseError, match=re.escape(message)) as caught:
        parse_wrk(raw.stdout, raw.stderr)
    assert "\n" not in str(caught.value)
