"""results.jsonl and run.json after power loss or `kill -9` (bench/driver/results.py, and the
analysis's reader in bench/analysis/frames.py): a torn last line is set aside, never lost,
and the run resumes; damage before the last line stops the driver with one clear line.
Every case starts from a real saved run (fixtures/runs/), cut the way a crash cuts it."""

import json
import os
import shutil
import stat
from pathlib import Path

import pytest
from saved_runs import RUN_DIRS

from bench.analysis.frames import RunError, load_run
from bench.driver.results import ResultsCorrupt, RunFiles
from bench.schema import DB_KEYS, SCHEMA_VERSION, upgrade_row, validate_row

SOURCE = RUN_DIRS[0]


@pytest.fixture
def files(tmp_path) -> RunFiles:
    """A copy of a saved run, as this schema version writes it (a saved run may be older)."""
    run_dir = tmp_path / SOURCE.name
    run_dir.mkdir()
    info = json.loads((SOURCE / "run.json").read_text())
    (run_dir / "run.json").write_text(json.dumps({**info, "schema_version": SCHEMA_VERSION}))
    (run_dir / "results.jsonl").write_text("".join(json.dumps(row) + "\n" for row in read_rows(SOURCE)))
    return RunFiles(run_dir)


def _lines(files: RunFiles) -> list[bytes]:
    return files.results.read_bytes().splitlines(keepends=True)


