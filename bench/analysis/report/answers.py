"""The report's first screen: the lab's three questions, one line each, with the throughput
ratio and its 95 % interval, or "no verdict" with the reason. The one-word answer counts
only the endpoints the profile gave its most rounds (its headline comparisons, planned
for a ±10 % interval); the others are named as weak with their ratios. "Where does async
pay off" needs a database round-trip axis: a run without one cites the newest latency run
(latency_run) and its capacities (bench/analysis/report/capacity.py).

Nothing here is new arithmetic: the ratios are the paired verdicts of verdicts.py, read
at each endpoint's headline level, as in the Verdicts section below. What this module
adds is the choice of what a reader must see before scrolling: a one-word answer drawn
from the tally over the headline comparisons (every endpoint when all had as many rounds)
and their ratios, then the weak ones.
"""

from __future__ import annotations

import json
import math
from collections import Counter

import pandas as pd

from bench.analysis import stats, verdicts
from bench.analysis.compare import compare
from bench.analysis.compare.compare_tables import Pooled
from bench.analysis.frames import Run, RunError, load_run
from bench.analysis.report import capacity, earlier, sweep
from bench.analysis.report.context import ENGINE_NAMES
from bench.analysis.sentences import fmt_interval, short
from bench.analysis.stacks import endpoint_sort_key, endpoint_title, stack_label
from bench.analysis.verdicts import LevelVerdict
from bench.schema import Flag
from lab.config import ROOT
from lab.stacks import DJANGO_ASGI, DJANGO_WSGI, FASTAPI, STACKS

ASGI_OR_WSGI = "ASGI or WSGI for Django?"
FASTAPI_WORTH = "Is FastAPI worth it?"
ASYNC_PAYS = "Where does async pay off?"
# The one-word answer for a/b, by what the tally shows: a faster somewhere and never slower,
# the reverse, both, or neither (every endpoint within noise).
WORDS = {
    ASGI_OR_WSGI: {"ahead": "ASGI", "behind": "WSGI", "mixed": "It depends on the endpoint",
                   "noise": "Either: no difference beyond noise"},
    FASTAPI_WORTH: {"ahead": "Yes, it serves more", "behind": "No, it serves less",
                    "mixed": "It depends on the endpoint", "noise": "Not for throughput: within noise"},
}
# Flags of counted rows that make a ratio measure the set-up rather than the stacks.
SETUP_FLAGS = {Flag.CLIENT_BOUND: "client-bound", Flag.DB_BOUND: "db-bound",
               Flag.SHARED_CPUS_BOUND: "shared-CPU-bound"}
LOOPBACK = ("127.0.0.1", "localhost", "::1")
LATENCY = "DB_LATENCY_MS"
FIXTURE_RUNS = ROOT / "fixtures" / "runs"


def headline_endpoints(run: Run, levels: pd.DataFrame, tool: str) -> list[str]:
    """Endpoints given more rounds than the others at their headline level (the profile's
    headline comparisons), or every endpoint when all were given as many."""
    planned = {endpoint: run.planned_rounds(tool, endpoint, level) or 0
               for (endpoint, level_tool), level in verdicts.verdict_levels(levels).items() if level_tool == tool}
    fewest = min(planned.values(), default=0)
    chosen = [endpoint for endpoint, rounds in planned.items() if rounds > fewest] or list(planned)
    return sorted(chosen, key=endpoint_sort_key)


def _headline_verdicts(run: Run, levels: pd.DataFrame, tool: str, a: str, b: str) -> dict[str, LevelVerdict]:
    """endpoint -> a/b at its headline level, where at least one round counted both stacks."""
    found = verdicts.pair_verdicts(run.rows, levels, a, b)
    heads = {}
    for (endpoint, level_tool), level in verdicts.verdict_levels(levels).items():
        head = found.get((endpoint, tool, level))
        if level_tool == tool and head is not None and head.measured and head.verdict.n:
            heads[endpoint] = head
    return dict(sorted(heads.items(), key=lambda item: endpoint_sort_key(item[0])))


