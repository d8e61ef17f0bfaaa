"""A run with open-loop levels (bench/run_openloop.sh, the `openloop` profile): its answer
line, its section and its chart (the hockey stick: p99 against offered load), from the
figures of bench/analysis/open_loop.py. Nothing here when the run measured no rate."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

from bench.analysis import markdown, open_loop, stats
from bench.analysis.frames import Run
from bench.analysis.sentences import fmt_interval, fmt_ms, fmt_rps
from bench.analysis.stacks import BASELINE, endpoint_sort_key, endpoint_title, stack_label, stack_sort_key, stack_style
from bench.schema import CLIENT_LATE_MS, RATE_TOLERANCE, Flag
from lab.stacks import DJANGO_ASGI, DJANGO_WSGI

CHART = "openloop-p99.png"
READ_TARGETS_MS = (50.0, 100.0, 250.0, 500.0, 1000.0)  # the other p99 targets the section reads the run at
DEFAULT_SLO_MS = 250.0  # OPENLOOP_SLO_MS's default (lab/config.py), for a run that recorded none
INTRODUCTION = (
    "Requests arrive as a Poisson process at each offered rate, whatever the server does, and each is timed "
    "from when it was meant to be sent (the lab's generator, bench/openloop.py; docs/openloop.md), so a "
    "server that falls behind is charged for the queue it builds. Rates are fractions of each stack's "
    "closed-loop capacity measured by wrk in the same run, and every stack is offered the others' rates "
    "below its own highest, so two stacks meet at the same offered load; all stacks of a round get the "
    "same arrival times. A level counts when the server answered inside the window all but "
    f"{RATE_TOLERANCE:.0%} of the window's arrivals (allowing for the requests in flight at its ends), "
    f"the generator sent on time (p99 lateness under {CLIENT_LATE_MS:g} ms or a tenth of the p99), enough "
    "requests were answered, the servers were drained and the machine quiet. A *saturated* level did not "
    "take the rate: it has no latency at that rate and counts as over the target."
)
QUESTION = "How much traffic within the latency target, ASGI or WSGI?"
LEVEL_HEADERS = ("stack", "offered (req/s)", "of its capacity", "rounds counted / measured", "saturated",
                 "p50 (ms) [95 %]", "p99 (ms) [95 %]", "answered in window / arrivals", "send lateness p99 (ms)")


def applies(run: Run) -> bool:
    return not run.rate_rows.empty


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def slo_ms(run: Run) -> float:
    """The p99 target the run is read at: `read_at`'s, else the run's own (plan.slo_ms), else the default's."""
    plan = run.info.get("plan") or {}
    return _number(plan.get("slo_ms_read")) or _number(plan.get("slo_ms")) or DEFAULT_SLO_MS


def read_at(run: Run, target_ms: float | None) -> Run:
    """The run read at another p99 target: the target is a reading of the rows, not part of the
    measurement, so any target can be read from the same run (`python -m bench report RUN --slo-ms MS`)."""
    if target_ms is None:
        return run
    return replace(run, info={**run.info, "plan": {**(run.info.get("plan") or {}), "slo_ms_read": target_ms}})


def _read_note(run: Run) -> str:
    plan = run.info.get("plan") or {}
    own, read = _number(plan.get("slo_ms")), _number(plan.get("slo_ms_read"))
    if read is None or own is None or read == own:
        return ""
    return f" (read at {fmt_ms(read)} ms; the run's own target was {fmt_ms(own)} ms)"


def _rate_text(found: open_loop.Sustained) -> str:
    if found.estimate.n == 0:
        return "none of the rates offered"
    value = fmt_rps(found.estimate.estimate)
    interval = (f" [{fmt_rps(found.estimate.low)}–{fmt_rps(found.estimate.high)}]"
                if found.estimate.has_interval and found.estimate.n >= stats.MIN_ROUNDS
                else f" [n={found.estimate.n}]")
    return f"{'at least ' if found.at_least else ''}{value} req/s{interval}"


def _endpoints(run: Run) -> list[str]:
    return sorted(run.rate_rows["endpoint"].unique(), key=endpoint_sort_key)


