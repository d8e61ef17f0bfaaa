"""A run that varied a setting (`--vary`, or the `latency` profile): every stack's
throughput and p99 along the axis, within-round ratios at every value, which limit binds
where, and the chart. With the database round trip as the axis this is the report's
"where async pays off".

Figures follow the rest of the report: throughput is the geometric mean over counted
rounds with its 95 % interval; ratios are paired within rounds (both stacks measured in
the same round at the same setting); p99 and CPU are medians of counted rounds.

Which limit binds is read from the data, not assumed: a stack whose server used at least
CPU_BOUND_SHARE of its CPU quota is CPU-bound there; below that it is waiting (on the
database), and what caps the requests it has in flight is its own setting (threads or
pool, from the endpoint table: bench/endpoints.py) when that is below the connections the
client holds, else the client's concurrency.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from bench.analysis import markdown, stats, verdicts
from bench.analysis.frames import Run, round_ratios
from bench.analysis.report.context import ENGINE_NAMES
from bench.analysis.sentences import fmt_interval, short
from bench.analysis.stacks import endpoint_sort_key, endpoint_title, stack_label, stack_sort_key, stack_style
from bench.endpoints import ENDPOINTS, Limit
from lab.stacks import DJANGO_ASGI, DJANGO_WSGI, FASTAPI

LATENCY = "DB_LATENCY_MS"
CPU_BOUND_SHARE = 0.85
CLIENT_BINDS = "the client's"
CHART = "sweep.png"
SERIES_LINES = ("-", "--", ":", "-.")  # one per value of the run's other axes (e.g. WSGI threads)
SERIES_MARKERS = ("o", "s", "^", "D")
TABLE_HEADERS = ("endpoint", "connections", "setting", "stack", "rounds counted / rows", "throughput (RPS) [95 %]",
                 "p99 (ms)",
                 "server CPU (share of quota)", "what binds", "flags")
PAIRS = ((DJANGO_ASGI, DJANGO_WSGI), (FASTAPI, DJANGO_WSGI))


def axis(run: Run) -> str | None:
    """The first setting the run varied, or None."""
    vary = (run.info.get("plan") or {}).get("vary") or {}
    return next(iter(vary), None) if isinstance(vary, dict) and len(run.variants) > 1 else None


# Settings varied by name: their values stand on the axis in this order (0, 1, ...).
NAMED_VALUES = {"DB_ENGINE": ("mariadb", "postgresql")}


def _value(variant: str, key: str) -> float:
    for part in variant.split(","):
        name, _, value = part.partition("=")
        if name == key:
            names = NAMED_VALUES.get(key, ())
            return float(names.index(value)) if value in names else float(value)
    return math.nan


def _others(variant: str, key: str) -> str:
    """The variant's other axes (a series of its own along `key`), "" with one axis."""
    return ",".join(part for part in variant.split(",") if part and not part.startswith(f"{key}="))


def _setting(run: Run, variant: str, key: str) -> float:
    varied = _value(variant, key)
    if not math.isnan(varied):
        return varied
    value = (run.meta("settings") or {}).get(key.lower()) if isinstance(run.meta("settings"), dict) else None
    return float(value) if isinstance(value, (int, float)) else math.nan


def in_flight_limit(run: Run, stack: str, endpoint: str, variant: str) -> tuple[float, Limit | None]:
    """The most requests the stack serves at once on this endpoint (inf: no limit of its own)."""
    entry = ENDPOINTS.get(endpoint)
    limit = entry.in_flight.get(stack) if entry else None
    if limit is None:
        return math.inf, None
    workers = _setting(run, variant, limit.workers) if limit.workers else 1.0
    return _setting(run, variant, limit.setting) * (workers if not math.isnan(workers) else 1.0), limit


def _tool_rows(run: Run) -> pd.DataFrame:
    """The rows of the run's primary tool (verdicts.primary_tool: wrk when it counted)."""
    return run.rows[run.rows["tool"] == verdicts.primary_tool(run.rows)]


