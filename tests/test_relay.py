"""The latency relay (lab/relay.py) on the real MariaDB, through the apps' own drivers:
it adds its delay to every round trip, costs little at 0 ms, counts what it delayed, and
stops cleanly with connections open: no process left, MariaDB's connections back to
where they were."""

from __future__ import annotations

import os
import time

import MySQLdb
import pytest

from bench.driver.relay_process import RelayProcess, tolerance_ms
from bench.driver.round_trip import SAMPLES, round_trips_ms, verify_relay
from lab import mariadb
from lab.config import Settings


def threads_connected(settings: Settings) -> int:
    conn = mariadb.admin_connection(settings)
    try:
        cur = conn.cursor()
        cur.execute("SHOW GLOBAL STATUS LIKE 'Threads_connected'")
        return int(cur.fetchone()[1]) - 1  # not this reading's own connection
    finally:
        conn.close()


def wait_for(check, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def relay(database: Settings, tmp_path):
    relay = RelayProcess(database, [2.0], tmp_path / "relay.log")
    relay.start()
    yield relay
    relay.stop()


@pytest.fixture
def on_client_cpus(database: Settings):
    """The driver measures from CLIENT_CPUS (cli.py pins itself there); unpinned, the
    relay's own cost swings from 0.1 to 0.5 ms with where the scheduler puts this process."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, database.client_cpus)
    yield
    os.sched_setaffinity(0, before)


def test_each_round_trip_takes_the_setting_longer(database: Settings, relay: RelayProcess, on_client_cpus):
    """verify_relay holds chunks for the setting less the relay's own cost, then checks with
    both of the apps' drivers that a round trip through it takes the setting longer."""
    record = verify_relay(database, relay)
    (entry,) = [e for e in record["listeners"] if e["delay_ms"] == 2.0]
    assert entry["passed"], record
    for driver in ("mysqlclient", "aiomysql"):
        assert abs(entry["added_ms"][driver] - 2.0) <= tolerance_ms(2.0), record
        assert entry["added_ms"][driver] == pytest.approx(  # against the direct path measured beside it
            entry["round_trip_ms"][driver] - entry["direct_beside_ms"][driver], abs=1e-3)
        assert 0 <= record["relay_cost_ms"][driver] < 0.5, record  # its own cost, shown in the report
    assert 0 < entry["hold_ms"] < 2.0  # the setting less the relay's own cost
    again = round_trips_ms(database, "127.0.0.1", relay.ports[2.0])  # a second look, not the calibration's
    assert abs(again["mysqlclient"] - entry["direct_beside_ms"]["mysqlclient"] - 2.0) <= 2 * tolerance_ms(2.0)
    counters = relay.counters()
    assert counters[2.0]["connections_total"] >= 3 and counters[2.0]["chunks"] >= 3 * SAMPLES
    assert counters[2.0]["lag_excess_sum_s"] / counters[2.0]["chunks"] < tolerance_ms(2.0) / 1000


def test_stopping_with_connections_open_leaves_nothing(database: Settings, tmp_path):
    baseline = threads_connected(database)
    relay = RelayProcess(database, [1.0], tmp_path / "relay.log")
    relay.start()
    pids = relay.pids()
    assert len(pids) == 2  # one process per delay: 1 ms, and 0 ms for the relay's own cost
    d = database.database
    clients = [MySQLdb.connect(host="127.0.0.1", port=relay.ports[1.0], user=d.user, password=d.password,
                               database=d.name) for _ in range(3)]
    try:
        assert wait_for(lambda: threads_connected(database) == baseline + 3), threads_connected(database)
        relay.stop()
        assert not any(alive(pid) for pid in pids)
        assert wait_for(lambda: threads_connected(database) == baseline), (baseline, threads_connected(database))
        with pytest.raises(MySQLdb.OperationalError):
            clients[0].cursor().execute("SELECT 1")
    finally:
        relay.stop()
        for client in clients:
            try:
                client.close()
            except MySQLdb.Error:
                pass
