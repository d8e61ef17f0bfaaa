"""Write, and render to one self-contained HTML page, the small Markdown subset the
reports use: headings, paragraphs, `- ` lists, `> ` blockquotes, pipe tables, and inline
code, bold, links, images and backslash escapes. Small enough to own, so the lab needs
no Markdown package; images are inlined as data URIs so the page opens without the run folder.
What an image or a link may point at is the caller's decision (bench/analysis/report/run_paths.py):
a target it refuses is left out with a visible placeholder.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable, Sequence
from pathlib import Path

_INLINE = re.compile(r"\\([\\`*\[\]!])|`([^`]+)`|!\[([^\]]*)\]\(([^)]+)\)|\[([^\]]+)\]\(([^)]+)\)|\*\*(.+?)\*\*"
                     r"|(?<![\w*])\*([^*\s][^*]*?)\*(?![\w*])")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_IMAGE_LINE = re.compile(r"^!\[([^\]]*)\]\(([^)]+)\)$")
_MARKUP = re.compile(r"[\\`*\[\]!]")
LEFT_OUT = "not a file inside the run folder"
Target = Callable[[str], "str | None"]  # an image's or link's Markdown target -> its src/href, None to leave it out


def _same(target: str) -> str:
    return target


# Sized for a 1366x768 laptop screen: a compact first screen (title, warnings, the answers
# box), wide tables that wrap rather than scroll sideways, charts no wider than the page.
STYLE = """
body { font-family: system-ui, sans-serif; font-size: 15px; max-width: 1280px; margin: 0.5em auto;
       padding: 0 1em; line-height: 1.4; color: #222; }
h1 { font-size: 1.4em; margin: 0.3em 0 0.4em; }
h2 { font-size: 1.25em; margin: 1.4em 0 0.5em; border-bottom: 1px solid #ddd; }
h2#answers { margin-top: 0.6em; }
h3 { font-size: 1.05em; }
#answers + ul { list-style: none; margin: 0.4em 0; padding: 0.3em 0.9em; background: #f3f7fd;
                border: 1px solid #b9cbe6; }
#answers + ul li { margin: 0.3em 0; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; max-width: 100%; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top;
         overflow-wrap: anywhere; }
th { background: #f3f3f3; }
blockquote { border-left: 5px solid #c00; background: #fff3f3; margin: 0.4em 0; padding: 0.2em 0.8em;
             font-size: 0.92em; }
blockquote p { margin: 0.2em 0; }
code { background: #f3f3f3; padding: 0 0.2em; overflow-wrap: anywhere; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: 0.85em; color: #555; }
.left-out { color: #a00; font-style: italic; }
"""


def heading_id(text: str) -> str:
    """`Noise and validity` -> `noise-and-validity`: a section's anchor (and the answers box's hook)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def escape_cell(value: object) -> str:
    """A value fit for one table cell: one line, pipes escaped."""
    return " ".join(str(value).split()).replace("|", "\\|")


def plain(text: object) -> str:
    """Text from outside (run.json, results.jsonl) as plain words on one line: backslash escapes
    keep `[`, `]`, `!`, `*` and backquotes from becoming images, links, emphasis or code, and a
    newline in it from starting a block of its own (a heading, an image line)."""
    return _MARKUP.sub(r"\\\g<0>", " ".join(str(text).split()))


def code_span(text: str) -> str:
    """Text from outside (log tails, redacted settings) as a code span, so `<`, `*` or `_` in
    it reach the reader as typed instead of becoming Markdown or HTML."""
    return "`" + text.replace("`", "'") + "`"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(escape_cell(h) for h in headers) + " |",
             "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(escape_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def png_data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def to_html(markdown: str, title: str, image_uri: Target, link_href: Target = _same) -> str:
    """A complete HTML document. `image_uri` turns an image's Markdown target into its src and
    `link_href` a link's into its href; where either says None the image or link is left out
    and a placeholder says so."""
    body: list[str] = []
    lines = markdown.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if not line.strip():
            index += 1
            continue
        block_end = _block_end(lines, index)
        block = lines[index:block_end]
        index = block_end
        body.append(_render_block(block, image_uri, link_href))
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")


def _kind(line: str) -> str:
    stripped = line.strip()
    if stripped.startswith("#"):
        return "heading"
    if stripped.startswith("|"):
        return "table"
    if stripped.startswith(">"):
        return "quote"
    if stripped.startswith("- "):
        return "list"
    if _IMAGE_LINE.match(stripped):
        return "image"
    return "paragraph"


def _block_end(lines: list[str], start: int) -> int:
    """Lines of one kind that belong together; a heading or an image stands alone."""
    kind = _kind(lines[start])
    if kind in ("heading", "image"):
        return start + 1
    end = start + 1
    while end < len(lines) and lines[end].strip() and _kind(lines[end]) == kind:
        end += 1
    return end


def _render_block(block: list[str], image_uri: Target, link_href: Target) -> str:
    kind = _kind(block[0])
    if kind == "heading":
        marks, _, text = block[0].strip().partition(" ")
        level = min(len(marks), 6)
        anchor = f' id="{heading_id(text)}"' if level == 2 else ""  # h3 titles repeat across sections
        return f"<h{level}{anchor}>{_inline(text, image_uri, link_href)}</h{level}>"
    if kind == "image":
        alt, target = _IMAGE_LINE.match(block[0].strip()).groups()
        return f"<figure>{_image(alt, target, image_uri)}<figcaption>{html.escape(alt)}</figcaption></figure>"
    if kind == "list":
        items = "".join(f"<li>{_inline(line.strip()[2:], image_uri, link_href)}</li>" for line in block)
        return f"<ul>{items}</ul>"
    if kind == "quote":
        text = " ".join(line.strip()[1:].strip() for line in block)
        return f"<blockquote><p>{_inline(text, image_uri, link_href)}</p></blockquote>"
    if kind == "table":
        return _table(block, image_uri, link_href)
    return f"<p>{_inline(' '.join(line.strip() for line in block), image_uri, link_href)}</p>"


def _table(block: list[str], image_uri: Target, link_href: Target) -> str:
    def cells(line: str) -> list[str]:
        inner = line.strip().removeprefix("|").removesuffix("|")
        return [c.strip().replace("\\|", "|") for c in _CELL_SPLIT.split(inner)]

    head = "".join(f"<th>{_inline(c, image_uri, link_href)}</th>" for c in cells(block[0]))
    rows = "".join("<tr>" + "".join(f"<td>{_inline(c, image_uri, link_href)}</td>" for c in cells(line)) + "</tr>"
                   for line in block[2:])
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _image(alt: str, target: str, image_uri: Target) -> str:
    src = image_uri(target)
    if src is None:
        return f'<span class="left-out">[image left out: {html.escape(target)} is {LEFT_OUT}]</span>'
    return f'<img src="{html.escape(src)}" alt="{html.escape(alt)}">'


def _link(label: str, target: str, link_href: Target) -> str:
    href = link_href(target)
    if href is None:
        return (f'{html.escape(label)} <span class="left-out">[link left out: {html.escape(target)} is '
                f"{LEFT_OUT}]</span>")
    return f'<a href="{html.escape(href)}">{html.escape(label)}</a>'


def _inline(text: str, image_uri: Target, link_href: Target = _same) -> str:
    out, position = [], 0
    for match in _INLINE.finditer(text):
        out.append(html.escape(text[position:match.start()]))
        escaped, code, alt, src, label, href, bold, emphasis = match.groups()
        if escaped is not None:
            out.append(html.escape(escaped))
        elif code is not None:
            out.append(f"<code>{html.escape(code)}</code>")
        elif src is not None:
            out.append(_image(alt, src, image_uri))
        elif href is not None:
            out.append(_link(label, href, link_href))
        elif bold is not None:
            out.append(f"<strong>{_inline(bold, image_uri, link_href)}</strong>")
        else:
            out.append(f"<em>{_inline(emphasis, image_uri, link_href)}</em>")
        position = match.end()
    out.append(html.escape(text[position:]))
    return "".join(out)