def table(run: Run, key: str) -> pd.DataFrame:
    """One row per endpoint x concurrency x stack x variant (of one tool): x (the axis's
    value), series (the other axes), counted rounds, rows, RPS geometric mean [95 %], p99
    and server CPU share medians, flags."""
    rows = _tool_rows(run)
    found = []
    for (endpoint, concurrency, stack, variant), group in rows.groupby(["endpoint", "concurrency", "stack",
                                                                         "variant"]):
        counted = group[group["counted"]]
        rps = stats.geometric_interval(counted["rps"].to_numpy())
        found.append({"endpoint": endpoint, "stack": stack, "variant": variant, "x": _value(variant, key),
                      "series": _others(variant, key),
                      "rounds": len(counted), "rows": len(group), "rps": rps.estimate, "low": rps.low,
                      "high": rps.high, "p99": counted["latency_ms_p99"].median(),
                      "p99_low": counted["latency_ms_p99"].min(), "p99_high": counted["latency_ms_p99"].max(),
                      "cpu_share": counted["server_cpu_share"].median(),
                      "concurrency": int(concurrency),
                      "flags": tuple(sorted(set().union(*group["flags"])))})
    frame = pd.DataFrame(found)
    if frame.empty:
        return frame
    frame = _at_every_value(frame)
    frame["endpoint_rank"] = frame["endpoint"].map(endpoint_sort_key)
    frame["stack_rank"] = frame["stack"].map(stack_sort_key)
    return frame.sort_values(["endpoint_rank", "concurrency", "series", "x", "stack_rank"]).drop(
        columns=["endpoint_rank", "stack_rank"])


def _at_every_value(frame: pd.DataFrame) -> pd.DataFrame:
    """A stack that does not read the axis (Django WSGI along DJANGO_DB_POOL) measured the same
    server at every value: its rows stand at each of the axis's values, as a flat line."""
    unread = frame["x"].isna()
    values = sorted(frame.loc[~unread, "x"].unique())
    if not unread.any() or not values:
        return frame
    copies = [frame.loc[unread].assign(x=value) for value in values]
    return pd.concat([frame.loc[~unread], *copies], ignore_index=True)


def binds(run: Run, row: pd.Series) -> str:
    """What limits this stack here, from its CPU and its in-flight limit."""
    if math.isnan(row["cpu_share"]):
        return "unknown (nothing counted)"
    if row["cpu_share"] >= CPU_BOUND_SHARE:
        return f"CPU ({row['cpu_share']:.0%} of quota)"
    flags = row.get("flags") or ()
    if "db_bound" in flags:
        return "the database's CPU (db_bound: it shares its CPU with the load generator)"
    if "shared_cpus_bound" in flags:
        return ("the database side's CPU (shared_cpus_bound: the database server, the relay and the load generator "
                "together filled the CPUs they share)")
    most, limit = in_flight_limit(run, row["stack"], row["endpoint"], row["variant"])
    if limit is not None and most < row["concurrency"]:
        return f"its {most:g} {limit.what} ({limit.setting})"
    return f"{CLIENT_BINDS} {row['concurrency']} connections (all in flight, the server had headroom)"


def client_limited(run: Run, row: pd.Series) -> bool:
    """The client's connections set this level's rate while the server had headroom: a level
    that says nothing of the stack's capacity (bench/analysis/report/capacity.py)."""
    return binds(run, row).startswith(CLIENT_BINDS)


