"""`python -m bench compare` on real saved runs: run-vs-run ratios are ratios of geometric
means with Welch intervals (recomputed here from the rows), each run's own stack ratios
stand side by side, and runs from different machines, limits, versions or machine speeds
are called out loudly, key by key."""

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from saved_runs import DJANGO, RUN_DIRS, asgi_over_wsgi_by_round, copy, counted, most_rounds, read_info, read_rows
from scipy import stats as scipy_stats

from bench.analysis.compare import compare
from bench.schema import ENDPOINT_PATHS


def cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def section_rows(text: str, name: str) -> list[dict[str, str]]:
    """Every row of every table under `## name`, with its ### heading as `heading`."""
    part = text.split(f"## {name}", 1)[1].split("\n## ", 1)[0]
    rows = []
    for chunk in part.split("\n### ")[1:]:
        heading, _, body = chunk.partition("\n")
        lines = [line for line in body.splitlines() if line.startswith("|")]
        header = cells(lines[0])
        rows += [dict(zip(header, cells(line), strict=True), heading=heading.strip()) for line in lines[2:]]
    return rows


def endpoint_of(heading: str) -> str:
    return next(e for e, (method, path) in ENDPOINT_PATHS.items() if f"{method} {path}" == heading)


def counted_rps(rows: list[dict], stack: str, endpoint: str, tool: str, level: int) -> list[float]:
    return [r["rps"] for r in rows if counted(r)
            and (r["stack"], r["endpoint"], r["tool"], r["concurrency"]) == (stack, endpoint, tool, level)]


