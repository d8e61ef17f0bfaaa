"""The report pools a run with the earlier runs like it in its folder (bench/analysis/report/earlier.py):
real saved runs copied side by side, the pooled ratios recomputed here from their rows,
and every kind of run that must not be pooled left out."""

from pathlib import Path

from saved_runs import asgi_over_wsgi_by_round, copy, most_rounds, read_info, read_rows, write_run
from scipy import stats as scipy_stats

from bench.analysis.frames import load_run
from bench.analysis.report import earlier, report


def dated(source: Path, folder: Path, minute: int, rps_factor: float = 1.0, **changes) -> Path:
    """A copy of a real run (3 rounds at least) into `folder`, started at 10:<minute>, with
    ASGI's rates scaled and run.json's top-level keys changed."""
    run_id = f"20261201T10{minute:02d}00Z-wrk-ab"
    scratch = copy(source, folder.parent / f"scratch-{folder.name}-{minute}", rounds=3, rps_factor=rps_factor,
                   scaled_stack="django-asgi")
    info = read_info(scratch) | {"run_id": run_id, "started_at": f"2026-12-01T10:{minute:02d}:00.000Z"} | changes
    rows = [r | {"run_id": run_id} for r in read_rows(scratch)]
    return write_run(scratch, folder / run_id, rows, info)


def test_a_report_pools_the_earlier_runs_like_it(tmp_path, capsys):
    """Three copies of a real run, the last with ASGI 1.25x faster: the last one's report
    gives each headline ratio over the three runs (the geometric mean of the runs' own) and
    calls the shift drift where the level has many rounds; its first run's report pools nothing."""
    source, folder = most_rounds(), tmp_path / "results"
    first = dated(source, folder, 1)
    dated(source, folder, 2)
    last = dated(source, folder, 3, rps_factor=1.25)
    run = load_run(last)
    assert [r.run_id for r in earlier.like_this(run)] == ["20261201T100100Z-wrk-ab", "20261201T100200Z-wrk-ab"]
    text = report.render_markdown(run)
    answers = text.split("## Answers", 1)[1].split("\n## ", 1)[0]
    [asgi_line] = [line for line in answers.splitlines() if line.startswith("- **ASGI or WSGI for Django?")]
    over = asgi_line.split("Over this run and 2 earlier run(s) like it: ", 1)[1]
    pooled = earlier.pool(run, earlier.like_this(run)).ratios[("django-asgi", "django-wsgi")]
    drift_named = 0
    for (endpoint, tool, level), found in pooled.items():
        each = scipy_stats.gmean(asgi_over_wsgi_by_round(read_rows(first), endpoint, tool, level))
        assert [round(v, 6) for _, v in found.each] == [round(each, 6), round(each, 6), round(each * 1.25, 6)]
        assert abs(found.verdict.estimate - scipy_stats.gmean([each, each, each * 1.25])) < 1e-9
        if len(asgi_over_wsgi_by_round(read_rows(first), endpoint, tool, level)) >= 12:
            assert found.agreement.differ, (endpoint, tool, level)
            drift_named += 1
    assert drift_named, "no level with many rounds to show drift"
    assert "the runs drift apart, p = " in over
    assert "3 runs" in over
    section = text.split(earlier.TITLE, 1)[1].split("\n## ", 1)[0]
    assert "A = 20261201T100100Z-wrk-ab, B = 20261201T100200Z-wrk-ab, C = 20261201T100300Z-wrk-ab (this run)" in section
    assert "| GET /ping/ | wrk |" in section
    assert report.main([str(last)]) == 0
    assert ("pooled with: 2 earlier run(s) like it (20261201T100100Z-wrk-ab, 20261201T100200Z-wrk-ab)"
            in capsys.readouterr().out)
    assert (last / "report.md").read_text(encoding="utf-8") == text
    alone = report.render_markdown(load_run(first))
    assert "No earlier run like this one" in alone
    assert "Over this run and" not in alone


def test_runs_unlike_this_one_are_not_pooled(tmp_path):
    """Another version, another profile, an interrupted run, a later run, the `latest`
    link and a folder that is no run: none is pooled; the one run like it is."""
    source, folder = most_rounds(), tmp_path / "results"
    like = dated(source, folder, 1)
    other_version = dated(source, folder, 2)
    info = read_info(other_version)
    info["metadata"]["git_sha"] = "0" * 40
    write_run(other_version, tmp_path / "v", None, info)
    (other_version / "run.json").write_text((tmp_path / "v" / "run.json").read_text())
    plan = read_info(source)["plan"]
    dated(source, folder, 3, plan=plan | {"profile": plan["profile"] | {"repeats": 99}})
    dated(source, folder, 4, status="interrupted")
    (folder / "not-a-run").mkdir()
    (folder / "broken").mkdir()
    (folder / "broken" / "run.json").write_text("{ not json")
    this = dated(source, folder, 5)
    dated(source, folder, 6)
    (folder / "latest").symlink_to(this.name)
    assert [r.run_id for r in earlier.like_this(load_run(this))] == [like.name]