def ratios(run: Run, key: str, a: str, b: str) -> dict[tuple[str, int, str, float], stats.Verdict]:
    """(endpoint, concurrency, series, x) -> a/b paired within rounds at that setting (one tool)."""
    tool = verdicts.primary_tool(run.rows)
    found = {}
    for variant in run.variants:
        pairs = round_ratios(run.only_variant(variant).rows, a, b)
        pairs = pairs[pairs["tool"] == tool]
        for (endpoint, concurrency), group in pairs.groupby(["endpoint", "concurrency"]):
            found[(endpoint, int(concurrency), _others(variant, key), _value(variant, key))] = stats.paired_ratio(
                group["a_rps"].to_numpy(dtype=float), group["b_rps"].to_numpy(dtype=float))
    return found


def _where(endpoint: str, concurrency: int, series: str, several_levels: bool) -> str:
    return (endpoint_title(endpoint) + (f" at {concurrency} connections" if several_levels else "")
            + (f" ({series})" if series else ""))


def _fmt_x(key: str, x: float) -> str:
    if key in NAMED_VALUES and not math.isnan(x):
        return f"{key}={NAMED_VALUES[key][int(x)]}"
    return f"{x:g} ms" if key == LATENCY else f"{key}={x:g}"


def stack_sentences(run: Run, key: str, frame: pd.DataFrame) -> list[str]:
    """Per endpoint and stack: throughput from the axis's first value to its last, and what binds where."""
    lines = []
    several = frame["concurrency"].nunique() > 1
    for (endpoint, concurrency, series, stack), group in frame.groupby(["endpoint", "concurrency", "series", "stack"],
                                                                       sort=False):
        group = group.sort_values("x")
        first, last = group.iloc[0], group.iloc[-1]
        change = (f" ({last['rps'] / first['rps']:.2f}x)" if first["rps"] > 0 and not math.isnan(last["rps"])
                  else "")
        spans: list[tuple[str, list[float]]] = []
        for row in group.itertuples():
            what = binds(run, pd.Series(row._asdict()))
            what = what.split(" (")[0] if what.startswith("CPU") else what
            if spans and spans[-1][0] == what:
                spans[-1][1].append(row.x)
            else:
                spans.append((what, [row.x]))
        binding = "; ".join(f"{_span(key, xs)}: {what}" for what, xs in spans)
        lines.append(f"{stack_label(stack)}, {_where(endpoint, concurrency, series, several)}: {_rate(first['rps'])} "
                     f"RPS at {_fmt_x(key, first['x'])}, {_rate(last['rps'])} at {_fmt_x(key, last['x'])}{change}. "
                     f"Binding: {binding}.")
    return lines


def _rate(rps: float) -> str:
    return "no counted round" if math.isnan(rps) else f"{rps:.1f}"


def _span(key: str, xs: list[float]) -> str:
    return _fmt_x(key, xs[0]) if len(xs) == 1 else f"{_fmt_x(key, xs[0])} to {_fmt_x(key, xs[-1])}"


def ratio_lines(run: Run, key: str) -> list[str]:
    lines = []
    for a, b in PAIRS:
        found = ratios(run, key, a, b)
        several = len({k[1] for k in found}) > 1
        for where in sorted({k[:3] for k in found}, key=lambda k: (endpoint_sort_key(k[0]), k[1], k[2])):
            points = sorted((k[3], v) for k, v in found.items() if k[:3] == where)
            text = "; ".join(f"{_fmt_x(key, x)} {fmt_interval(v)} {_kind(v)}" for x, v in points)
            lines.append(f"{short(a)}/{short(b)}, {_where(*where, several)}: {text}")
    return lines


def _kind(verdict: stats.Verdict) -> str:
    return f"({verdict.n} rounds, {verdict.kind})"


def _relay_lines(run: Run) -> list[str]:
    """The relay's check, one line per database engine it stood in front of."""
    relays = run.meta("relays")  # a run that varied DB_ENGINE: each engine's relay
    if isinstance(relays, dict) and relays:
        return [f"To {ENGINE_NAMES.get(engine, engine)}: {line}" for engine, relay in relays.items()
                for line in _relay_line(relay)]
    relay = run.meta("relay")
    return _relay_line(relay) if isinstance(relay, dict) else []


