"""Profiles: levels per endpoint, window floor and cap, rounds; in one table.

It lives outside the driver because the analysis reads it too (the precision table
projects to a profile's rounds), and the analysis never imports the driver. Every profile
measures in interleaved rounds (bench/driver/schedule.py) with the window rule of
bench/driver/window.py; they trade breadth (levels, ab) against time. With wrk in the
run, ab is a cross-check: one level per endpoint (the lowest) and `ab_repeats` rounds;
run alone (bench/run_ab.sh) it is measured like wrk.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from bench.load_tools import TOOLS, is_cross_check
from bench.schema import Endpoint, Tool
from lab.stacks import DJANGO_ASGI, DJANGO_WSGI, STACKS

ANY_ENDPOINT = "*"
# make bench should end within 12 minutes: about 30 s of set-up, server start and report,
# and the round under way when the budget runs out (about 10-30 s) leave 660 s for starting rounds.
ROUND_BUDGET_QUICK_S = 660


@dataclass(frozen=True)
class Profile:
    name: str
    levels: dict[str, tuple[int, ...]]  # endpoint (or "*") -> concurrency levels
    duration_s: int  # the window's floor, whole seconds (ab -t takes no fractions)
    max_window_s: int  # the window's cap: a level that needs longer is measured this long, then judged
    repeats: int  # rounds per level
    ab_repeats: int  # rounds per ab cross-check level
    purpose: str
    budget: str = field(default="")  # what it takes on the 2-CPU machine, as measured
    endpoint_repeats: dict[str, int] = field(default_factory=dict)  # more (or fewer) rounds for some endpoints
    ab_endpoints: tuple[str, ...] = ()  # where the ab cross-check runs (empty: every endpoint)
    endpoints: tuple[str, ...] = ()  # what it measures unless --endpoints says (empty: every endpoint)
    vary: dict[str, tuple[str, ...]] = field(default_factory=dict)  # settings it sweeps (bench/driver/variants.py)
    stacks: tuple[str, ...] = ()  # what it measures unless --stacks says (empty: the registry's default stacks)
    round_budget_s: int = 0  # no round starts later than this after the first one did (0: no limit)
    # The open-loop generator's rates (bench/driver/rates.py) and its rounds, after the closed-loop ones.
    rates: tuple[str, ...] = ()
    rate_repeats: int = 0
    # One line for `bench run --help`. Not recorded: it is not part of the plan, and a run recorded before
    # it existed must still find later runs of the same plan like it (bench/analysis/report/earlier.py).
    summary: str = field(default="", compare=False)

    def levels_for(self, endpoint: Endpoint) -> tuple[int, ...]:
        return self.levels.get(str(endpoint), self.levels[ANY_ENDPOINT])

    def with_levels(self, levels: tuple[int, ...]) -> Profile:
        return replace(self, levels={ANY_ENDPOINT: levels})

    def with_repeats(self, repeats: int) -> Profile:
        return replace(self, repeats=repeats, endpoint_repeats={})

    def repeats_for(self, endpoint: Endpoint) -> int:
        return self.endpoint_repeats.get(str(endpoint), self.repeats)

    def record(self) -> dict:
        data = asdict(self)
        del data["summary"]
        data["levels"] = {k: list(v) for k, v in self.levels.items()}
        data["vary"] = {k: list(v) for k, v in self.vary.items()}
        return data

    @classmethod
    def from_record(cls, data: dict) -> Profile:
        return cls(**{**data, "levels": {k: tuple(v) for k, v in data["levels"].items()},
                      "ab_endpoints": tuple(data.get("ab_endpoints", ())),
                      "endpoints": tuple(data.get("endpoints", ())), "stacks": tuple(data.get("stacks", ())),
                      "rates": tuple(data.get("rates", ())),
                      "vary": {k: tuple(v) for k, v in data.get("vary", {}).items()}})


@dataclass(frozen=True)
class ToolPlan:
    """Which levels and how many rounds each tool gets in a run: a tool that only cross-checks
    another of the run's (its adapter says which: ab beside wrk) gets the ab_* ones."""

    profile: Profile
    tools: tuple[Tool, ...]

    def levels(self, tool: Tool, endpoint: Endpoint) -> tuple[int, ...]:
        if TOOLS[tool].rate_levels:  # its rounds are planned once the closed-loop ones have measured capacity
            return ()
        levels = self.profile.levels_for(endpoint)
        if not is_cross_check(tool, self.tools):
            return levels
        wanted = self.profile.ab_endpoints
        return (min(levels),) if not wanted or str(endpoint) in wanted else ()

    def repeats(self, tool: Tool, endpoint: Endpoint) -> int:
        if is_cross_check(tool, self.tools):
            return self.profile.ab_repeats
        return self.profile.repeats_for(endpoint)