def answer_line(run: Run) -> str | None:
    """The Answers bullet: per endpoint, the rate Django ASGI and WSGI each sustain with p99
    under the target, and their ratio paired by round."""
    if not applies(run):
        return None
    target = slo_ms(run)
    found = open_loop.sustainable(run.rate_rows, target)
    parts = []
    for endpoint in _endpoints(run):
        a, b = found.get((DJANGO_ASGI, endpoint)), found.get((DJANGO_WSGI, endpoint))
        if a is None or b is None:
            continue
        ratio = open_loop.sustained_ratio(a, b)
        censored = " (a lower bound: a stack sustained every rate offered)" if a.at_least or b.at_least else ""
        parts.append(f"{endpoint_title(endpoint)}: ASGI {_rate_text(a)}, WSGI {_rate_text(b)}; ASGI/WSGI "
                     f"**{fmt_interval(ratio)}** ({ratio.n} rounds, {ratio.kind}){censored}")
    if not parts:
        return f"**{QUESTION}** No verdict: Django ASGI and WSGI were not both measured at a rate."
    return (f"**{QUESTION}** The rate each sustains with p99 under {fmt_ms(target)} ms{_read_note(run)} (open "
            "loop, Poisson arrivals): " + "; ".join(parts) + ". Latency at a set arrival rate, below, has the "
            "curves and other targets.")


def _sustained_table(run: Run, found: dict) -> str:
    rows = []
    for (stack, endpoint), item in sorted(found.items(), key=lambda kv: (endpoint_sort_key(kv[0][1]),
                                                                         stack_sort_key(kv[0][0]))):
        per_round = ", ".join(fmt_rps(v) for _, v in sorted(item.per_round.items()))
        ratio = "1 (baseline)" if stack == BASELINE else "n/a"
        base = found.get((BASELINE, endpoint))
        if stack != BASELINE and base is not None:
            verdict = open_loop.sustained_ratio(item, base)
            ratio = f"{fmt_interval(verdict)} ({verdict.kind})"
        rows.append((endpoint_title(endpoint), stack_label(stack), _rate_text(item), per_round,
                     fmt_rps(item.highest_offered), ratio))
    return markdown.table(("endpoint", "stack", "sustained (geometric mean [95 %])", "per round (req/s)",
                           "highest offered", f"ratio to {BASELINE} [95 %]"), rows)


def _targets_table(run: Run) -> str:
    targets = sorted({*READ_TARGETS_MS, slo_ms(run)})
    readings = {target: open_loop.sustainable(run.rate_rows, target) for target in targets}
    rows = []
    for stack, endpoint in sorted(readings[targets[0]], key=lambda k: (endpoint_sort_key(k[1]), stack_sort_key(k[0]))):
        cells = []
        for target in targets:
            item = readings[target][(stack, endpoint)]
            cells.append("none" if item.estimate.n == 0 else
                         f"{'≥' if item.at_least else ''}{fmt_rps(item.estimate.estimate)}")
        rows.append((endpoint_title(endpoint), stack_label(stack), *cells))
    return markdown.table(("endpoint", "stack", *(f"p99 < {fmt_ms(t)} ms (req/s)" for t in targets)), rows)


def _estimate_cell(estimate: stats.Estimate) -> str:
    """The figure [95 %] from MIN_ROUNDS counted rounds up; from fewer, the figure and n (two
    rounds give an interval, at one degree of freedom too wide to read)."""
    if estimate.n == 0:
        return "n/a"
    if estimate.n < stats.MIN_ROUNDS or not estimate.has_interval:
        return f"{fmt_ms(estimate.estimate)} [n={estimate.n}]"
    return f"{fmt_ms(estimate.estimate)} [{fmt_ms(estimate.low)}–{fmt_ms(estimate.high)}]"


def _levels_table(levels: pd.DataFrame, endpoint: str) -> str:
    here = levels[levels["endpoint"] == endpoint]
    here = here.iloc[sorted(range(len(here)), key=lambda i: (stack_sort_key(here.iloc[i]["stack"]),
                                                              here.iloc[i]["rate"]))]
    rows = []
    for _, level in here.iterrows():
        fraction = f"{level['fraction']:.2f}×" if pd.notna(level["fraction"]) else "explicit"
        excluded = ", ".join(f for f in level["excluded"] if f != Flag.SATURATED.value)
        rows.append((stack_label(level["stack"]), fmt_rps(level["rate"]), fraction,
                     f"{level['counted']} / {level['rounds']}" + (f" ({excluded})" if excluded else ""),
                     level["saturated"] or "", _estimate_cell(level["p50"]), _estimate_cell(level["p99"]),
                     f"{level['achieved_share']:.3f}", fmt_ms(level["lateness_p99_ms"])))
    return markdown.table(LEVEL_HEADERS, rows)


