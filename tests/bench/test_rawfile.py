"""bench.rawfile: the raw output survives a write/read byte-for-byte, whatever it holds."""

import shlex
from pathlib import Path

import pytest

from bench.rawfile import read_raw, write_raw

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "raw"
FIXED = {"command", "cpus", "started", "ended", "exit_code", "stdout_bytes", "stderr_bytes"}
TRICKY = [
    "",
    "no trailing newline",
    "# ---- stdout\n# ---- stderr\n# exit_code: 0\n",  # our own markers inside the output
    "\n# ---- stderr\n",
    "# key: value\nline\r\nwindows\r\n\n\n",
    "non-ASCII: µs – ü 漢字\n",
    b"server: \xff\xfe raw bytes\n".decode("utf-8", "surrogateescape"),
]


def write(path, stdout="out\n", stderr="", **overrides):
    args = {"command": ["wrk", "-s", "my script.lua", "http://127.0.0.1:8000/ping/"], "cpus": "0",
            "started": "2026-01-01T00:00:00.000+00:00", "ended": "2026-01-01T00:00:02.000+00:00",
            "exit_code": 0, "stdout": stdout, "stderr": stderr}
    write_raw(path, **{**args, **overrides})


@pytest.mark.parametrize("stdout", TRICKY)
@pytest.mark.parametrize("stderr", TRICKY)
def test_streams_round_trip_exactly(tmp_path, stdout, stderr):
    write(tmp_path / "raw.txt", stdout=stdout, stderr=stderr)
    raw = read_raw(tmp_path / "raw.txt")
    assert (raw.stdout, raw.stderr) == (stdout, stderr)


def test_header_records_command_times_exit_code_and_extra(tmp_path):
    command = ["ab", "-p", "body file.json", "-H", "X-Quote: it's", "http://127.0.0.1:8000/io/"]
    write(tmp_path / "raw.txt", command=command, exit_code=None, stdout="ab out\n",
          extra={"percentiles_csv": "ab-1.csv"})
    raw = read_raw(tmp_path / "raw.txt")
    assert shlex.split(raw.header["command"]) == command
    assert raw.header["exit_code"] == "none"
    assert raw.header["stdout_bytes"] == "7" and raw.header["stderr_bytes"] == "0"
    assert raw.header["percentiles_csv"] == "ab-1.csv"
    assert (tmp_path / "raw.txt").read_text().startswith("# command: ab -p 'body file.json' -H ")


def test_lengths_are_bytes_not_characters(tmp_path):
    write(tmp_path / "raw.txt", stdout="µ")
    assert read_raw(tmp_path / "raw.txt").header["stdout_bytes"] == "2"


@pytest.mark.parametrize(
    "overrides",
    [
        {"cpus": "0\n# exit_code: 0"},
        {"command": ["sh", "-c", "echo a\necho b"]},
        {"extra": {"exit_code": "0"}},
        {"extra": {"Bad Key": "x"}},
    ],
)
def test_header_that_could_not_be_read_back_is_refused(tmp_path, overrides):
    with pytest.raises(ValueError):
        write(tmp_path / "raw.txt", **overrides)
    assert not (tmp_path / "raw.txt").exists()


@pytest.mark.parametrize("damage", [lambda b: b[:-3], lambda b: b + b"more\n", lambda b: b"junk\n" + b])
def test_a_damaged_file_is_refused(tmp_path, damage):
    path = tmp_path / "raw.txt"
    write(path, stdout="line one\nline two\n", stderr="err\n")
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(ValueError, match="raw.txt"):
        read_raw(path)


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*/*.txt")), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_fixture_reads_back_and_rewrites_to_the_same_bytes(tmp_path, path):
    raw = read_raw(path)
    extra = {k: v for k, v in raw.header.items() if k not in FIXED}
    exit_code = None if raw.header["exit_code"] == "none" else int(raw.header["exit_code"])
    write_raw(tmp_path / "again.txt", command=shlex.split(raw.header["command"]), cpus=raw.header["cpus"],
              started=raw.header["started"], ended=raw.header["ended"], exit_code=exit_code,
              stdout=raw.stdout, stderr=raw.stderr, extra=extra)
    assert (tmp_path / "again.txt").read_bytes() == path.read_bytes()
