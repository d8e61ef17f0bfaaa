"""A report rebuilt from a run folder someone sent embeds and links only files inside that
folder (bench/analysis/report/run_paths.py), and text from run.json stays text (markdown.plain).

The crafted folder is a real saved run with paths to a secret outside it written into fields
that reach the report: absolute, `../`, a symlink inside leading out, percent-encoded dots,
file: URLs. The report is built by the real `python -m bench report` code path."""

import base64
import contextlib
import html
import io
import re
from pathlib import Path
from urllib.parse import unquote

import pytest
from saved_runs import RUN_DIRS, read_info, read_rows, write_run

from bench.analysis import markdown
from bench.analysis.report import report, run_paths

SECRET = b"\x89PNG\r\n\x1a\nTOP-SECRET-7f3a9c-not-for-any-report"
FLAGGED_RAWS = ("../../secret.png", "{secret}", "raw/leak.png", "raw/outside/secret.png",
                "raw/%2e%2e/%2e%2e/%2e%2e/secret.png", "file://{secret}")


def _leaks(page: str) -> list[str]:
    token = SECRET[8:].decode()
    found = [token] if token in page else []
    encoded = base64.b64encode(SECRET).decode()
    return found + ([encoded] if encoded in page else [])


@pytest.fixture(scope="module")
def crafted(tmp_path_factory) -> tuple[Path, Path, str]:
    """The sent folder (under sent/, so `../../secret.png` from it is the secret), the secret,
    and report.html as built by report.main."""
    home = tmp_path_factory.mktemp("home")
    secret = home / "secret.png"
    secret.write_bytes(SECRET)
    source = RUN_DIRS[0]
    info, rows = read_info(source), read_rows(source)
    stack = next(iter(info["stacks"].values()))
    stack["reason"] = f"\n![e]({secret})\n"  # a newline would make its own image line
    check = stack["verification"]
    check["summary"] = f"![a]({secret})"
    check["checks"][0].update(passed=False, detail="![f](../../secret.png)")
    counts = next(iter(check["statements_per_request"].values()))
    counts["connections"] = "![c](raw/leak.png) [d](../../secret.png)"
    info["metadata"]["host"] = "![b](../../secret.png)"
    flagged = [r for r in rows if r["flags"]][: len(FLAGGED_RAWS)]
    assert len(flagged) == len(FLAGGED_RAWS), "the saved run needs flagged rows, whose raw paths are links"
    for row, raw in zip(flagged, FLAGGED_RAWS, strict=True):
        row["raw"] = raw.format(secret=secret)
    run_dir = write_run(source, home / "sent" / source.name, rows, info)
    (run_dir / "raw").mkdir()
    (run_dir / "raw" / "leak.png").symlink_to(secret)
    (run_dir / "raw" / "outside").symlink_to(home, target_is_directory=True)
    with contextlib.redirect_stdout(io.StringIO()):
        assert report.main([str(run_dir)]) == 0
    return run_dir, secret, (run_dir / "report.html").read_text(encoding="utf-8")


def test_nothing_from_outside_is_embedded(crafted):
    run_dir, secret, page = crafted
    assert _leaks(page) == []
    uris = re.findall(r'src="([^"]*)"', page)
    charts = {p.read_bytes() for p in (run_dir / "charts").glob("*.png")}
    assert charts and {base64.b64decode(u.removeprefix("data:image/png;base64,")) for u in uris} == charts
    assert secret.read_bytes() == SECRET  # read by nobody, written by nobody


def test_every_link_leads_inside_the_run_folder(crafted):
    run_dir, secret, page = crafted
    hrefs = [html.unescape(h) for h in re.findall(r'href="([^"]*)"', page)]
    assert hrefs, "the flagged rows' raw outputs are links"
    for href in hrefs:
        assert ":" not in href and not href.startswith("/")
        assert (run_dir / unquote(href)).resolve().is_relative_to(run_dir.resolve()), href
    assert f"[link left out: ../../secret.png is {markdown.LEFT_OUT}]" in page
    assert f"[link left out: {secret} is {markdown.LEFT_OUT}]" in page
    assert f"[link left out: raw/leak.png is {markdown.LEFT_OUT}]" in page


def test_markup_from_run_json_is_shown_as_text(crafted):
    _, secret, page = crafted
    text = re.sub(r"<[^>]+>", "", page)
    for shown in (f"![a]({secret})", f"![e]({secret})", "![b](../../secret.png)", "![f](../../secret.png)",
                  "![c](raw/leak.png) [d](../../secret.png)"):
        assert html.escape(shown, quote=False) in text, shown
    assert "image left out" not in page  # escaped, none of them reached the renderer as an image


