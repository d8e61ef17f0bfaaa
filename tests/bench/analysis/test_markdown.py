"""The report's small Markdown renderer (bench/analysis/markdown.py): pure logic."""

from bench.analysis.markdown import _inline, table, to_html


def test_inline_marks():
    html = _inline("*Within noise*: **WSGI ahead**, `c=16`, [raw](raw/a.txt), 2 * 3, x*y*z <b>", str)
    assert html == ('<em>Within noise</em>: <strong>WSGI ahead</strong>, <code>c=16</code>, '
                    '<a href="raw/a.txt">raw</a>, 2 * 3, x*y*z &lt;b&gt;')


def test_table_escapes_pipes_in_cells_and_round_trips():
    text = table(["a", "b"], [("x | y", 1)])
    assert text.splitlines()[0] == "| a | b |"
    assert "<td>x | y</td>" in to_html(text, "t", str)


def test_images_become_embedded_data():
    page = to_html("![chart](charts/a.png)", "t", lambda target: f"data:image/png;base64,{target}")
    assert '<img src="data:image/png;base64,charts/a.png" alt="chart">' in page
