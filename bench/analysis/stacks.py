"""Labels and colours of the stacks, from the stack registry (lab/stacks.py), so a stack
looks and reads the same everywhere. A --url run is labelled with whatever
/info/ answered; an id missing from the table still gets a stable colour of its own."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from bench.endpoints import ENDPOINTS, Endpoint
from lab.stacks import BASELINE, DJANGO_ASGI, DJANGO_WSGI, FASTAPI, STACKS


@dataclass(frozen=True)
class StackStyle:
    label: str
    colour: str


STACK_STYLES: dict[str, StackStyle] = {s.id: StackStyle(s.label, s.colour) for s in STACKS.values()}

# The stack ratios compared run against run and in the report's precision table: (numerator, denominator).
PAIRS = ((DJANGO_ASGI, DJANGO_WSGI), (FASTAPI, DJANGO_WSGI), (FASTAPI, DJANGO_ASGI))

# Colours no known stack uses, for ids read from /info/ that the table does not know.
FALLBACK_COLOURS = ("#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94")

__all__ = ["BASELINE", "PAIRS", "STACK_STYLES", "StackStyle", "endpoint_sort_key", "endpoint_title", "name_requests",
           "stack_label", "stack_sort_key", "stack_style"]


def stack_style(stack: str) -> StackStyle:
    """The table's style, or the id itself with a colour derived from it (the same in every run)."""
    if stack in STACK_STYLES:
        return STACK_STYLES[stack]
    return StackStyle(stack, FALLBACK_COLOURS[zlib.crc32(stack.encode()) % len(FALLBACK_COLOURS)])


def stack_label(stack: str) -> str:
    return stack_style(stack).label


def stack_sort_key(stack: str) -> tuple[int, str]:
    """Known stacks in the table's order, then unknown ids alphabetically."""
    order = list(STACK_STYLES)
    return (order.index(stack), "") if stack in STACK_STYLES else (len(order), stack)


def endpoint_sort_key(endpoint: str) -> tuple[int, str]:
    order = [e.value for e in Endpoint]
    return (order.index(endpoint), "") if endpoint in order else (len(order), endpoint)


# An app file's requests read in this process (frames.load_run): name -> `name (GET /path)`.
REQUEST_TITLES: dict[str, str] = {}


def name_requests(records: list[dict]) -> None:
    """Title an app run's requests (run.json metadata.app.requests) by their method and path."""
    for record in records:
        if isinstance(record, dict) and isinstance(record.get("name"), str):
            REQUEST_TITLES[record["name"]] = f"{record['name']} ({record.get('method')} {record.get('path')})"


def endpoint_title(endpoint: str) -> str:
    """`GET /ping/` for a known endpoint id, `list (GET /)` for an app's request, the id otherwise."""
    if endpoint in ENDPOINTS:
        return ENDPOINTS[endpoint].title
    return REQUEST_TITLES.get(endpoint, endpoint)