def _word(head: LevelVerdict) -> str:
    kind = head.verdict.kind
    text = {stats.Kind.AHEAD: f"{short(head.a)} ahead", stats.Kind.BEHIND: f"{short(head.b)} ahead"}.get(
        kind, str(kind))
    setup = sorted({SETUP_FLAGS[f] for side in (head.a_level, head.b_level) for f in side["flags"]
                    if f in SETUP_FLAGS})
    return ", ".join([f"{head.verdict.n} rounds", text, *setup])


def _tally_word(words: str, tally: Counter) -> str:
    ahead, behind = tally[stats.Kind.AHEAD], tally[stats.Kind.BEHIND]
    shape = "mixed" if ahead and behind else "ahead" if ahead else "behind" if behind else "noise"
    return WORDS[words][shape]


def _weak(run: Run, tool: str, heads: dict[str, LevelVerdict], strong: list[str]) -> str:
    """The endpoints the profile gave fewer rounds than its headline ones (planned for a ±10 %
    interval): named, with their ratios, and left out of the one-word answer."""
    weak = [e for e in heads if e not in strong]
    if not weak:
        return ""
    planned = min(run.planned_rounds(tool, e, heads[e].concurrency) or 0 for e in strong)
    listed = "; ".join(f"{endpoint_title(e)} {fmt_interval(heads[e].verdict)} ({_word(heads[e])})" for e in weak)
    return (f" Weak, left out of the answer (fewer rounds than the {planned} the profile plans for a "
            f"±{stats.TARGET_HALF_WIDTH * 100:g} % interval): {listed}.")


def _over_runs(found: Pooled | None, a: str, b: str) -> str:
    """One endpoint's a/b over runs: `**0.19× [0.16–0.23]** (3 runs, WSGI ahead; the runs agree, p = 0.40)`."""
    if found is None:
        return "not measured by an earlier run"
    kind = found.verdict.kind
    word = {stats.Kind.AHEAD: f"{short(a)} ahead", stats.Kind.BEHIND: f"{short(b)} ahead",
            stats.Kind.NO_VERDICT: f"no verdict: {stats.MIN_RUNS} runs needed"}.get(kind, str(kind))
    agreement = found.agreement
    said = ("" if math.isnan(agreement.p_value) else
            f"; the runs drift apart, p = {agreement.p_value:.3f}" if agreement.differ else
            f"; the runs agree, p = {agreement.p_value:.2f}")
    return f"**{fmt_interval(found.verdict)}** ({found.verdict.n} runs, {word}{said})"


def pair_answer(run: Run, levels: pd.DataFrame, question: str, a: str, b: str,
                pooled: earlier.Pool | None = None, words: str | None = None) -> str:
    """`**question answer**: tally. a/b: endpoint ratio [interval] (rounds, verdict); ...`,
    then the same ratios over this run and the earlier runs like it, when there are any.
    `words`: the WORDS question whose answers it gives (default: `question` itself)."""
    tool = verdicts.primary_tool(run.rows)
    missing = [stack_label(s) for s in (a, b) if s not in set(levels["stack"])]
    if tool is None or missing:
        why = f"{' and '.join(missing)} not measured in this run" if missing else "no counted measurement"
        return f"**{question} No verdict**: {why}."
    heads = _headline_verdicts(run, levels, tool, a, b)
    strong = [e for e in headline_endpoints(run, levels, tool) if e in heads] or list(heads)
    tally = Counter(heads[e].verdict.kind for e in strong)
    decided = sum(tally[k] for k in (stats.Kind.AHEAD, stats.Kind.BEHIND, stats.Kind.WITHIN_NOISE))
    if not decided:
        return (f"**{question} No verdict**: no endpoint has {stats.MIN_ROUNDS} rounds that counted both "
                f"{stack_label(a)} and {stack_label(b)}.")
    ratios = "; ".join(f"{endpoint_title(e)} **{fmt_interval(heads[e].verdict)}** ({_word(heads[e])})"
                       for e in strong)
    undecided = f", no verdict on {tally[stats.Kind.NO_VERDICT]}" if tally[stats.Kind.NO_VERDICT] else ""
    word = _tally_word(words or question, tally)
    noun = "requests" if run.app else "endpoints"
    text = (f"**{question} {word}**: {stack_label(a)} ahead on {tally[stats.Kind.AHEAD]} "
            f"of {len(strong)} {noun}, {stack_label(b)} on {tally[stats.Kind.BEHIND]}, within noise on "
            f"{tally[stats.Kind.WITHIN_NOISE]}{undecided}. {short(a)}/{short(b)} throughput ({tool}): {ratios}."
            + _weak(run, tool, heads, strong))
    if pooled is None or not pooled.earlier:
        return text
    found = pooled.ratios.get((a, b), {})
    over = "; ".join(f"{endpoint_title(e)} {_over_runs(found.get((e, tool, heads[e].concurrency)), a, b)}"
                     for e in strong)
    return f"{text} Over this run and {len(pooled.earlier)} earlier run(s) like it: {over}."


