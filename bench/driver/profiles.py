"""Profiles: levels, duration, repeats, primer and warmup, in one table."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    concurrency: tuple[int, ...]
    duration_s: int  # whole seconds: ab -t takes no fractions
    repeats: int
    primer_s: int  # per endpoint, concurrency 1, discarded
    warmup_s: int  # per endpoint, highest concurrency, discarded
    purpose: str

    def record(self) -> dict:
        return asdict(self)


PROFILES: dict[str, Profile] = {p.name: p for p in (
    Profile("smoke", (1, 8), 1, 1, 1, 1, "tests: seconds per stack"),
    Profile("quick", (8, 64), 4, 2, 1, 1, "make bench: all stacks, endpoints and both tools in ~10 min"),
    Profile("standard", (1, 16, 64, 128), 10, 3, 2, 5, "a considered comparison (~1.5 h with both tools)"),
    Profile("full", (1, 8, 16, 32, 64, 128, 256), 15, 3, 3, 10, "curves for a write-up (~4 h)"),
)}