def _cut_last_line(files: RunFiles, tail: bytes | None = None) -> tuple[bytes, bytes, int]:
    """Cut the last row halfway (or replace it by `tail`, e.g. the zeros power loss can leave);
    returns the whole lines kept, the torn bytes and the torn line's number."""
    lines = _lines(files)
    kept = b"".join(lines[:-1])
    torn = lines[-1][: len(lines[-1]) // 2] if tail is None else tail
    files.results.write_bytes(kept + torn)
    return kept, torn, len(lines)


@pytest.mark.parametrize("tail", [None, b"\0" * 512], ids=["cut-mid-row", "zeros-after-power-loss"])
def test_a_torn_last_line_is_set_aside_and_the_row_measured_again(files, capsys, tail):
    whole = read_rows(SOURCE)
    kept, torn, number = _cut_last_line(files, tail)

    rows = files.rows()

    assert rows == whole[:-1]
    warning = capsys.readouterr().err.strip()
    assert warning == (f"bench: {files.results} line {number} is torn (not JSON); set aside in "
                       "results.jsonl.torn, the row will be measured again")
    assert files.results.read_bytes() == kept  # rewritten without it, ending on a newline
    assert (files.dir / "results.jsonl.torn").read_bytes() == torn + b"\n"
    assert not list(files.dir.glob("*.tmp"))

    files.append_row(whole[-1])  # the resumed run measures it again
    assert files.rows() == whole
    assert capsys.readouterr().err == ""  # set aside once, not on every read
    assert all(json.loads(line) for line in _lines(files))


def test_torn_text_is_appended_to_the_side_file_never_overwritten(files, capsys):
    whole = read_rows(SOURCE)
    _, first, _ = _cut_last_line(files)
    files.rows()
    files.append_row(whole[-1])
    _, second, _ = _cut_last_line(files, b'{"schema_version": 2, "run_id": "second cut')
    assert files.rows() == whole[:-1]
    assert (files.dir / "results.jsonl.torn").read_bytes() == first + b"\n" + second + b"\n"
    assert capsys.readouterr().err.count("is torn") == 2


def test_damage_before_the_last_line_is_an_error_naming_file_and_line(files):
    lines = _lines(files)
    lines[2] = lines[2][:40] + b"\n"  # rows follow it: not a write cut short at the end
    files.results.write_bytes(b"".join(lines))
    before = files.results.read_bytes()

    with pytest.raises(ResultsCorrupt) as caught:
        files.rows()

    message = str(caught.value)
    assert f"{files.results} line 3 " in message and "\n" not in message
    assert files.results.read_bytes() == before  # nothing rewritten, nothing set aside
    assert not (files.dir / "results.jsonl.torn").exists()


def test_a_row_appended_after_a_missing_newline_starts_a_line_of_its_own(files):
    whole = read_rows(SOURCE)
    files.results.write_bytes(files.results.read_bytes().rstrip(b"\n"))  # cut just before the newline

    files.append_row(whole[0])

    assert files.rows() == [*whole, whole[0]]
    assert files.results.read_bytes().endswith(b"\n")


def test_the_analysis_skips_a_torn_last_line_with_a_warning_and_writes_nothing(files):
    _, _, number = _cut_last_line(files)
    before = sorted((p.name, p.read_bytes()) for p in files.dir.iterdir())

    run = load_run(files.dir)

    assert len(run.rows) == len(read_rows(SOURCE)) - 1
    assert any(p.startswith(f"results.jsonl line {number}: torn") for p in run.problems)
    assert sorted((p.name, p.read_bytes()) for p in files.dir.iterdir()) == before


def test_the_analysis_names_damage_before_the_last_line(files):
    lines = _lines(files)
    lines[2] = b"garbage\n"
    files.results.write_bytes(b"".join(lines))
    problems = load_run(files.dir).problems
    assert any(p.startswith("results.jsonl line 3: not JSON, with rows after it") for p in problems)
    assert not any("torn" in p for p in problems)


def test_run_json_and_rewrites_reach_the_disk_before_and_after_the_rename(files, monkeypatch, capsys):
    """The order that makes a rewrite survive power loss: fsync the new file, rename it over
    the old one, fsync the folder. Recorded from the real system calls' arguments."""
    events = []
    real_fsync, real_replace = os.fsync, Path.replace

    def fsync(fd):
        info = os.fstat(fd)
        events.append(("fsync-dir" if stat.S_ISDIR(info.st_mode) else "fsync-file", info.st_ino))
        real_fsync(fd)

    def replace(self, target):
        events.append(("replace", self.stat().st_ino))
        return real_replace(self, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(Path, "replace", replace)
    run = json.loads(files.run_json.read_text())
    run["status"] = "interrupted"

    files.write_run(run)

    new = files.run_json.stat().st_ino
    folder = files.dir.stat().st_ino
    assert events == [("fsync-file", new), ("replace", new), ("fsync-dir", folder)]
    assert files.read_run() == run
    assert not (files.dir / "run.json.tmp").exists()

    events.clear()
    _cut_last_line(files)
    files.rows()
    rewritten = files.results.stat().st_ino
    assert events[-3:] == [("fsync-file", rewritten), ("replace", rewritten), ("fsync-dir", folder)]
    assert ("fsync-file", (files.dir / "results.jsonl.torn").stat().st_ino) in events[:-3]


def test_a_version_2_run_is_read_as_version_3_with_the_database_keys_renamed(tmp_path):
    """Version 3 names the database's state engine-neutrally; a saved version 2 run (MariaDB's
    names) reads with its keys and flag renamed, and follows the version 3 contract."""
    v2 = read_info_and_first_row(RUN_DIRS[0])
    assert v2["schema_version"] == 2 and "history_before" in v2["db"]
    v2["flags"] = ["db_history_growth"]
    row = upgrade_row(v2)
    assert row["schema_version"] == SCHEMA_VERSION == 3 and row["flags"] == ["db_backlog_growth"]
    assert set(row["db"]) == set(DB_KEYS)
    assert row["db"]["backlog_before"] == v2["db"]["history_before"]
    assert row["db"]["sessions_peak"] == v2["db"]["threads_connected_peak"]
    assert validate_row(row) == []
    assert upgrade_row(row) == row
    run = load_run(RUN_DIRS[0])
    assert run.info["schema_version"] == 3 and "db_backlog_before" in run.rows.columns
    old = tmp_path / "old"
    shutil.copytree(RUN_DIRS[0], old)
    info = json.loads((old / "run.json").read_text())
    (old / "run.json").write_text(json.dumps({**info, "schema_version": 1}))
    with pytest.raises(RunError, match="schema_version 1, this analysis reads 2 and 3"):
        load_run(old)


def read_info_and_first_row(run_dir: Path) -> dict:
    return json.loads((run_dir / "results.jsonl").read_text().splitlines()[0])


def read_rows(run_dir: Path) -> list[dict]:
    """The saved rows as this schema version writes them (upgraded when older)."""
    return [upgrade_row(json.loads(line)) for line in (run_dir / "results.jsonl").read_text().splitlines()]
