"""The answer on the database: what the engine and Django's pool change for ASGI against
WSGI (a run that varied DB_ENGINE or DJANGO_DB_POOL, or measured on PostgreSQL), per
endpoint that reaches the database, with each variant's ratio paired within rounds, and
how many connections Django ASGI opened per io request there (the gate's statement audit)."""

from __future__ import annotations

from bench.analysis import stats, verdicts
from bench.analysis.frames import Run, round_ratios
from bench.analysis.report.context import ENGINE_NAMES, engine_name
from bench.analysis.sentences import fmt_interval
from bench.analysis.stacks import endpoint_sort_key, endpoint_title
from lab.stacks import DJANGO_ASGI, DJANGO_WSGI

QUESTION = "What do the database and Django's pool change?"
KEYS = ("DB_ENGINE", "DJANGO_DB_POOL")
ENDPOINTS = ("sync-io", "sync")  # the io workload, then the users page


def _pairs(label: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in label.split(",") if "=" in part)


def _setting(run: Run, variant: str) -> str:
    """'PostgreSQL, Django's pool' for a variant, its database distance apart."""
    values = _pairs(variant)
    engine = ENGINE_NAMES.get(values.get("DB_ENGINE", ""), engine_name(run))
    if engine != "PostgreSQL":
        return engine
    pool = values.get("DJANGO_DB_POOL")
    if pool is None:
        settings = run.meta("settings") if isinstance(run.meta("settings"), dict) else {}
        pool = "1" if settings.get("django_db_pool") else "0"
    return f"{engine} {'with Django’s pool' if pool == '1' else 'without a pool'}"


def asgi_connections(run: Run, variant: str) -> float | None:
    """Connections Django ASGI opened per io request in the gate's audit, at this variant."""
    for unit, info in (run.info.get("stacks") or {}).items():
        stack, _, label = unit.partition("@")
        if stack == DJANGO_ASGI and _pairs(label).items() <= _pairs(variant).items():
            per = ((info.get("verification") or {}).get("statements_per_request") or {}).get("sync-io") or {}
            return per.get("connections")
    return None


def answer(run: Run) -> str | None:
    vary = (run.info.get("plan") or {}).get("vary") or {}
    if run.app or not (set(KEYS) & set(vary) or engine_name(run) == "PostgreSQL"):
        return None
    tool = verdicts.primary_tool(run.rows)
    parts, opened = [], {}
    for endpoint in sorted(set(ENDPOINTS) & set(run.rows["endpoint"]), key=endpoint_sort_key):
        found = []
        for variant in run.variants:
            pairs = round_ratios(run.only_variant(variant).rows, DJANGO_ASGI, DJANGO_WSGI)
            pairs = pairs[(pairs["tool"] == tool) & (pairs["endpoint"] == endpoint)]
            if pairs.empty:
                continue
            concurrency = pairs["concurrency"].max()
            chosen = pairs[pairs["concurrency"] == concurrency]
            verdict = stats.paired_ratio(chosen["a_rps"].to_numpy(dtype=float), chosen["b_rps"].to_numpy(dtype=float))
            distance = _pairs(variant).get("DB_LATENCY_MS", "0")
            found.append(f"{_setting(run, variant)}{'' if distance == '0' else f' at {distance} ms'} "
                         f"**{fmt_interval(verdict)}** ({verdict.n} rounds, {verdict.kind})")
            opened.setdefault(_setting(run, variant), asgi_connections(run, variant))
        if found:
            parts.append(f"{endpoint_title(endpoint)}: " + "; ".join(found))
    if not parts:
        return f"**{QUESTION} No verdict**: no endpoint that reaches the database had Django ASGI and WSGI counted."
    known = {k: v for k, v in opened.items() if v is not None}
    audit = ("; connections Django ASGI opened per io request (the gate's statement audit): "
             + ", ".join(f"{k} {v:g}" for k, v in known.items())) if known else ""
    return f"**{QUESTION}** Django ASGI/WSGI throughput: " + ". ".join(parts) + audit + "."
