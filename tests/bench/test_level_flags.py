"""The flags a level's readings earn (bench/driver/level.py, bench/driver/noise.py): pure logic."""

import pytest

from bench.driver.level import resource_flags, shared_cpus_share
from bench.driver.noise import NOISY_SHARE, Noise

QUIET_DB = {"cpu_share": 0.1, "open_trx_after": 0, "backlog_before": 10, "backlog_after": 20}


def test_a_clean_level_has_no_flags():
    assert resource_flags("ok", True, 0, {"cpu_share": 0.2}, QUIET_DB) == []


@pytest.mark.parametrize(("status", "valid", "errors", "client", "db", "expected"), [
    ("failed", False, None, {"cpu_share": 0.1}, QUIET_DB, ["failed"]),
    ("ok", False, 0, {"cpu_share": 0.1}, QUIET_DB, ["invalid"]),
    ("ok", True, 3, {"cpu_share": 0.1}, QUIET_DB, ["errors"]),
    ("ok", True, 0, {"cpu_share": 0.81}, QUIET_DB, ["client_bound"]),
    ("ok", True, 0, {"cpu_share": 0.8}, QUIET_DB, []),
    ("ok", True, 0, {"cpu_share": 0.1}, {**QUIET_DB, "cpu_share": 0.9}, ["db_bound"]),
    ("ok", True, 0, {"cpu_share": 0.1}, {**QUIET_DB, "open_trx_after": 1}, ["db_open_transactions"]),
    ("ok", True, 0, {"cpu_share": 0.1}, {**QUIET_DB, "backlog_after": 1011}, ["db_backlog_growth"]),
    ("ok", True, 0, {"cpu_share": 0.1}, {**QUIET_DB, "backlog_after": None}, []),
])
def test_each_reading_earns_its_flag(status, valid, errors, client, db, expected):
    assert resource_flags(status, valid, errors, client, db) == expected


@pytest.mark.parametrize(("foreign", "steal", "noisy"), [
    (0.0, 0.0, False), (NOISY_SHARE, 0.0, False), (NOISY_SHARE + 0.001, 0.0, True), (0.0, 0.2, True),
])
def test_noise_over_the_threshold_is_noisy(foreign, steal, noisy):
    assert Noise(foreign, steal, [0, 1]).noisy is noisy


def test_processes_sharing_the_database_cpus_are_summed():
    """The issue's reading: on CPU 0, MariaDB 57 %, the relay 41 %, wrk 0.5 %: no process
    over 80 % alone, yet CPU 0 was full."""
    client, db, relay = {"cpu_pct": 0.5, "cpus": [0]}, {**QUIET_DB, "cpu_pct": 57.0, "cpu_share": 0.57}, \
        {"cpu_share": 0.41}
    share = shared_cpus_share(client, db, relay, (0,))
    assert share == pytest.approx(0.985)
    assert resource_flags("ok", True, 0, {**client, "cpu_share": 0.005}, db, share) == ["shared_cpus_bound"]


def test_a_client_on_other_cpus_is_not_summed_and_one_process_is_its_own_flag():
    client, db = {"cpu_pct": 90.0, "cpus": [1]}, {"cpu_pct": 70.0}
    assert shared_cpus_share(client, db, None, (0,)) is None
    assert shared_cpus_share(client, db, {"cpu_share": 0.2}, (0,)) == pytest.approx(0.9)
    over = {**QUIET_DB, "cpu_share": 0.9}
    assert resource_flags("ok", True, 0, {"cpu_share": 0.1}, over, 0.95) == ["db_bound"]
    assert resource_flags("ok", True, 0, {"cpu_share": 0.1}, QUIET_DB, 0.8) == []
