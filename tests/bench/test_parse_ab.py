"""parse_ab on real ab output and -e CSVs (fixtures/raw/ab/), cross-checked against other
parts of the same capture (ab's "Finished N requests", its rounded report)."""

import re
from pathlib import Path

import pytest

from bench.parse_ab import parse_ab
from bench.rawfile import RawOutput, read_raw
from bench.schema import ERROR_KEYS, LATENCY_KEYS
from bench.tool_result import ParseError, ToolResult

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "raw" / "ab"
REPORTED = ["get", "post", "length", "non_2xx", "no_keepalive", "exceptions"]


def load(name: str) -> tuple[RawOutput, str | None]:
    raw = read_raw(FIXTURES / f"{name}.txt")
    csv = FIXTURES / raw.header["percentiles_csv"]
    return raw, csv.read_text() if csv.exists() else None


def parse(name: str) -> tuple[ToolResult, RawOutput]:
    raw, csv = load(name)
    return parse_ab(raw.stdout, csv, raw.stderr), raw


def reported(text: str, label: str) -> int:
    return int(re.search(rf"^{label}:?\s+(\d+)", text, re.MULTILINE).group(1))


def total_row(stdout: str) -> list[float]:
    """min, mean, sd, median, max of the Connection Times 'Total:' row."""
    return [float(n) for n in re.search(r"^Total:(.*)$", stdout, re.MULTILINE).group(1).split()]


@pytest.mark.parametrize("name", REPORTED)
def test_every_report_fills_the_row_keys_and_agrees_with_ab(name):
    result, raw = parse(name)
    assert list(result.latency_ms) == list(LATENCY_KEYS)
    assert list(result.errors) == list(ERROR_KEYS)
    assert result.requests == reported(raw.stderr, "Finished")  # ab's own stderr count
    assert result.elapsed_s == pytest.approx(2.0, abs=0.05)  # -t 2
    assert result.rps == pytest.approx(result.requests / result.elapsed_s, rel=1e-3)
    assert result.errors["timeout"] is None and result.errors["incomplete"] is None
    # Little's law needs the mean ab measured request by request (the Total row, whole ms),
    # not "Time per request", which ab computes from the count itself.
    assert result.measured_mean_ms == total_row(raw.stdout)[1]


@pytest.mark.parametrize("name", REPORTED)
def test_latency_comes_from_the_csv_and_is_ordered(name):
    result, raw = parse(name)
    lat = result.latency_ms
    assert 0 < lat["p50"] <= lat["p75"] <= lat["p90"] <= lat["p99"] <= lat["max"]
    assert lat["p99_9"] is None
    _, _, sd, _, rounded_max = total_row(raw.stdout)
    assert lat["stdev"] == sd
    assert abs(lat["max"] - rounded_max) <= 0.5  # the CSV's 100 % is the report's max, unrounded
    assert lat["mean"] == float(re.search(r"Time per request:\s+([\d.]+) \[ms\] \(mean\)\n", raw.stdout).group(1))


def test_without_the_csv_only_the_reports_figures_remain():
    raw, _ = load("get")
    result = parse_ab(raw.stdout, None, raw.stderr)
    assert [result.latency_ms[k] for k in ("p50", "p75", "p90", "p99", "p99_9")] == [None] * 5
    assert result.latency_ms["max"] == total_row(raw.stdout)[4]
    assert result.valid


@pytest.mark.parametrize("name", ["get", "post"])
def test_clean_runs_are_valid_and_all_keep_alive(name):
    result, raw = parse(name)
    assert result.valid and result.invalid_reason is None
    assert reported(raw.stdout, "Keep-Alive requests") == result.requests > 1000
    assert set(result.errors.values()) == {0, None}
    assert result.bytes == reported(raw.stdout, "Total transferred")


def test_post_sent_the_body_and_got_the_io_json():
    result, raw = parse("post")
    assert "-p bench/post_body.json -T application/json" in raw.header["command"]
    assert reported(raw.stdout, "Total body sent") > 0
    assert reported(raw.stdout, "Document Length") == 93
    assert result.bytes > 93 * result.requests


def test_length_failures_make_the_run_invalid():
    result, raw = parse("length")
    length = int(re.search(r"Length: (\d+)", raw.stdout).group(1))
    assert result.errors["length"] == length > 0
    assert not result.valid
    assert result.invalid_reason == f"ab: {length} of {result.requests} requests had Length failures"


def test_non_2xx_responses_are_errors_but_valid():
    result, raw = parse("non_2xx")
    assert result.errors["non_2xx"] == reported(raw.stdout, "Non-2xx responses")
    assert result.errors["non_2xx"] == pytest.approx(result.requests / 2, abs=2)
    assert result.valid


def test_connections_not_kept_alive_make_the_run_invalid():
    result, _ = parse("no_keepalive")
    assert result.requests > 0 and not result.valid
    assert result.invalid_reason == f"ab: only 0 of {result.requests} requests were keep-alive"


def test_exceptions_and_write_errors_make_the_run_invalid():
    result, raw = parse("exceptions")
    assert "Send request failed!" in raw.stdout  # printed into the report's stream
    connect, receive, length, exceptions = (int(n) for n in re.search(
        r"\(Connect: (\d+), Receive: (\d+), Length: (\d+), Exceptions: (\d+)\)", raw.stdout).groups())
    assert reported(raw.stdout, "Failed requests") == connect + receive + length + exceptions
    assert (result.errors["exceptions"], result.errors["length"]) == (exceptions, length)
    assert result.errors["exceptions"] > 0 and result.errors["write"] == reported(raw.stdout, "Write errors") > 0
    keep_alive = reported(raw.stdout, "Keep-Alive requests")
    assert not result.valid
    assert result.invalid_reason == (
        f"ab: {result.errors['write']} write errors; only {keep_alive} of {result.requests} requests were "
        f"keep-alive; {length} of {result.requests} requests had Length failures; {exceptions} Exceptions failures"
    )


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("aborted", re.escape("ab printed no report: Test aborted after 10 failures")),
        ("closed_port", re.escape("ab printed no report: apr_socket_recv: Connection refused (111)")),
        # a killed server resets open connections, or refuses ab's next one: which ab meets first is timing
        ("server_killed", r"ab printed no report: apr_socket_recv: Connection (reset by peer \(104\)|refused \(111\)); "
                          r"Total of \d+ requests completed"),
    ],
)
def test_aborted_runs_raise_with_abs_message(name, pattern):
    raw, csv = load(name)
    assert csv is None  # ab writes its CSV only with a report
    with pytest.raises(ParseError, match=pattern) as caught:
        parse_ab(raw.stdout, csv, raw.stderr)
    assert "\n" not in str(caught.value)