def _ratio_lines(run: Run, endpoint: str) -> list[str]:
    lines = []
    for rate, verdict in open_loop.p99_ratios(run.rate_rows, DJANGO_ASGI, DJANGO_WSGI, endpoint):
        lines.append(f"at {fmt_rps(rate)} req/s: **{fmt_interval(verdict)}** ({verdict.n} rounds, {verdict.kind})")
    return lines


def _cross_check_lines(run: Run) -> list[str]:
    lines = []
    for check in open_loop.cross_checks(run.rate_rows, run.rows):
        lines.append(f"{stack_label(check.stack)}, {endpoint_title(check.endpoint)}: open loop at "
                     f"{fmt_rps(check.rate)} req/s p50 {fmt_ms(check.open_p50_ms)} ms, closed loop at one "
                     f"connection p50 {fmt_ms(check.closed_p50_ms)} ms ({check.deviation:+.0%}): "
                     f"{'agree' if check.agrees else '**DO NOT AGREE**'}")
    return lines


def variants(whole: Run) -> list[tuple[str, Run, str]]:
    """(label, the run read at that variant alone, its chart's file name) for each variant with
    open-loop rows: a run that varied a setting gets each value's curves apart."""
    labels = [v for v in whole.variants if not whole.only_variant(v).rate_rows.empty]
    found = []
    for index, label in enumerate(labels):
        chart = CHART if len(labels) == 1 else CHART.replace(".png", f"-{index + 1}.png")
        found.append((label if len(labels) > 1 else "", whole.only_variant(label), chart))
    return found


def answer_lines(whole: Run) -> tuple[str, ...]:
    """The Answers bullets: one per variant with open-loop rows (none without)."""
    return tuple(f"{f'*{label}:* ' if label else ''}{answer_line(run)}" for label, run, _ in variants(whole))


def draw_all(whole: Run, charts_dir: Path, footer: str) -> list[Path]:
    drawn = [draw(run, charts_dir / chart, footer + (f" · {label}" if label else ""))
             for label, run, chart in variants(whole)]
    return [path for path in drawn if path is not None]


def section(whole: Run) -> str:
    """`## Latency at a set arrival rate (open loop)`, each variant's figures apart."""
    found = variants(whole)
    if not found:
        return ""
    parts = ["## Latency at a set arrival rate (open loop)", INTRODUCTION]
    for label, run, chart in found:
        parts += [f"### {label}" if label else "", _variant_section(run, chart, "####" if label else "###")]
    return "\n\n".join(part for part in parts if part)


def _variant_section(run: Run, chart: str, level: str) -> str:
    target = slo_ms(run)
    levels = open_loop.latency_levels(run.rate_rows)
    found = open_loop.sustainable(run.rate_rows, target)
    rate_plan = run.info.get("rate_plan") or {}
    parts = [
        f"![p99 against offered load](charts/{chart})",
        f"{level} The rate each stack sustains with p99 under {fmt_ms(target)} ms",
        ("Per round, the highest offered rate below the first one not sustained (saturated, failed requests or p99 "
         "at or over the target); geometric mean over rounds [95 %]. The rates offered set the resolution; a "
         "stack that sustained every rate it was offered has a lower bound (*at least*)."),
        _sustained_table(run, found),
        f"{level} The same at other p99 targets",
        ("The sustainable rate's geometric mean over rounds at each target (*≥*: a lower bound, every rate offered "
         "was sustained; *none*: not even the lowest rate). The target is a reading of the same rows: "
         "`python -m bench report RUN --slo-ms MS` reads the whole section at another."),
        _targets_table(run),
    ]
    for endpoint in _endpoints(run):
        parts += [f"{level} {endpoint_title(endpoint)}", _levels_table(levels, endpoint)]
        ratios = _ratio_lines(run, endpoint)
        if ratios:
            parts.append("Django ASGI/WSGI p99 at the same offered load (paired by round): " + "; ".join(ratios)
                         + ".")
    checks = _cross_check_lines(run)
    parts += [f"{level} Cross-check: the open loop at low load against the closed loop at one connection",
              (f"At low load both measure the service time: the open loop's median at its lowest rate should "
               f"agree with wrk's at one connection within {open_loop.CROSS_CHECK_TOLERANCE:.0%} or "
               f"{open_loop.CROSS_CHECK_SLACK_MS:g} ms, whichever is larger (queueing adds a little above it; "
               "between arrivals the open loop's client and server go idle and wake for each request, which a "
               "busy closed loop never pays, and which shows at sub-millisecond service times).")
              + ("\n\n" + "\n".join(f"- {line}" for line in checks) if checks
                 else " No stack had both figures in this run.")]
    capacities = rate_plan.get("capacities") or []
    if capacities:
        parts.append("Capacities the rates were planned from (wrk, best level, median over rounds): "
                     + "; ".join(f"{stack_label(c['unit'])} {endpoint_title(c['endpoint'])} {fmt_rps(c['rps'])} req/s"
                                 for c in capacities) + ".")
    return "\n\n".join(parts)


