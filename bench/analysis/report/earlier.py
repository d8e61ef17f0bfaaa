"""The report's section on earlier runs like this one: this run pooled with the earlier
runs in its folder that measured the same plan on the same machine, limits and versions
(compare_tables.across_runs), because a machine can drift between runs by more than one
run's interval shows. A run is like this one when it is complete, started before it, has
the same plan but for the shuffle seed, and differs in none of the keys that make
`bench compare` warn loudly. So running `make bench` again later, on the same checkout,
gives a report whose figures carry that drift.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.analysis.compare import compare, compare_tables
from bench.analysis.compare.compare_tables import Pooled
from bench.analysis.frames import Run, RunError, load_run
from bench.analysis.stacks import PAIRS

MAX_EARLIER = 9  # the latest earlier runs pooled with this one; older ones stay on disk, unread
TITLE = "## This run and earlier runs like it"


def _info(folder: Path) -> dict[str, Any] | None:
    try:
        info = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def _plan(info: dict[str, Any]) -> dict[str, Any]:
    """The plan but for its shuffle seed, which every run draws afresh."""
    plan = info.get("plan")
    return {k: v for k, v in plan.items() if k != "seed"} if isinstance(plan, dict) else {}


def like_this(run: Run) -> list[Run]:
    """The latest MAX_EARLIER earlier runs like `run` in its folder, oldest first."""
    started = str(run.info.get("started_at") or "")
    candidates = []
    for folder in run.path.parent.iterdir():
        if folder.is_symlink() or not folder.is_dir() or folder.resolve() == run.path.resolve():
            continue
        info = _info(folder)
        if (info and info.get("status") == "complete" and started
                and str(info.get("started_at") or "") < started and _plan(info) == _plan(run.info)):
            candidates.append((str(info["started_at"]), folder))
    found: list[Run] = []
    for _, folder in sorted(candidates, reverse=True):  # newest first, so the limit keeps the latest
        try:
            earlier = load_run(folder)
        except RunError:
            continue
        earlier = earlier.only_variant(earlier.variants[0])
        if not compare.loud_differences([earlier, run]):
            found.append(earlier)
        if len(found) == MAX_EARLIER:
            break
    return found[::-1]


@dataclass(frozen=True)
class Pool:
    """A run with the earlier runs like it (oldest first), and every compared stack pair's
    ratios pooled over them: (a, b) -> (endpoint, tool, concurrency) -> Pooled. Computed
    once per report; its Answers and its section both read it."""

    run: Run
    earlier: tuple[Run, ...]
    labels: tuple[str, ...]  # of the earlier runs, then this one
    ratios: dict[tuple[str, str], dict[tuple[str, str, int], Pooled]]


def pool(run: Run, earlier: list[Run]) -> Pool:
    runs = [*earlier, run]
    labels = compare.run_labels(len(runs))
    ratios = {(a, b): compare_tables.pooled_ratios(runs, labels, a, b) for a, b in PAIRS} if earlier else {}
    return Pool(run, tuple(earlier), tuple(labels), ratios)


def section(pooled: Pool) -> str:
    """The section: the runs pooled and, per compared stack pair, each run's ratio, the
    estimate over runs with its interval, and whether the runs agree."""
    run, earlier = pooled.run, pooled.earlier
    if not earlier:
        return "\n\n".join([TITLE, (
            f"No earlier run like this one in `{run.path.parent}` (complete, the same plan, machine, limits and "
            "versions). This run's intervals cover its own rounds only, and a machine can drift between runs by "
            "more (`docs/design.md`, \"Runs drift apart\"). Run the same command again later: the next report "
            "pools the runs like it found here.")])
    legend = ", ".join(f"{label} = {r.run_id}{' (this run)' if r is run else ''}"
                       for label, r in zip(pooled.labels, [*earlier, run], strict=True))
    return "\n\n".join([
        TITLE,
        (f"Pooled with {len(earlier)} earlier run(s) like this one in `{run.path.parent}` (complete, the same "
         f"plan, machine, limits and versions): {legend}. Where the runs do not agree, quote the interval "
         "across runs, not this run's own."),
        compare.ACROSS_INTRO,
        compare.pair_tables_text(lambda a, b: compare_tables.across_frame(pooled.ratios[(a, b)]),
                                 "No earlier run measured the same two stacks side by side."),
    ])
