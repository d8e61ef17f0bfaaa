"""The order of a run: interleaved rounds.

A round measures every stack at one (tool, endpoint, concurrency), one after the other
in a fresh random order, so the stacks of a round see the same machine within seconds
and their ratio cancels most of the machine's drift (two servers alternated every 4 s:
17 % and 12 % variation each, 8.6 % for their ratio). Rounds are ordered repeat first:
round 1 of every level, then round 2 of every level, and so on, so slow drift over the
run shows up as variation between rounds (and so in the intervals) instead of biasing
one level. The seeded generator makes the order reproducible; it is also recorded.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.schema import Endpoint, Tool


@dataclass(frozen=True)
class Round:
    tool: Tool
    endpoint: Endpoint
    concurrency: int  # an open-loop round's: the generator's connection limit
    repeat: int
    order: tuple[str, ...]
    # An open-loop round (bench/driver/rates.py): its arrival rate, and for each unit the fraction
    # of its closed-loop capacity that is (None: an explicit rate) and that capacity.
    rate: float | None = None
    fractions: dict[str, float | None] | None = field(default=None, compare=False)
    capacities: dict[str, float | None] | None = field(default=None, compare=False)

    def record(self) -> dict:
        record = {"tool": str(self.tool), "endpoint": str(self.endpoint), "concurrency": self.concurrency,
                  "repeat": self.repeat, "order": list(self.order)}
        if self.rate is not None:
            record.update(rate=self.rate, fractions=self.fractions, capacities=self.capacities)
        return record

    @classmethod
    def from_record(cls, data: dict, endpoint) -> Round:
        return cls(Tool(data["tool"]), endpoint, data["concurrency"], data["repeat"], tuple(data["order"]),
                   data.get("rate"), data.get("fractions"), data.get("capacities"))


def build_rounds(stacks: tuple[str, ...], tools: tuple[Tool, ...], endpoints: tuple[Endpoint, ...],
                 levels: Callable[[Tool, Endpoint], tuple[int, ...]], repeats: Callable[[Tool, Endpoint], int],
                 seed: int, serves: Callable[[str, Endpoint], bool] = lambda stack, endpoint: True) -> list[Round]:
    """Every round of the run in the order it is measured; a round holds the stacks that
    serve its endpoint (a framework-free app serves /ping/ alone)."""
    rng = random.Random(seed)
    rounds = []
    for repeat in range(1, max((repeats(t, e) for t in tools for e in endpoints), default=0) + 1):
        for tool in tools:
            for endpoint in endpoints:
                if repeat > repeats(tool, endpoint):
                    continue
                serving = [s for s in stacks if serves(s, endpoint)]
                if not serving:
                    continue
                for concurrency in levels(tool, endpoint):
                    rounds.append(Round(tool, endpoint, concurrency, repeat, tuple(rng.sample(serving, len(serving)))))
    return rounds