def draw(run: Run, path: Path, footer: str) -> Path | None:
    """p99 (geometric mean, bar: its 95 % interval where 3 or more rounds counted, else a hollow
    point) and p50 (dotted) against offered load, a panel per endpoint, log-log; a saturated
    level as an x at its measured p99 (the least it was); the target as a line."""
    if not applies(run):
        return None
    target = slo_ms(run)
    levels = open_loop.latency_levels(run.rate_rows)
    endpoints = _endpoints(run)
    fig = Figure(figsize=(6.5 * len(endpoints) + 1, 7), dpi=100)
    fig.suptitle("Open loop: latency against offered load (Poisson arrivals)", fontsize=13, x=0.01, ha="left")
    fig.text(0.01, 0.01, footer, fontsize=8, color="dimgrey")
    axes = fig.subplots(1, len(endpoints), squeeze=False)[0]
    handles: dict[str, Line2D] = {}
    for ax, endpoint in zip(axes, endpoints, strict=True):
        here = levels[levels["endpoint"] == endpoint]
        for stack in sorted(here["stack"].unique(), key=stack_sort_key):
            own = here[here["stack"] == stack].sort_values("rate")
            colour = stack_style(stack).colour
            ok = own[own["counted"] > 0]
            x = ok["rate"].to_numpy()
            p99 = np.array([e.estimate for e in ok["p99"]])
            (line,) = ax.plot(x, p99, "-", color=colour, label=stack_label(stack))
            sure = np.array([e.n >= stats.MIN_ROUNDS and e.has_interval for e in ok["p99"]], dtype=bool)
            ax.plot(x[sure], p99[sure], "o", color=colour)
            ax.plot(x[~sure], p99[~sure], "o", markerfacecolor="white", color=colour)  # too few rounds: no bar
            low = np.array([e.low for e in ok["p99"][sure]])
            high = np.array([e.high for e in ok["p99"][sure]])
            ax.errorbar(x[sure], p99[sure], yerr=[p99[sure] - low, high - p99[sure]], fmt="none", ecolor=colour,
                        capsize=3)
            ax.plot(x, [e.estimate for e in ok["p50"]], ":", color=colour, linewidth=1)
            handles.setdefault(stack_label(stack), line)
            gone = own[own["saturated"] > 0]
            if not gone.empty:
                rows = run.rate_rows[(run.rate_rows["stack"] == stack) & (run.rate_rows["endpoint"] == endpoint)]
                tops = [rows[rows["rate_target_rps"] == rate]["latency_ms_p99"].median() for rate in gone["rate"]]
                ax.plot(gone["rate"], tops, "x", color=colour, markersize=10, markeredgewidth=2)
        ax.axhline(target, color="black", linestyle="--", linewidth=1)
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda value, _: ""))
        ax.set_title(endpoint_title(endpoint))
        ax.set_xlabel("offered load (requests/s)")
        ax.set_ylabel("latency from intended send (ms)")
        ax.grid(True, which="both", alpha=0.3)
    extra = [Line2D([], [], color="black", linestyle="--", label=f"target: p99 {fmt_ms(target)} ms"),
             Line2D([], [], color="grey", linestyle=":", label="p50"),
             Line2D([], [], color="grey", marker="o", linestyle="none",
                    label=f"p99, 95 % interval ({stats.MIN_ROUNDS}+ rounds)"),
             Line2D([], [], color="grey", marker="o", markerfacecolor="white", linestyle="none",
                    label="p99 of fewer rounds (no interval)"),
             Line2D([], [], color="grey", marker="x", linestyle="none", label="saturated (did not take the rate)")]
    fig.legend(handles=[*handles.values(), *extra], loc="lower center", bbox_to_anchor=(0.5, 0.04), ncol=4, fontsize=9,
               frameon=False)
    fig.subplots_adjust(left=0.07, right=0.98, top=0.9, bottom=0.24, wspace=0.22)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path
