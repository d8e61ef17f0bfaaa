"""The database round trip as the apps see it, measured with the apps' own drivers:
mysqlclient (Django, FastAPI's sync path) and aiomysql (Tortoise, FastAPI's async path),
each timing `SELECT 1` on one connection, directly and through every relay listener.

Before any server connects through the relay, each setting must hold: the added round
trip (through the listener minus direct) within relay_process.tolerance_ms of the
setting, with both drivers. The 0 ms listener gives the relay's own cost.

Both connect with the apps' connect timeout (DB_CONNECT_TIMEOUT_S) and mysqlclient with their
read timeout (lab.db.timeouts): a stalled database or relay fails the check, never hangs it.
aiomysql has no read timeout, and one around each timed `SELECT 1` would add to what it times.
"""

from __future__ import annotations

import asyncio
import statistics
import time

import aiomysql
import asyncpg
import MySQLdb
import psycopg

from bench.driver.relay_process import RelayProcess, tolerance_ms
from lab import mariadb, postgresql
from lab.config import Settings

SAMPLES = 200
CALIBRATION_PASSES = 5  # hold = setting - own cost, then corrected by what it still missed, four times at most


def _mysqlclient_ms(settings: Settings, host: str, port: int) -> float:
    db = settings.database
    conn = MySQLdb.connect(host=host, port=port, user=db.user, password=db.password, database=db.name,
                           **mariadb.timeouts(settings))
    try:
        cur = conn.cursor()
        times = []
        for _ in range(SAMPLES):
            start = time.perf_counter()
            cur.execute("SELECT 1")
            cur.fetchall()
            times.append(time.perf_counter() - start)
        return statistics.median(times) * 1000
    finally:
        conn.close()


async def _aiomysql_ms(settings: Settings, host: str, port: int) -> float:
    db = settings.database
    conn = await aiomysql.connect(host=host, port=port, user=db.user, password=db.password, db=db.name,
                                  connect_timeout=settings.db_connect_timeout_s)
    try:
        cur = await conn.cursor()
        times = []
        for _ in range(SAMPLES):
            start = time.perf_counter()
            await cur.execute("SELECT 1")
            await cur.fetchall()
            times.append(time.perf_counter() - start)
        return statistics.median(times) * 1000
    finally:
        conn.close()


def _psycopg_ms(settings: Settings, host: str, port: int) -> float:
    db = settings.database
    with psycopg.connect(host=host, port=port, user=db.user, password=db.password, dbname=db.name,
                         autocommit=True, **postgresql.timeouts(settings)) as conn:
        times = []
        for _ in range(SAMPLES):
            start = time.perf_counter()
            conn.execute("SELECT 1").fetchall()
            times.append(time.perf_counter() - start)
        return statistics.median(times) * 1000


async def _asyncpg_ms(settings: Settings, host: str, port: int) -> float:
    db = settings.database
    conn = await asyncpg.connect(host=host, port=port, user=db.user, password=db.password, database=db.name,
                                 timeout=settings.db_connect_timeout_s)
    try:
        times = []
        for _ in range(SAMPLES):
            start = time.perf_counter()
            await conn.fetch("SELECT 1")
            times.append(time.perf_counter() - start)
        return statistics.median(times) * 1000
    finally:
        await conn.close()


# Each engine's drivers as the apps use them: (sync, async).
DRIVERS = {"mariadb": (("mysqlclient", _mysqlclient_ms), ("aiomysql", _aiomysql_ms)),
           "postgresql": (("psycopg", _psycopg_ms), ("asyncpg", _asyncpg_ms))}


def round_trips_ms(settings: Settings, host: str, port: int) -> dict[str, float]:
    """Median `SELECT 1` time per driver of the engine (sync first), ms."""
    (sync_name, sync_ms), (async_name, async_ms) = DRIVERS[settings.database.engine]
    return {sync_name: round(sync_ms(settings, host, port), 4),
            async_name: round(asyncio.run(async_ms(settings, host, port)), 4)}


def verify_relay(settings: Settings, relay: RelayProcess) -> dict:
    """Set every listener's hold and check what it adds. run.json `relay`: the direct round
    trip; the relay's own cost (its 0 ms listener against the direct path); per listener
    the hold (the setting less that cost, corrected by the mean miss of both drivers, up to
    CALIBRATION_PASSES), its round trip, the direct round trip measured beside it, what it
    adds (the difference) against the setting, and whether that is within tolerance with
    both drivers. Each pass measures the direct path again next to the listener, so a
    noisy moment skews both alike rather than one."""
    db = settings.database
    direct = round_trips_ms(settings, db.host, db.port)
    zero = round_trips_ms(settings, "127.0.0.1", relay.ports[0.0])
    cost = {driver: round(zero[driver] - direct[driver], 4) for driver in zero}
    own_cost = max(0.0, statistics.mean(cost.values()))
    listeners = []
    for delay, port in relay.ports.items():
        hold, via, beside = max(0.0, delay - own_cost) if delay else 0.0, zero, direct
        for calibration in range(CALIBRATION_PASSES if delay else 0):
            if calibration:  # correct by what the last hold still missed, on average over both drivers
                hold = max(0.0, hold - (statistics.mean(via[d] - beside[d] for d in via) - delay))
                beside = round_trips_ms(settings, db.host, db.port)
            relay.hold(delay, hold)
            via = round_trips_ms(settings, "127.0.0.1", port)
            if all(abs(via[d] - beside[d] - delay) <= tolerance_ms(delay) for d in via):
                break
        added = {driver: round(via[driver] - beside[driver], 4) for driver in via}
        # The 0 ms listener is the relay's own cost, shown, not checked: at 0 ms the apps connect directly.
        passed = all(abs(value - delay) <= tolerance_ms(delay) for value in added.values()) if delay else None
        listeners.append({"delay_ms": delay, "port": port, "hold_ms": round(hold, 4), "round_trip_ms": via,
                          "direct_beside_ms": beside, "added_ms": added, "tolerance_ms": tolerance_ms(delay),
                          "passed": passed})
    return {"direct_round_trip_ms": direct, "relay_cost_ms": cost, "listeners": listeners,
            "samples": SAMPLES, "command": relay.command}


def failed_delays(record: dict) -> dict[float, str]:
    """Settings whose measured round trip missed: delay -> why, one line."""
    return {entry["delay_ms"]: (f"the relay's {entry['delay_ms']:g} ms setting added "
                                f"{', '.join(f'{v:.3f} ms ({d})' for d, v in entry['added_ms'].items())} "
                                f"to the round trip (allowed: {entry['delay_ms']:g} +- {entry['tolerance_ms']:g} ms)")
            for entry in record["listeners"] if entry["delay_ms"] and not entry["passed"]}