def _relay_line(relay: dict) -> list[str]:
    direct, cost = relay.get("direct_round_trip_ms") or {}, relay.get("relay_cost_ms") or {}
    drivers = list(direct)  # the engine's (sync, async) drivers: mysqlclient, aiomysql or psycopg, asyncpg

    def both(values: dict, sign: str = "") -> str:
        return " / ".join(f"{sign}{values.get(d, math.nan):.3f}" for d in drivers)

    checks = ", ".join(f"{e['delay_ms']:g} ms → {both(e['added_ms'], '+')} ms{'' if e['passed'] else ' (MISSED)'}"
                       for e in relay.get("listeners", []) if e.get("delay_ms"))
    return [(f"The database round trip (`SELECT 1`, median of {relay.get('samples')}) is "
             + " and ".join(f"{direct[d]:.3f} ms with {d}" for d in drivers) + " direct. Through the lab's relay "
             f"the apps' own drivers measured each setting (added round trip, {' / '.join(drivers)}): {checks}; "
             f"the relay itself adds {both(cost)} ms (its 0 ms listener against the direct path). At 0 ms the apps "
             "connect directly.")]


def section(run: Run, capacity_text: str = "") -> str:
    """The report's sweep section ("" when the run varied nothing); `capacity_text`: each stack at
    its best setting (bench/analysis/report/capacity.py), after the ratios."""
    key = axis(run)
    if key is None:
        return ""
    frame = table(run, key)
    title = ("## Where async pays off: the database round trip" if key == LATENCY
             else f"## Along {key}")
    rows = [(endpoint_title(r.endpoint), r.concurrency, _fmt_x(key, r.x) + (f" {r.series}" if r.series else ""),
             stack_label(r.stack), f"{r.rounds} / {r.rows}",
             _rps(r), "–" if math.isnan(r.p99) else f"{r.p99:.0f}",
             "–" if math.isnan(r.cpu_share) else f"{r.cpu_share:.0%}", binds(run, pd.Series(r._asdict())),
             ", ".join(r.flags) or "none") for r in frame.itertuples()]
    intro = ("Every stack at every setting, measured in the same interleaved rounds at "
             f"{int(frame['concurrency'].max()) if not frame.empty else '?'} connections. Throughput: geometric mean "
             "of counted rounds [95 % interval]; ratios: paired within rounds at the same setting. *What binds*: "
             f"CPU where the server used at least {CPU_BOUND_SHARE:.0%} of its quota, else the database where it was "
             "db_bound or shared_cpus_bound, else what caps the requests it has in flight (its threads or pool, "
             "or the client's connections: then the server had headroom and the level is no measure of its capacity). "
             "Flags stay visible: db_bound, shared_cpus_bound, relay_bound and client_bound rows measured the "
             "set-up, not the stack.")
    parts = [title, intro, *_relay_lines(run), f"![Throughput and p99 along {key}](charts/{CHART})",
             "### What binds where", "\n".join(f"- {line}" for line in stack_sentences(run, key, frame)),
             "### Ratios within rounds", "\n".join(f"- {line}" for line in ratio_lines(run, key)) or "- none counted",
             *([capacity_text] if capacity_text else []),
             markdown.table(TABLE_HEADERS, rows) if rows else "No row was measured."]
    return "\n\n".join(parts)


def _rps(r) -> str:
    if math.isnan(r.rps):
        return "no counted round"
    return f"{r.rps:.1f} [{r.low:.1f}–{r.high:.1f}]" if not math.isnan(r.low) else f"{r.rps:.1f} [no interval]"