PROFILES: dict[str, Profile] = {p.name: p for p in (
    Profile("smoke", {ANY_ENDPOINT: (2,)}, 1, 3, 1, 1, "tests: seconds per stack; ab beside wrk on /ping/ and "
            "POST /sync/io/, as in quick", ab_endpoints=("ping", "sync-io"),
            summary="for the tests: one short level, one round"),
    Profile("quick", {"ping": (16,), "sync": (2,), "async": (2,), ANY_ENDPOINT: (4,)}, 2, 12, 4, 1,
            "make bench: every stack and endpoint at one saturating level in interleaved wrk rounds (22 on "
            "/ping/ and 18 on POST /sync/io/, the headline comparisons; 4 on the others), ab one round on "
            "those two as a cross-check; a round not started 11 minutes after the first is skipped and recorded, "
            "so a slow day costs rounds, not minutes", "about 11-12 min", {"ping": 22, "sync-io": 18},
            ("ping", "sync-io"), round_budget_s=ROUND_BUDGET_QUICK_S,
            summary="make bench: one saturating level per endpoint, many rounds"),
    Profile("standard", {ANY_ENDPOINT: (4, 16, 64)}, 10, 60, 5, 3,
            "a considered comparison: three levels, 5 rounds, ab cross-check in 3 rounds", "about 1.5 h",
            summary="a considered comparison: three levels, 5 rounds"),
    Profile("full", {ANY_ENDPOINT: (1, 4, 16, 64, 256)}, 15, 120, 5, 3,
            "curves for a write-up", "about 5 h", summary="curves for a write-up: five levels, 1-256 connections"),
    Profile("servers", {"ping": (16,), "sync": (2,), "async": (2,), ANY_ENDPOINT: (4,)}, 2, 12, 4, 1,
            "every registered stack: Django and FastAPI on Granian, gunicorn and uvicorn, and the framework-free "
            "apps that give each server's /ping/ ceiling; quick's levels, 12 wrk rounds on /ping/, 4 on the others, "
            "ab one round on /ping/ and POST /sync/io/", "about 15-25 min", {"ping": 12}, ("ping", "sync-io"),
            stacks=tuple(STACKS), summary="every registered stack, and each server's /ping/ ceiling"),
    Profile("app", {ANY_ENDPOINT: (4, 16)}, 2, 12, 6, 1,
            "an app file's project (--app, docs/app-file.md): each of its requests at 4 and 16 connections on its "
            "Django stacks in 6 interleaved wrk rounds (ab, when run: one round at 4); a round not started 11 minutes "
            "after the first is skipped and recorded", "about 12 min for 4 requests on 2 stacks",
            round_budget_s=ROUND_BUDGET_QUICK_S,
            summary="--app's default: your app's requests at 4 and 16 connections"),
    Profile("openloop", {ANY_ENDPOINT: (1, 16)}, 4, 12, 2, 0,
            "latency at a set arrival rate (bench/run_openloop.sh, make bench PROFILE=openloop): the default stacks on "
            "/ping/ and POST /sync/io/, first closed-loop with wrk at 1 and 16 connections in 2 rounds (each stack's "
            "capacity, and the one-connection latency the open loop is checked against), then the lab's open-loop "
            "generator at 0.3, 0.6, 0.9 and 1.2 times each stack's capacity (every stack offered the others' rates "
            "below its own 1.2x too) in 3 interleaved rounds; a round not started 40 minutes after the first is "
            "skipped and recorded", "about 30 min", endpoints=("ping", "sync-io"),
            rates=("0.3x", "0.6x", "0.9x", "1.2x"), rate_repeats=3, round_budget_s=2400,
            summary="latency at a set arrival rate: p99 against offered load, the rate each sustains"),
    Profile("databases", {"ping": (16,), ANY_ENDPOINT: (4,)}, 2, 12, 4, 0,
            "what the database changes: Django WSGI and ASGI on MariaDB and on PostgreSQL (ASGI there with and "
            "without Django's pool), on /ping/ (no database), the users page and POST /sync/io/, with the database 0 "
            "and 2 ms away (the lab's relay), all in the same 4 interleaved wrk rounds, no ab; a round not started "
            "14 minutes after the first is skipped and recorded", "about 20 min",
            endpoints=("ping", "sync", "sync-io"), stacks=(DJANGO_WSGI, DJANGO_ASGI),
            vary={"DB_LATENCY_MS": ("0", "2"), "DB_ENGINE": ("mariadb", "postgresql"), "DJANGO_DB_POOL": ("0", "1")},
            round_budget_s=840,
            summary="MariaDB and PostgreSQL, with and without Django's pool, 0 and 2 ms from the database"),
    Profile("pool", {"ping": (16,), ANY_ENDPOINT: (4,)}, 2, 12, 4, 0,
            "PostgreSQL only (DB_ENGINE=postgresql): Django under ASGI with a connection per request and with "
            "Django's pool (DJANGO_DB_POOL), beside Django WSGI's persistent connections, on /ping/ (no database), "
            "the users page and POST /sync/io/, with the database 0 and 2 ms away (the lab's relay), in 4 "
            "interleaved wrk rounds, no ab; a round not started 11 minutes after the first is skipped and recorded",
            "about 12 min", endpoints=("ping", "sync", "sync-io"), stacks=(DJANGO_WSGI, DJANGO_ASGI),
            vary={"DJANGO_DB_POOL": ("0", "1"), "DB_LATENCY_MS": ("0", "2")}, round_budget_s=ROUND_BUDGET_QUICK_S,
            summary="PostgreSQL: does Django's pool close ASGI's gap? (0 and 2 ms from the database)"),
    Profile("latency", {ANY_ENDPOINT: (16, 64)}, 3, 40, 5, 0,
            "where async pays off for Django, each stack at its best: POST /sync/io/ with the database 0, 2 and 5 "
            "ms away (the lab's relay), Django WSGI with 8, 32 and 64 blocking threads, Django ASGI once per round "
            "trip, at 16 and 64 connections, 5 interleaved wrk rounds, no ab; a round not started 45 minutes after "
            "the first is skipped and recorded", "about 55 min (rounds start within 45 min)",
            endpoints=("sync-io",), stacks=(DJANGO_WSGI, DJANGO_ASGI),
            vary={"DB_LATENCY_MS": ("0", "2", "5"), "DJANGO_WSGI_BLOCKING_THREADS": ("8", "32", "64")},
            round_budget_s=2700,
            summary="where async pays off: Django at 0-5 ms from the database, WSGI at 8-64 threads"),
)}
