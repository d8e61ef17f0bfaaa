"""`python -m bench run` (behind bench/run_wrk.sh and bench/run_ab.sh): options, checks
that refuse to start a run that cannot be trusted, then the runner.

Bad options give one line naming the option and what is allowed, exit 2, and nothing
started.
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

from bench.driver.profiles import PROFILES, Profile
from bench.driver.results import RunFiles
from bench.driver.runner import (
    ExternalServer,
    Plan,
    Runner,
    database_needs_starting,
    interrupted_status,
    new_run,
    prepare_database,
    stop_on_sigterm,
)
from bench.schema import Endpoint, Stack, Tool
from lab import db
from lab.config import ROOT, available_cpus, load_or_exit

USAGE_ERROR = 2
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


def _positive(option: str, value: str, high: int) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 1 <= number <= high:
        raise argparse.ArgumentTypeError(f"{option} {value!r} is not allowed: a whole number from 1 to {high}")
    return number


def build_parser(prog: str) -> OneLineParser:
    parser = OneLineParser(prog=prog, description="Measure the lab's stacks with wrk or ab under the lab's limits.")
    parser.add_argument("--tool", action="append", choices=[t.value for t in Tool], help=argparse.SUPPRESS)
    parser.add_argument("--stacks", default=" ".join(s.value for s in Stack),
                        help="any of django-wsgi, django-asgi, fastapi (default: all)")
    parser.add_argument("--endpoints", default=" ".join(e.value for e in Endpoint),
                        help="any of ping, sync, async, sync-io, async-io (default: all)")
    parser.add_argument("--profile", default="quick", help=f"one of {', '.join(PROFILES)} (default: quick)")
    parser.add_argument("--concurrency", help='levels, e.g. "1 16 64" (default: the profile\'s)')
    parser.add_argument("--duration", help="seconds per level (default: the profile's)")
    parser.add_argument("--repeats", help="repeats per level (default: the profile's)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="results folder (default: results/)")
    parser.add_argument("--url", help="measure a server already running there (e.g. from scripts/serve.sh)")
    parser.add_argument("--resume", metavar="RUN_DIR", help="complete an interrupted run")
    parser.add_argument("--seed", help="stack-order shuffle seed (default: random, recorded)")
    parser.add_argument("--report", action="store_true", help="write charts and report at the end")
    return parser


def _fail(prog: str, message: str) -> None:
    print(f"{prog}: {message}", file=sys.stderr)
    raise SystemExit(USAGE_ERROR)


def make_plan(args: argparse.Namespace, prog: str, max_concurrency: int) -> Plan:
    try:
        if args.profile not in PROFILES:
            raise argparse.ArgumentTypeError(
                f"--profile {args.profile!r} is not allowed: one of {', '.join(PROFILES)}")
        profile = PROFILES[args.profile]
        stacks = _choices("--stacks", args.stacks, Stack)
        endpoints = _choices("--endpoints", args.endpoints, Endpoint)
        if args.concurrency is not None:
            levels = tuple(sorted({_positive("--concurrency", w, max_concurrency) for w in _words(args.concurrency)}))
            if not levels:
                raise argparse.ArgumentTypeError(f"--concurrency {args.concurrency!r} is not allowed: "
                                                 f'whole numbers from 1 to {max_concurrency}, e.g. "1 16 64"')
            profile = replace(profile, concurrency=levels)
        if args.duration is not None:
            profile = replace(profile, duration_s=_positive("--duration", args.duration, 3600))
        if args.repeats is not None:
            profile = replace(profile, repeats=_positive("--repeats", args.repeats, 100))
        seed = _positive("--seed", args.seed, 2**31) if args.seed is not None else int(time.time() * 1000) % 2**31
    except argparse.ArgumentTypeError as error:
        _fail(prog, str(error))
    if args.url and not args.url.startswith(("http://127.", "http://localhost", "http://[::1]")):
        _fail(prog, f"--url {args.url!r} is not allowed: a server on this machine, e.g. http://127.0.0.1:8000")
    tools = tuple(Tool(t) for t in dict.fromkeys(args.tool or ["wrk"]))
    return Plan(stacks=stacks, endpoints=endpoints, tools=tools, profile=profile, seed=seed, url=args.url)


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


def main(argv: list[str]) -> int:
    prog = os.environ.get("BENCH_PROG", "python -m bench run")
    args = build_parser(prog).parse_args(argv)
    settings = load_or_exit()
    if args.resume:
        files = RunFiles(Path(args.resume))
        if not files.run_json.exists():
            _fail(prog, f"--resume {args.resume!r} is not allowed: a run folder holding run.json")
        run = files.read_run()
        saved = run["plan"]
        plan = Plan(stacks=tuple(saved["stacks"]), endpoints=tuple(Endpoint(e) for e in saved["endpoints"]),
                    tools=tuple(Tool(t) for t in saved["tools"]),
                    profile=Profile(**{k: tuple(v) if isinstance(v, list) else v
                                       for k, v in saved["profile"].items()}),
                    seed=saved["seed"], url=saved["url"])
    else:
        plan = make_plan(args, prog, settings.max_concurrency)
        run = None
    reason = refuse_untrustworthy(prog, settings)
    if reason:
        print(f"{prog}: {reason}", file=sys.stderr)
        return 1
    stop_on_sigterm()
    # A --url server depends on the database after the run too: never stop it under it.
    started_db = database_needs_starting(settings) and not plan.url
    try:
        prepare_database(settings)
        if plan.url:
            try:
                plan = replace(plan, stacks=(ExternalServer(plan.url).stack,))
            except (urllib.error.URLError, OSError, KeyError, ValueError) as error:
                print(f"{prog}: cannot read {plan.url}/info/: {error}", file=sys.stderr)
                return 1
        if run is None:
            out_root = Path(args.out)
            out_root.mkdir(parents=True, exist_ok=True)
            files = RunFiles.create(out_root, _run_id(plan.tools))
            run = new_run(plan, files.dir.name)
        print(f"bench: run {files.dir} | stacks {' '.join(run['stack_order'])} (seed {plan.seed}) | "
              f"tools {' '.join(plan.tools)} | profile {plan.profile.name} | levels {list(plan.profile.concurrency)}"
              f" x {plan.profile.repeats} x {plan.profile.duration_s} s", flush=True)
        code = Runner(plan, settings, files, run).execute()
    except db.DatabaseError as error:
        print(f"{prog}: database: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as stop:
        return interrupted_status(stop)
    finally:
        if started_db:
            db.stop()
    print(f"bench: results in {files.dir} (run.json, results.jsonl, raw/)")
    if args.report and code == 0:
        from bench.analysis.report import main as report

        code = report([str(files.dir)])
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