def draw(run: Run, path: Path, footer: str) -> Path | None:
    """Throughput (band: its 95 % interval; n: rounds counted) and p99 (bars: min-max of counted
    rounds) along the axis, a column per endpoint and connection count, a line per stack and
    setting (colour: the stack; line and marker: its setting); hollow rings where rows were flagged."""
    key = axis(run)
    if key is None:
        return None
    frame = table(run, key)
    columns = sorted({(e, int(c)) for e, c in zip(frame["endpoint"], frame["concurrency"], strict=True)},
                     key=lambda k: (endpoint_sort_key(k[0]), k[1]))
    every_series = sorted(frame["series"].unique())
    fig = Figure(figsize=(max(7, 5.5 * len(columns)), 8.5), dpi=100)
    fig.suptitle(f"Throughput and p99 along {key}" + (" (database round trip added, ms)" if key == LATENCY else ""),
                 fontsize=13, x=0.01, ha="left")
    fig.text(0.01, 0.01, footer, fontsize=8, color="dimgrey")
    axes = fig.subplots(2, max(len(columns), 1), squeeze=False)
    handles: dict[str, Line2D] = {}
    for column, (endpoint, concurrency) in enumerate(columns):
        here = frame[(frame["endpoint"] == endpoint) & (frame["concurrency"] == concurrency)]
        for (series, stack), group in here.groupby(["series", "stack"], sort=False):
            group = group.sort_values("x")
            style = stack_style(stack)
            rank = every_series.index(series)
            line, marker = SERIES_LINES[rank % len(SERIES_LINES)], SERIES_MARKERS[rank % len(SERIES_MARKERS)]
            label = style.label + (f", {series}" if series else "")
            x = group["x"].to_numpy()
            top, bottom = axes[0][column], axes[1][column]
            top.plot(x, group["rps"], marker=marker, color=style.colour, linestyle=line)
            top.fill_between(x, group["low"].to_numpy(dtype=float), group["high"].to_numpy(dtype=float),
                             color=style.colour, alpha=0.1)
            for at, y, n in zip(x, group["high"].fillna(group["rps"]), group["rounds"], strict=True):
                if np.isfinite(y):
                    top.annotate(f"n={n}", (at, y), xytext=(0, 3), textcoords="offset points", ha="center",
                                 fontsize=6, color="dimgrey")
            p99 = group["p99"].to_numpy(dtype=float)
            bottom.errorbar(x, p99, yerr=[p99 - group["p99_low"].to_numpy(dtype=float),
                                          group["p99_high"].to_numpy(dtype=float) - p99],
                            marker=marker, color=style.colour, linestyle=line, capsize=3)
            for ax, centre in ((top, "rps"), (bottom, "p99")):
                flagged = group[group["flags"].apply(bool)]
                ax.scatter(flagged["x"], flagged[centre], s=110, facecolors="none", edgecolors=style.colour)
            handles.setdefault(label, Line2D([], [], color=style.colour, linestyle=line, marker=marker, label=label))
        axes[0][column].set_title(f"{endpoint_title(endpoint)}, {concurrency} connections")
        axes[0][column].set_ylabel("throughput (RPS); band: 95 % interval")
        axes[1][column].set_ylabel("p99 latency (ms); bar: min-max")
        for ax in (axes[0][column], axes[1][column]):
            ax.set_xlabel("database round trip added (ms)" if key == LATENCY else key)
            ax.set_ylim(bottom=0)
            ax.grid(alpha=0.3)
            ticks = np.unique(frame["x"].to_numpy())
            ax.set_xticks(ticks)
            if key in NAMED_VALUES:
                ax.set_xticklabels([NAMED_VALUES[key][int(x)] for x in ticks])
    fig.legend(handles=list(handles.values()), loc="lower center", ncol=min(len(handles), 3), fontsize=8,
               frameon=False, bbox_to_anchor=(0.5, 0.025),
               title="n=: rounds counted at that point; hollow ring: a flagged row (see the report)", title_fontsize=8)
    rows_of_legend = math.ceil(len(handles) / 3)
    fig.tight_layout(rect=(0, 0.06 + 0.03 * rows_of_legend, 1, 0.95))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path
