"""report.html in a real headless Chromium at 1366x768, the laptop screen it must work on.
Chromium's 1366x768 window leaves a page area of 1366 by about 625 pixels, much what a
browser shows on such a screen, so the answers must fit in that, not merely in 768.

The page is opened with the network forbidden: a copy gets a Content-Security-Policy that
allows only its inline style and data: images, plus a small probe script that, once the
page has loaded, writes into the DOM what the browser saw (policy violations, resources
fetched, every image's decoded size, where the three answers sit, the page's width);
`--dump-dom` hands that back. The report build's own screenshot (report.png) is checked
too. Chromium comes from scripts/setup.sh: the test never skips.
"""

import html
import json
import re
import time
from pathlib import Path

import pytest
from PIL import Image
from saved_runs import read_rows

from bench.analysis.report import browser

PROBE = """<meta http-equiv="Content-Security-Policy"
 content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<script>
const blocked = [];
document.addEventListener("securitypolicyviolation", e => blocked.push(e.blockedURI || e.violatedDirective));
window.addEventListener("load", () => {
  const box = element => { const r = element.getBoundingClientRect(); return {top: r.top, bottom: r.bottom}; };
  const seen = {
    blocked,
    fetched: performance.getEntriesByType("resource").map(r => r.name).filter(n => !n.startsWith("data:")),
    images: [...document.images].map(i => ({complete: i.complete, width: i.naturalWidth, height: i.naturalHeight})),
    answers: [...document.querySelectorAll("#answers + ul > li")].map(li => ({...box(li), text: li.innerText})),
    scrollY: window.scrollY, width: innerWidth, height: innerHeight,
    pageWidth: document.documentElement.scrollWidth,
  };
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify(seen);
  document.body.append(out);
});
</script>
"""
SCREEN = (1366, 768)


@pytest.fixture(scope="session")
def opened(reported) -> tuple[Path, str, dict, float]:
    """A saved run reported into tmp (tests/conftest.py), what `main` printed, the probe's findings, its seconds."""
    run_dir, _, printed = reported
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    probe_page = run_dir / "probe.html"
    probe_page.write_text(page.replace('<meta charset="utf-8">', '<meta charset="utf-8">\n' + PROBE, 1),
                          encoding="utf-8")
    started = time.monotonic()
    dom = browser.run_headless(probe_page, "--dump-dom")
    seconds = time.monotonic() - started
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, "the probe never ran: the page did not finish loading"
    return run_dir, printed, json.loads(html.unescape(found.group(1))), seconds


def test_the_window_is_a_laptop_screen_and_chromium_is_quick(opened):
    _, _, seen, seconds = opened
    assert SCREEN == browser.SCREEN
    assert seen["width"] == SCREEN[0] and 0 < seen["height"] <= SCREEN[1]
    assert seconds < 60


def test_the_page_loads_with_no_network(opened):
    _, _, seen, _ = opened
    assert seen["blocked"] == []
    assert seen["fetched"] == []


def test_every_chart_is_there_and_decodes_at_its_size(opened):
    run_dir, _, seen, _ = opened
    targets = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (run_dir / "report.md").read_text(encoding="utf-8"))
    assert sorted(targets) == sorted(f"charts/{p.name}" for p in (run_dir / "charts").glob("*.png"))
    sizes = []
    for target in targets:
        with Image.open(run_dir / target) as image:
            sizes.append(image.size)
    assert all(image["complete"] for image in seen["images"])
    assert [(image["width"], image["height"]) for image in seen["images"]] == sizes


def test_the_three_answers_are_on_the_first_screen(opened):
    """Every answer wholly inside the first screen of the page as Chromium laid it out (and an
    open-loop run's fourth, the rate each stack sustains)."""
    run_dir, _, seen, _ = opened
    assert seen["scrollY"] == 0
    answers = seen["answers"]
    open_loop = ["How much traffic within the latency target, ASGI or WSGI"] if read_rows(run_dir, True) else []
    assert [a["text"].split("?")[0] for a in answers] == ["ASGI or WSGI for Django", "Is FastAPI worth it",
                                                          "Where does async pay off", *open_loop]
    for answer in answers:
        assert 0 <= answer["top"] < answer["bottom"] <= seen["height"], answer["text"]
        assert re.search(r"\d× \[\d[\d.]*–\d[\d.]*\]", answer["text"]) or "No verdict" in answer["text"]


def test_nothing_is_wider_than_the_screen(opened):
    _, _, seen, _ = opened
    assert seen["pageWidth"] <= SCREEN[0]


def test_the_screenshot_is_kept_with_the_run(opened):
    run_dir, printed, _, _ = opened
    shot = run_dir / "report.png"
    assert f"report.png:  {shot}" in printed
    with Image.open(shot) as image:
        assert (image.format, image.size) == ("PNG", SCREEN)
        low, high = image.convert("L").getextrema()
    assert high - low > 100  # text on a background, not a blank page
