"""`python -m bench run` (behind bench/run_wrk.sh and bench/run_ab.sh): options, checks
that refuse to start a run that cannot be trusted, then the runner.

Bad options, a missing program and a run already measuring on this machine each give
one line naming the problem, exit 2, and nothing started.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import urllib.error
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from bench.driver.app_run import AppTarget
from bench.driver.fleet import ExternalServer
from bench.driver.preflight import missing_programs
from bench.driver.rates import RATES_HELP, RatesError, parse_rates
from bench.driver.results import RunFiles
from bench.driver.runlock import RunLock, RunLocked
from bench.driver.runner import (
    Plan,
    Runner,
    database_needs_starting,
    handle_stop_signals,
    interrupted_status,
    new_run,
    prepare_database,
)
from bench.driver.variants import VARIABLE_SETTINGS, VaryError, check_axes, engine_settings, parse_vary
from bench.endpoints import ENDPOINTS
from bench.load_tools import DEFAULT_TOOL, TOOLS
from bench.profiles import PROFILES, Profile
from bench.schema import SCHEMA_VERSION, Endpoint, Tool, parse_slo_ms
from lab import db
from lab.config import ROOT, available_cpus, is_loopback, load_or_exit
from lab.errors import USAGE_ERROR
from lab.stacks import DEFAULT_STACKS, STACKS

DEFAULT_OUT = ROOT / "results"


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str):
        print(f"{self.prog}: {message}", file=sys.stderr)
        raise SystemExit(USAGE_ERROR)


def _words(value: str) -> list[str]:
    return [w for w in value.replace(",", " ").split() if w]


def _choices(option: str, value: str, enum) -> tuple:
    allowed = [e.value for e in enum]
    words = _words(value)
    bad = [w for w in words if w not in allowed]
    if bad or not words:
        raise argparse.ArgumentTypeError(f"{option} {value!r} is not allowed: any of {', '.join(allowed)}")
    return tuple(enum(w) for w in dict.fromkeys(words))


def _stack_choices(value: str) -> tuple[str, ...]:
    words = _words(value)
    bad = [w for w in words if w not in STACKS]
    if bad or not words:
        raise argparse.ArgumentTypeError(f"--stacks {value!r} is not allowed: any of {', '.join(STACKS)}")
    return tuple(dict.fromkeys(words))


def _positive(option: str, value: str, high: int, low: int = 1) -> int:
    try:
        number = int(value)
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        raise argparse.ArgumentTypeError(f"{option} {value!r} is not allowed: a whole number from {low} to {high}")
    return number


LOCAL_URL = ("http://HOST[:PORT][/PATH] with HOST localhost, an address in 127.0.0.0/8 or [::1], "
             "e.g. http://127.0.0.1:8000")


def _local_url(value: str) -> str:
    """A server on this machine, nothing else: the load tools send it thousands of
    requests, and what looks local must be (`http://127.0.0.1@example.com/` is example.com,
    `http://localhost.example.com/` too). Its host and port are written the one plain way."""
    def refuse(why: str) -> argparse.ArgumentTypeError:
        return argparse.ArgumentTypeError(f"--url {value!r} is not allowed: {why}; {LOCAL_URL}")

    if not value.isascii() or not value.isprintable() or " " in value:
        raise refuse("printable ASCII only, no spaces")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise refuse("a malformed host or port (PORT: 1 to 65535)") from None
    if parts.scheme != "http":
        raise refuse(f"scheme {parts.scheme or 'none'}")
    if "@" in parts.netloc:
        raise refuse("a user@ part")
    if "?" in value or "#" in value:
        raise refuse("a query or fragment")
    host = parts.hostname or ""
    if not is_loopback(host):
        raise refuse(f"host {host or 'none'} is not this machine")
    written = f"[{host}]" if ":" in host else host
    if port == 0 or parts.netloc.lower() != written + ("" if port is None else f":{port}"):
        raise refuse(f"{parts.netloc!r} is not HOST or HOST:PORT")
    return value


def _table_help() -> str:
    """The profiles and endpoints as their tables describe them, so the help cannot drift."""
    width = max(len(name) for name in [*PROFILES, *ENDPOINTS]) + 2
    title = max(len(e.title) for e in ENDPOINTS.values()) + 2
    profiles = [f"  {p.name:{width}}{p.summary}" + (f" ({p.budget})" if p.budget else "") for p in PROFILES.values()]
    endpoints = [f"  {e.id:{width}}{e.title:{title}}{e.description}" + ("" if e.database else " (no database)")
                 for e in ENDPOINTS.values()]
    return "\n".join(["profiles (--profile):", *profiles, "", "endpoints (--endpoints):", *endpoints])


def build_parser(prog: str) -> OneLineParser:
    parser = OneLineParser(prog=prog, description="Measure the lab's stacks with wrk, ab or the open-loop generator "
                                                  "under the lab's limits.",
                           epilog=_table_help(), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tool", action="append", choices=[str(t) for t in TOOLS], help=argparse.SUPPRESS)
    parser.add_argument("--stacks", help=f"any of the registered stacks: {', '.join(STACKS)} (default: the profile's, "
                                         f"else {' '.join(DEFAULT_STACKS)})")
    parser.add_argument("--endpoints", help=f"any of {', '.join(ENDPOINTS)} (default: the profile's, else all)")
    parser.add_argument("--profile", help="one of the profiles below (default: quick; with --app: app)")
    parser.add_argument("--concurrency", help='levels, e.g. "1 16 64" (default: the profile\'s)')
    parser.add_argument("--duration", help="shortest window per level, seconds (default: the profile's)")
    parser.add_argument("--repeats", help="rounds per level (default: the profile's)")
    parser.add_argument("--round-budget", metavar="SECONDS",
                        help="skip (and record) every round not started this long after the first "
                             "(default: the profile's, none once --concurrency, --duration or --repeats is given; "
                             "0: none)")
    parser.add_argument("--vary", action="append", metavar="KEY=V1,V2",
                        help=f"measure every stack at each value of a setting, e.g. DB_LATENCY_MS=0,1,2,5 "
                             f"(repeatable; over the profile's; one of {', '.join(VARIABLE_SETTINGS)})")
    parser.add_argument("--rates", help=f"the open-loop generator's arrival rates (bench/run_openloop.sh): "
                                        f"{RATES_HELP} (default: the profile's)")
    parser.add_argument("--slo-ms", metavar="MS", help="the latency target an open-loop rate is sustained under: "
                                                       "p99 below it (default: OPENLOOP_SLO_MS in settings.env)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="results folder (default: results/)")
    parser.add_argument("--url", help="measure a server already running there (e.g. from scripts/serve.sh)")
    parser.add_argument("--app", metavar="FILE", help="measure your own Django project, named in an app file "
                                                      "(docs/app-file.md; --endpoints then names its requests)")
    parser.add_argument("--resume", metavar="RUN_DIR", help="complete an interrupted run")
    parser.add_argument("--seed", help="seed of the rounds' stack orders (default: random, recorded)")
    parser.add_argument("--report", action="store_true", help="write charts and report at the end")
    return parser


def _fail(prog: str, message: str) -> None:
    print(f"{prog}: {message}", file=sys.stderr)
    raise SystemExit(USAGE_ERROR)


def _open_loop(args: argparse.Namespace, profile: Profile, tools: tuple[Tool, ...], url: str | None,
               app: AppTarget | None,
               default_slo_ms: float | None) -> tuple[tuple[Tool, ...], tuple[str, ...], float | None]:
    """The run's tools, rates and latency target: the open-loop generator needs rates, and wrk
    before it (each stack's capacity, and the one-connection latency it is checked against)."""
    if Tool.OPENLOOP not in tools:
        for option in ("rates", "slo_ms"):
            if getattr(args, option) is not None:
                raise argparse.ArgumentTypeError(f"--{option.replace('_', '-')} {getattr(args, option)!r} is not "
                                                 "allowed here: it is for the open-loop generator, "
                                                 "bench/run_openloop.sh")
        return tools, (), None
    rates = tuple(str(r) for r in parse_rates(args.rates)) if args.rates is not None else profile.rates
    if not rates:
        raise argparse.ArgumentTypeError(f"the {profile.name} profile has no rates: give --rates ({RATES_HELP}) "
                                         "or --profile openloop")
    if url or app:
        raise argparse.ArgumentTypeError(f"{'--url' if url else '--app'} is not allowed with the open-loop "
                                         "generator yet: it measures the lab's own stacks")
    slo = default_slo_ms
    if args.slo_ms is not None:
        try:
            slo = parse_slo_ms(args.slo_ms)
        except ValueError as error:
            raise argparse.ArgumentTypeError(f"--slo-ms {args.slo_ms!r} is not allowed: {error}") from None
    return (Tool.WRK, *(t for t in tools if t != Tool.WRK)), rates, slo


def make_plan(args: argparse.Namespace, prog: str, max_concurrency: int, app: AppTarget | None = None,
              default_slo_ms: float | None = None) -> Plan:
    """`default_slo_ms`: OPENLOOP_SLO_MS (settings.env), for a run with the open-loop generator."""
    tools = tuple(Tool(t) for t in dict.fromkeys(args.tool or [DEFAULT_TOOL]))
    try:
        name = args.profile or ("app" if app else "openloop" if Tool.OPENLOOP in tools else "quick")
        if name not in PROFILES:
            raise argparse.ArgumentTypeError(f"--profile {name!r} is not allowed: one of {', '.join(PROFILES)}")
        profile = PROFILES[name]
        if app:
            stacks, endpoints = app.stacks(args.stacks), app.endpoints(args.endpoints)
        else:
            stacks = _stack_choices(args.stacks if args.stacks is not None
                                    else " ".join(profile.stacks or DEFAULT_STACKS))
            endpoints = _choices("--endpoints", args.endpoints if args.endpoints is not None else
                                 " ".join(profile.endpoints or [e.value for e in Endpoint]), Endpoint)
        vary = check_axes({**profile.vary, **parse_vary(args.vary or [])})
        if app:
            app.check_vary(vary, profile.name)
        if args.concurrency is not None:
            levels = tuple(sorted({_positive("--concurrency", w, max_concurrency) for w in _words(args.concurrency)}))
            if not levels:
                raise argparse.ArgumentTypeError(f"--concurrency {args.concurrency!r} is not allowed: "
                                                 f'whole numbers from 1 to {max_concurrency}, e.g. "1 16 64"')
            profile = profile.with_levels(levels)
        if args.duration is not None:
            duration = _positive("--duration", args.duration, 3600)
            profile = replace(profile, duration_s=duration, max_window_s=max(profile.max_window_s, duration))
        if args.repeats is not None:
            profile = profile.with_repeats(_positive("--repeats", args.repeats, 100))
            profile = replace(profile, rate_repeats=profile.repeats)
        elif not profile.rate_repeats:
            profile = replace(profile, rate_repeats=profile.repeats)
        if any(given is not None for given in (args.concurrency, args.duration, args.repeats)):
            profile = replace(profile, round_budget_s=0)  # the profile's budget fits the profile's own plan
        if args.round_budget is not None:
            profile = replace(profile, round_budget_s=_positive("--round-budget", args.round_budget, 86400, low=0))
        seed = _positive("--seed", args.seed, 2**31) if args.seed is not None else int(time.time() * 1000) % 2**31
        url = _local_url(args.url) if args.url is not None else None
        tools, rates, slo_ms = _open_loop(args, profile, tools, url, app, default_slo_ms)
    except (argparse.ArgumentTypeError, VaryError, RatesError) as error:
        _fail(prog, str(error))
    if url and vary:
        _fail(prog, f"--url {url!r} is not allowed with --vary or the {profile.name} profile's axes: the bench "
              "starts a server per setting itself")
    if url and app:
        _fail(prog, f"--url {url!r} is not allowed with --app: the bench starts the app's servers itself")
    if app:
        app.check_tools(tools, endpoints)
    return Plan(stacks=stacks, endpoints=endpoints, tools=tools, profile=profile, seed=seed, url=url, vary=vary,
                app=str(app.file.path) if app else None, rates=rates, slo_ms=slo_ms)


def refuse_untrustworthy(prog: str, settings) -> str | None:
    """A reason not to benchmark at all on this machine, or None."""
    cpus = available_cpus()
    if len(cpus) < 2:
        return (f"benchmarking needs at least 2 CPUs (the server apart from the load generator); this machine "
                f"has {len(cpus)}. Serving by hand works: scripts/serve.sh")
    if set(settings.server_cpus) & set(settings.client_cpus):
        return ("SERVER_CPUS and CLIENT_CPUS overlap: the load generator would share the server's CPU; "
                "set them apart in settings.env")
    return None


def _run_id(tools: tuple[Tool, ...]) -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + "-".join(str(t) for t in tools)


def _resumed(prog: str, resume: str) -> tuple[RunFiles, dict, Plan]:
    files = RunFiles(Path(resume))
    if not files.run_json.exists():
        _fail(prog, f"--resume {resume!r} is not allowed: a run folder holding run.json")
    run = files.read_run()
    if run.get("schema_version") != SCHEMA_VERSION:
        _fail(prog, f"--resume {resume!r} is not allowed: a run of schema version {SCHEMA_VERSION} "
              f"(this one is {run.get('schema_version')})")
    saved = run["plan"]
    if saved["url"] is not None:  # written by an older driver, or by hand
        try:
            _local_url(saved["url"])
        except argparse.ArgumentTypeError as error:
            _fail(prog, f"--resume {resume!r} is not allowed: its {error}")
    app = saved.get("app")
    plan = Plan(stacks=tuple(saved["stacks"]),
                endpoints=tuple(saved["endpoints"]) if app else tuple(Endpoint(e) for e in saved["endpoints"]),
                tools=tuple(Tool(t) for t in saved["tools"]), profile=Profile.from_record(saved["profile"]),
                seed=saved["seed"], url=saved["url"], vary={k: tuple(v) for k, v in saved.get("vary", {}).items()},
                app=app, rates=tuple(saved.get("rates", ())), slo_ms=saved.get("slo_ms"))
    return files, run, plan


def main(argv: list[str]) -> int:
    handle_stop_signals()  # before anything is started
    prog = os.environ.get("BENCH_PROG", "python -m bench run")
    args = build_parser(prog).parse_args(argv)
    settings = load_or_exit()
    # The driver is part of the client (warm-up, sampling): keep it off the servers' CPUs.
    os.sched_setaffinity(0, settings.client_cpus)
    if args.resume:
        files, run, plan = _resumed(prog, args.resume)
        app = AppTarget.load(plan.app, settings.loop) if plan.app else None
        if app:
            app.same_as((run.get("metadata") or {}).get("app"), plan.stacks, files.dir)
    else:
        # one line and exit 2 when the app is not ready
        app = AppTarget.load(args.app, settings.loop) if args.app is not None else None
        plan = make_plan(args, prog, settings.max_concurrency, app, settings.openloop_slo_ms)
        run = None
    # an app's servers are its own Python's (checked by AppTarget.load), not the lab's
    missing = missing_programs(plan.tools, external_server=bool(plan.url or plan.app), stacks=plan.stacks)
    if missing:
        _fail(prog, "; ".join(missing))
    reason = refuse_untrustworthy(prog, settings)
    if reason:
        print(f"{prog}: {reason}", file=sys.stderr)
        return 1
    lock = RunLock()
    try:
        lock.acquire(f"started {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC" + (f", resuming {args.resume}"
                                                                          if args.resume else ""))
    except RunLocked as error:
        _fail(prog, str(error))
    try:
        return _measure(prog, args, settings, plan, run, lock, files if run else None, app)
    finally:
        lock.release()


def _measure(prog: str, args: argparse.Namespace, settings, plan: Plan, run: dict | None, lock: RunLock,
             files: RunFiles | None, app: AppTarget | None = None) -> int:
    # A --url server depends on the database after the run too: never stop it under it. An app
    # file's project has its own database: the lab's is neither started nor touched.
    engines = {} if app else engine_settings(plan.units(), settings)  # DB_ENGINE may be an axis
    started_dbs = [own for own in engines.values() if database_needs_starting(own) and not plan.url]
    try:
        if plan.url:  # before any database work: a server that cannot be measured leaves nothing started
            try:
                plan = replace(plan, stacks=(ExternalServer(plan.url).stack,))
            except (urllib.error.URLError, OSError, KeyError, ValueError) as error:
                print(f"{prog}: cannot read {plan.url}/info/: {error}", file=sys.stderr)
                return 1
        for own in engines.values():
            prepare_database(own)
        if run is None:
            out_root = Path(args.out)
            out_root.mkdir(parents=True, exist_ok=True)
            files = RunFiles.create(out_root, _run_id(plan.tools))
            run = new_run(plan, files.dir.name)
        lock.update(f"run {files.dir}")
        profile = plan.profile
        print(f"bench: run {files.dir} | stacks {' '.join(run['stack_order'])} | tools {' '.join(plan.tools)} | "
              f"profile {profile.name}: {len(run['rounds'])} rounds (seed {plan.seed}), windows "
              f"{profile.duration_s}-{profile.max_window_s} s, levels "
              f"{ {k: list(v) for k, v in profile.levels.items()} }"
              + "".join(f" | {k} {' '.join(v)}" for k, v in plan.vary.items())
              + (f" | then the open loop at {' '.join(plan.rates)} in {profile.rate_repeats} rounds (planned from the "
                 f"capacities wrk measures; p99 target {plan.slo_ms:g} ms)" if plan.rates else "")
              + (f" | rounds start within {profile.round_budget_s} s of the first" if profile.round_budget_s else ""),
              flush=True)
        if app:
            print(app.banner(), flush=True)
        code = Runner(plan, settings, files, run, app.file if app else None,
                      app.record(plan.stacks) if app else None).execute()
    except db.DatabaseError as error:
        print(f"{prog}: database: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt as stop:
        return interrupted_status(stop)
    finally:
        for own in started_dbs:
            db.stop(own)
    print(f"bench: results in {files.dir} (run.json, results.jsonl, raw/)")
    if args.report and code == 0:
        from bench.analysis.report.report import main as report

        code = report([str(files.dir)])
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