def run_compare(tmp_path: Path, capsys, *runs: Path) -> tuple[str, str, str]:
    assert compare.main([*map(str, runs), "--out", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    return (tmp_path / "out" / "compare.md").read_text(), captured.out, captured.err


def test_identical_runs_give_ratio_one_within_noise_and_no_warning(tmp_path, capsys):
    a = copy(most_rounds(), tmp_path / "a", rounds=3)
    b = copy(most_rounds(), tmp_path / "b", rounds=3)
    text, out, err = run_compare(tmp_path, capsys, a, b)
    if read_info(a)["status"] == "complete":
        assert "WARNING" not in err and "WARNING" not in text
    rows = [r for r in section_rows(text, "Run against run") if r["run"] == "B"]
    assert rows
    for row in rows:
        assert row["against"] == f"A · {row['stack']}"
        assert row["ratio [95 %]"].startswith("1.00× ["), row
        assert row["verdict"] in ("within noise", f"no verdict (n={row['rounds']})"), row
    assert "| run | stack | tool |" in out  # the run-vs-run table is printed too


def test_a_slower_copy_is_half_the_rate_and_its_own_ratios_agree(tmp_path, capsys):
    a = copy(most_rounds(), tmp_path / "a", rounds=3)
    b = copy(most_rounds(), tmp_path / "b", rps_factor=0.5, rounds=3)
    text, _, _ = run_compare(tmp_path, capsys, a, b)
    halves = [r for r in section_rows(text, "Run against run") if r["run"] == "B"]
    assert halves
    for row in halves:
        assert row["ratio [95 %]"].startswith("0.50× ["), row
        interval = row["ratio [95 %]"].split("[")[1].rstrip("]")
        if int(row["rounds"]) < 3:
            assert row["verdict"] == f"no verdict (n={row['rounds']})"
        else:
            excludes_one = float(interval.split("–")[1]) < 1
            assert row["verdict"] == ("slower" if excludes_one else "within noise"), row
    assert any(row["verdict"] == "slower" for row in halves)
    side_by_side = section_rows(text, "Stack ratios within each run")
    for row in side_by_side:
        if row["A"] == row["B"] and "[no interval]" not in row["A"] and "," in row["A"]:
            assert row["B in A's interval"] == row["A in B's interval"] == "yes", row


@pytest.mark.parametrize("factor", [1.0, 0.5])
def test_runs_agree_on_a_ratio_unless_one_stack_changed(tmp_path, capsys, factor):
    """The ratio of B's ASGI/WSGI to A's, with the Welch interval of their per-round ratios
    recomputed here from the rows: 1.00× and "agree" for a copy, 0.50× and "disagree" when
    B's ASGI rows are halved (where the interval is clear of 1)."""
    source = most_rounds()
    a = copy(source, tmp_path / "a", rounds=3)
    b = copy(source, tmp_path / "b", rounds=3, rps_factor=factor, scaled_stack="django-asgi")
    text, _, _ = run_compare(tmp_path, capsys, a, b)
    rows_a, rows_b = read_rows(a), read_rows(b)
    checked = 0
    for row in section_rows(text, "Stack ratios within each run"):
        if row["heading"] != "Django ASGI / Django WSGI" or row["B/A of the ratio [95 %]"] == "n/a":
            continue
        key = (endpoint_of(row["endpoint"]), row["tool"], int(row["concurrency"]))
        mine, first = asgi_over_wsgi_by_round(rows_b, *key), asgi_over_wsgi_by_round(rows_a, *key)
        shown = row["B/A of the ratio [95 %]"]
        assert shown.startswith(f"{factor:.2f}× ["), row
        if min(len(mine), len(first)) < 3:
            assert "no verdict" in shown
            continue
        test = scipy_stats.ttest_ind(np.log(mine), np.log(first), equal_var=False)
        low, high = np.exp(test.confidence_interval(0.95))
        assert re.search(r"\[([\d.]+)–([\d.]+)\]", shown).groups() == (f"{low:.2f}", f"{high:.2f}"), shown
        assert shown.endswith(", agree" if low <= 1 <= high else ", **disagree**"), shown
        checked += 1
    assert checked


def test_across_runs_pools_each_runs_ratio_and_names_drift(tmp_path, capsys):
    """Three copies of a real run, the third with its ASGI rows scaled by 1.25: each run's
    ratio is its geometric mean of per-round ratios (recomputed here), the pooled figure is
    their geometric mean, and where a level has many rounds the shift is called drift; two
    identical copies are alike."""
    source = most_rounds()
    a = copy(source, tmp_path / "a", rounds=3)
    b = copy(source, tmp_path / "b", rounds=3)
    c = copy(source, tmp_path / "c", rounds=3, rps_factor=1.25, scaled_stack="django-asgi")
    text, out, _ = run_compare(tmp_path, capsys, a, b, c)
    assert "Stack ratios across runs" in out
    rows = [r for r in section_rows(text, "Stack ratios across runs") if r["heading"] == "Django ASGI / Django WSGI"]
    assert rows
    many_rounds = 0
    for row in rows:
        key = (endpoint_of(row["endpoint"]), row["tool"], int(row["concurrency"]))
        ratios = asgi_over_wsgi_by_round(read_rows(a), *key)
        each = scipy_stats.gmean(ratios)
        assert row["each run"] == f"A {each:.2f}×, B {each:.2f}×, C {each * 1.25:.2f}×", row
        pooled = scipy_stats.gmean([each, each, each * 1.25])
        assert row["across runs [95 %]"].startswith(f"{pooled:.2f}× ["), row
        if len(ratios) >= 12:
            assert row["runs alike?"].startswith("**no**"), row
            many_rounds += 1
    assert many_rounds
    text, _, _ = run_compare(tmp_path / "two", capsys, a, b)
    for row in section_rows(text, "Stack ratios across runs"):
        assert row["runs alike?"] in ("yes (p = 1.00)", "n/a"), row
        assert "no verdict (2 runs, 3 needed)" in row["across runs [95 %]"], row


def test_manual_flow_ratio_is_asgi_over_wsgi_with_a_welch_interval(tmp_path, capsys):
    """Two runs of one stack each, as `run_wrk.sh --url` makes them; the figures come from the rows."""
    source = next((d for d in RUN_DIRS if {r["stack"] for r in read_rows(d)} >= DJANGO), None)
    if source is None:
        pytest.skip("no saved run has both Django stacks")
    wsgi = copy(source, tmp_path / "wsgi", keep_stack="django-wsgi")
    asgi = copy(source, tmp_path / "asgi", keep_stack="django-asgi")
    text, _, _ = run_compare(tmp_path, capsys, wsgi, asgi)
    rows = read_rows(source)
    checked = 0
    for row in section_rows(text, "Run against run"):
        if row["run"] != "B" or row["against"] != "A · django-wsgi":
            continue
        key = (endpoint_of(row["heading"]), row["tool"], int(row["concurrency"]))
        mine, base = counted_rps(rows, "django-asgi", *key), counted_rps(rows, "django-wsgi", *key)
        estimate = scipy_stats.gmean(mine) / scipy_stats.gmean(base)
        shown = float(row["ratio [95 %]"].split("×")[0])
        assert shown == pytest.approx(estimate, rel=0.01, abs=0.006)
        if min(len(mine), len(base)) >= 2:
            assert re.search(r"\[\d[\d.]*–\d[\d.]*\]", row["ratio [95 %]"])
        checked += 1
    assert checked


def test_differing_metadata_is_warned_loudly_key_by_key(tmp_path, capsys):
    a = copy(RUN_DIRS[0], tmp_path / "a")
    info = read_info(a)
    placement = dict(info["metadata"].get("placement") or {}, server_cpu_quota=0.25)
    b = copy(RUN_DIRS[0], tmp_path / "b", metadata={"placement": placement, "cpu_model": "Imaginary CPU 9000"})
    text, _, err = run_compare(tmp_path, capsys, a, b)
    head = text.split("## Runs")[0]
    for where in (err, head):
        assert "WARNING" in where and "DIFFER" in where
        assert "placement.server_cpu_quota" in where and "0.25" in where
        assert "cpu_model" in where and "Imaginary CPU 9000" in where
        assert str(info["metadata"].get("cpu_model", "unknown")) in where


def test_a_machine_running_slower_is_warned_loudly(tmp_path, capsys):
    a = copy(most_rounds(), tmp_path / "a")
    b = copy(most_rounds(), tmp_path / "b", speed_factor=0.8)
    speeds = [r["speed"] for r in read_info(a).get("rounds") or [] if r.get("speed") is not None]
    text, _, err = run_compare(tmp_path, capsys, a, b)
    head = text.split("## Runs")[0]
    if len(speeds) < 3:
        assert "MACHINE SPEED DIFFERS" not in err  # too few probes for a verdict
        return
    for where in (err, head):
        assert "MACHINE SPEED DIFFERS" in where and "0.80×" in where
    speed_section = text.split("## Machine speed", 1)[1].split("\n## ", 1)[0]
    [row] = [r for r in speed_section.splitlines() if r.startswith("| B |")]
    assert "0.80× [" in row and "slower" in row


def test_overlay_charts_exist_at_the_fixed_size(tmp_path, capsys):
    """One figure per measure (a panel per endpoint), not one per endpoint and measure."""
    a = copy(RUN_DIRS[0], tmp_path / "a")
    b = copy(RUN_DIRS[-1], tmp_path / "b")
    text, _, _ = run_compare(tmp_path, capsys, a, b)
    expected = {"throughput.png", "latency-p99.png"}
    charts = tmp_path / "out" / "charts"
    assert {p.name for p in charts.iterdir()} == expected
    for name in expected:
        with Image.open(charts / name) as image:
            assert (image.format, image.size) == ("PNG", (1200, 700))
    assert set(re.findall(r"\]\(charts/([^)]+)\)", text)) == expected


def test_default_out_is_next_to_the_first_run(tmp_path, capsys):
    a = copy(RUN_DIRS[0], tmp_path / "a")
    b = copy(RUN_DIRS[0], tmp_path / "b")
    assert compare.main([str(a), str(b)]) == 0
    assert "compare.md: " + str(tmp_path) in capsys.readouterr().out
    [out] = tmp_path.glob("compare-*")
    assert (out / "compare.md").exists()


def test_bad_arguments_exit_2(tmp_path, capsys):
    assert compare.main([str(tmp_path)]) == 2
    assert compare.main([str(tmp_path / "nope"), str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("bench compare: ") for line in err)