@pytest.mark.parametrize("target", ["{secret}", "../../secret.png", "raw/leak.png", "raw/outside/secret.png",
                                    "raw/../../../secret.png", "file://{secret}", "charts/../../../secret.png"])
def test_the_reports_renderer_refuses_outside_targets_even_unescaped(crafted, target):
    """The hard guarantee, whatever a future section forgets to escape: the renderer the
    report uses reads nothing outside the folder, as an image line, inline image or link."""
    run_dir, secret, _ = crafted
    target = target.format(secret=secret)
    text = f"![x]({target})\n\nsee ![y]({target}) and [z]({target})\n\n| a |\n|---|\n| ![w]({target}) |\n"
    page = run_paths.to_html(run_dir, text, "t")
    assert _leaks(page) == [] and "<img" not in page and "<a " not in page
    assert page.count(f"[image left out: {html.escape(target)} is {markdown.LEFT_OUT}]") == 3
    assert page.count(f"[link left out: {html.escape(target)} is {markdown.LEFT_OUT}]") == 1


def test_files_inside_are_still_embedded_and_linked(crafted):
    run_dir, _, _ = crafted
    chart = sorted((run_dir / "charts").glob("*.png"))[0]
    (run_dir / "raw" / "chart-link.png").symlink_to(chart)  # a symlink that stays inside is fine
    target = "raw/chart-link.png"
    page = run_paths.to_html(run_dir, f"![x]({target})\n\n[raw](raw/wrk/a b.txt) [top](#answers)\n", "t")
    assert f'src="{markdown.png_data_uri(chart)}"' in page
    assert '<a href="raw/wrk/a%20b.txt">raw</a>' in page and '<a href="#answers">top</a>' in page


def test_inside_resolves_symlinks_and_refuses_the_rest(tmp_path):
    root = tmp_path / "run"
    (root / "charts").mkdir(parents=True)
    (root / "loop").symlink_to(root / "loop")
    (root / "up").symlink_to(tmp_path, target_is_directory=True)
    assert run_paths.inside(root, "charts/../charts/a.png") == root / "charts" / "a.png"
    assert run_paths.inside(root, "up/run/charts") == root / "charts"  # out and back in: inside
    for refused in ("", "/etc/shadow", "../x", "charts/../../x", "up/x", "loop",
                    "file:///etc/shadow", "data:image/png;base64,AAAA", "C:x", "a\0b"):
        assert run_paths.inside(root, refused) is None, refused


def test_plain_text_renders_exactly_as_written():
    raw = "![x](/etc/shadow) [y](../z) *not em* **not bold** `not code` a\\b \\* ! ]["
    page = markdown.to_html(markdown.plain(raw), "t", lambda target: pytest.fail(f"read {target}"))
    assert f"<p>{html.escape(raw)}</p>" in page
    assert markdown.plain("line one\n![x](/etc/shadow)\n") == "line one \\!\\[x\\](/etc/shadow)"


def test_the_crafted_fields_reached_the_report(crafted):
    """Else the tests above would pass for want of an attack: the paths are in report.md,
    the links as written, the images escaped."""
    run_dir, secret, _ = crafted
    text = (run_dir / "report.md").read_text()
    assert "[raw/leak.png](raw/leak.png)" in text and f"[{secret}]({secret})" in text
    for escaped in (f"\\!\\[a\\]({secret})", "\\!\\[b\\](../../secret.png)", "\\!\\[c\\](raw/leak.png)"):
        assert escaped in text, escaped


def test_a_rebuilt_report_never_writes_through_a_link_the_folder_came_with(tmp_path):
    """report.html -> a file of yours, charts -> a folder of yours: rebuilding replaces the
    links with the report's own files and leaves yours as they were."""
    source = RUN_DIRS[0]
    run_dir = write_run(source, tmp_path / "sent" / source.name, read_rows(source), read_info(source))
    yours = tmp_path / "yours"
    yours.mkdir()
    for name in ("report.html", "report.md", "report.png", "throughput.png"):
        (yours / name).write_text(f"yours: {name}")
    for name in ("report.html", "report.md", "report.png"):
        (run_dir / name).symlink_to(yours / name)
    (run_dir / "charts").symlink_to(yours, target_is_directory=True)
    with contextlib.redirect_stdout(io.StringIO()):
        assert report.main([str(run_dir)]) == 0
    assert {p.name: p.read_text() for p in yours.iterdir()} == {
        name: f"yours: {name}" for name in ("report.html", "report.md", "report.png", "throughput.png")}
    for name in ("report.html", "report.md", "charts"):
        assert not (run_dir / name).is_symlink() and (run_dir / name).exists()
    assert (run_dir / "charts" / "throughput.png").read_bytes().startswith(b"\x89PNG")