def database_point(run: Run) -> str:
    """The one database the run measured against, as run.json describes it."""
    if run.app:
        return "the app's own database, which the lab neither read nor reset"
    database = run.meta("database")
    if not isinstance(database, dict):
        return "one database (not described in run.json)"
    several = run.meta("databases")  # a run that varied DB_ENGINE: each engine's server
    described = list(several.values()) if isinstance(several, dict) and several else [database]
    return " and ".join(_one_database(d) for d in described)


def _one_database(database: dict) -> str:
    host, port = database.get("host") or "an unrecorded host", database.get("port")
    where = f"{host}:{port}" if port else str(host)
    engine = ENGINE_NAMES.get(database.get("engine") or "mariadb", str(database.get("engine")))
    kind = f"the lab's private {engine}" if database.get("private") else engine
    return f"{kind} on {where}{', over loopback' if host in LOOPBACK else ''}"


def latency_run(run: Run) -> Run | None:
    """The newest complete run that swept the database round trip, from the run's own folder
    (this machine's), else the repository's fixtures/runs/ (the published one); None if none."""
    for folder in (run.path.parent, FIXTURE_RUNS):
        found = []
        for candidate in folder.iterdir() if folder.is_dir() else ():
            if candidate.is_symlink() or not candidate.is_dir() or candidate.resolve() == run.path.resolve():
                continue
            try:
                info = json.loads((candidate / "run.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            vary = (info.get("plan") or {}).get("vary") if isinstance(info, dict) else None
            if info.get("status") == "complete" and isinstance(vary, dict) and LATENCY in vary:
                found.append((str(info.get("started_at") or ""), candidate))
        for _, candidate in sorted(found, reverse=True):
            try:
                return load_run(candidate)
            except RunError:
                continue
    return None


def async_answer(run: Run) -> str:
    """Where async pays off needs the stacks measured across database round-trip times: this
    run has one, so the answer is the newest latency run's (latency_run), said as such."""
    here = f"this run measured one database round trip: every level ran against {database_point(run)}"
    cited = latency_run(run)
    if cited is None or not capacity.measured_both(cited):
        return (f"**{ASYNC_PAYS} No verdict**: {here}, so it cannot show where waiting on the database starts "
                "to favour async; the io endpoints' ratios under Verdicts are its one point (`make bench "
                "PROFILE=latency` measures the axis).")
    word, body = capacity.answer_parts(cited, LATENCY, sweep.table(cited, LATENCY))
    differ = compare.loud_differences([cited.only_variant(cited.variants[0]), run])
    alike = ("on the same machine, limits and versions" if not differ else
             f"where {', '.join(d.key for d in differ[:3])} differ from this run's")
    where = ("in this run's folder" if cited.path.parent.resolve() == run.path.parent.resolve()
             else "the repository's published run, in fixtures/runs/")
    return (f"**{ASYNC_PAYS} {word}, by the latency run `{cited.run_id}`** ({where}, {alike}; {here}). "
            f"{capacity.PREFACE}: {body} Details: that run's report (`make report RUN={cited.path}`).")


def app_line(app: dict) -> str:
    """Whose code the answer is for, and what the run sent that could change its data."""
    versions = app.get("versions") if isinstance(app.get("versions"), dict) else {}
    requests = [r for r in app.get("requests") or [] if isinstance(r, dict)]
    writes = [endpoint_title(r["name"]) for r in requests if r.get("writes")]
    said = (f"the requests that write ({', '.join(writes)}) were sent because the app file marks them "
            "`writes = true`" if writes else "no request writes")
    return (f"**Whose code:** app `{app.get('name')}` ({app.get('file')}), its folder {app.get('folder')}, served by "
            f"its own Python {app.get('python_version') or ''} ({app.get('python')}) with Django "
            f"{versions.get('django')}; {len(requests)} request(s). The lab did not migrate, seed, truncate or audit "
            f"its database; {said}. Its per-request figures (server CPU per request explains a ratio): Verdicts "
            "and Headline figures below.")


def conditions(run: Run) -> str:
    """What the answers hold under: the limits, the server, the database and the load; a
    different quota, server or database round trip can change them."""
    placement = run.meta("placement")
    limits = (f"each server held to {placement.get('server_cpu_quota')} CPU on CPU(s) "
              f"{placement.get('server_cpus')} and {int(placement.get('server_memory_bytes') or 0) / 2**30:g} GiB "
              f"({run.meta('limiter')})" if isinstance(placement, dict) else "limits not recorded")
    packages = run.meta("packages") if isinstance(run.meta("packages"), dict) else {}
    used = sorted({STACKS[s].server for s in run.rows["stack"].unique() if s in STACKS} or {"granian"})
    server = " and ".join(f"{name.capitalize() if name == 'granian' else name} {packages.get(name) or ''}".strip()
                          for name in used)
    return (f"Conditions: {limits}, served by {server}; {database_point(run)}. A different CPU quota, server or "
            "database round trip can change these answers; flags such as db-bound say where the set-up, not the "
            "stack, was the limit.")


def section(run: Run, levels: pd.DataFrame, async_line: str | None = None,
            pooled: earlier.Pool | None = None, open_loop_lines: tuple[str, ...] = (),
            database_line: str | None = None) -> str:
    """`## Answers`: three bullets, the conditions they hold under, and how to read them.
    `async_line`: the answer from a run that swept the database round trip (bench/analysis/report/sweep.py);
    `pooled`: this run with the earlier runs like it (bench/analysis/report/earlier.py);
    `open_loop_lines`: the answer at a set arrival rate (bench/analysis/report/openloop.py), when measured;
    `database_line`: what the engine and Django's pool change (bench/analysis/report/databases.py)."""
    if run.app:
        question = f"ASGI or WSGI for this app ({run.app.get('name')})?"
        lines = [pair_answer(run, levels, question, DJANGO_ASGI, DJANGO_WSGI, pooled, ASGI_OR_WSGI),
                 app_line(run.app)]
    else:
        lines = [pair_answer(run, levels, ASGI_OR_WSGI, DJANGO_ASGI, DJANGO_WSGI, pooled),
                 pair_answer(run, levels, FASTAPI_WORTH, FASTAPI, DJANGO_WSGI, pooled),
                 async_line or async_answer(run)]
        lines += [database_line] if database_line else []
    lines += list(open_loop_lines)
    return "\n".join(["## Answers", "", *(f"- {line}" for line in lines), "", conditions(run), "",
                      ("Ratio: geometric mean of per-round throughput ratios [95 % interval], each endpoint at its "
                       f"headline level; a verdict needs {stats.MIN_ROUNDS} rounds and an interval clear of 1. "
                       "An interval covers this run's rounds only; a machine can drift between runs by more "
                       "(This run and earlier runs like it, below). "
                       "Every endpoint and level: Verdicts and Headline figures below.")])
