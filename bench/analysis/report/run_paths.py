"""What a report may embed or link: only files inside its own run folder. A run folder can
come from someone else, and strings from its run.json and results.jsonl reach the report's
Markdown, so a target such as `/etc/shadow`, `../../secret.png`, `file:///...` or a symlink
that leads out of the folder is refused before anything is read: the page shows a
placeholder instead (bench/analysis/markdown.py)."""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path
from urllib.parse import quote

from bench.analysis import markdown

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")  # http:, file:, data:, javascript:, C:


def own_output(root: Path, *names: str) -> Path:
    """The path `root/names...` to write a report file to, with no symlink on the way: a
    link the folder arrived with (report.html -> ~/.bashrc, charts -> /etc) is removed, so
    the write creates the lab's own file inside the run folder instead of following it.
    Only the link goes, never what it points at, and only at a name the report itself
    writes (which it would overwrite anyway)."""
    path = root
    for name in names:
        path = path / name
        if path.is_symlink():
            path.unlink()
    return path


def inside(root: Path, target: str) -> Path | None:
    """`target`, a relative path, resolved (symlinks included) when that lands inside `root`;
    None for anything else: absolute paths, URLs, `..` or symlinks leading out, loops."""
    if not target or "\0" in target or target.startswith("/") or _SCHEME.match(target):
        return None
    base = root.resolve()
    try:
        found = (base / target).resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return None
    return found if found.is_relative_to(base) else None


def image_uri(root: Path, target: str) -> str | None:
    """The image as a data: URI, read only when it is a file inside `root`."""
    found = inside(root, target)
    return markdown.png_data_uri(found) if found is not None and found.is_file() else None


def link_href(root: Path, target: str) -> str | None:
    """An in-page anchor as written; a file link as its real path inside `root`, percent-encoded
    so the browser follows exactly the path checked here (no `%2e%2e`, no backslash as `/`).
    The file need not exist: a report may be read without its raw/ folder."""
    if target.startswith("#"):
        return target
    found = inside(root, target)
    return None if found is None else quote(found.relative_to(root.resolve()).as_posix())


def to_html(root: Path, text: str, title: str) -> str:
    """The report's Markdown as one HTML page, embedding and linking only files inside `root`."""
    return markdown.to_html(text, title, partial(image_uri, root), partial(link_href, root))
