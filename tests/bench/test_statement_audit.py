"""The statement audit's classification (bench/driver/verify.py): pure logic on general-log
entries shaped as MariaDB writes them (thread id, command type, argument)."""

import json

import pytest

from bench.driver.verify import WORKLOAD_CHECK, classify, describe_extras, statements_per_request
from lab.config import ROOT


@pytest.mark.parametrize(("command", "statement", "expected"), [
    ("Query", "INSERT INTO `lab_records` (`email`) VALUES ('a@x')", ("workload", "insert")),
    ("Query", "UPDATE lab_records SET name = 'n' WHERE id = 3", ("workload", "update")),
    ("Query", "DELETE FROM `lab_records` WHERE `id` = 3", ("workload", "delete")),
    ("Query", "SELECT COUNT(*) AS `__count` FROM `lab_records`", ("workload", "select")),
    ("Query", "commit", ("workload", "commit")),
    ("Query", "BEGIN", ("transaction_control", "begin")),
    ("Query", "set autocommit=0", ("transaction_control", "set autocommit")),
    ("Query", "SELECT @@SQL_AUTO_IS_NULL", ("connection_setup", "select")),
    ("Query", "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", ("connection_setup", "set")),
    ("Connect", "lab@localhost on lab using TCP/IP", ("connection_setup", "connect")),
    ("Quit", "", ("ignored", "quit")),
    ("Query", "SELECT * FROM users", ("connection_setup", "select")),  # not the workload's table
])
def test_classify(command, statement, expected):
    assert classify(command, statement) == expected


def test_per_request_counts_and_the_extras_line():
    one_request = [
        (7, "Connect", "lab@localhost on lab using TCP/IP"),
        (7, "Query", "SELECT @@SQL_AUTO_IS_NULL"),
        (7, "Query", "set autocommit=0"),
        *[(7, "Query", "INSERT INTO lab_records VALUES (1)")] * 10,
        (7, "Query", "COMMIT"),
        (7, "Quit", ""),
    ]
    per_request = statements_per_request(one_request * 2, 2)
    assert per_request["workload"] == {"commit": 1.0, "insert": 10.0}
    assert per_request["transaction_control"] == {"set autocommit": 1.0}
    assert per_request["connections"] == 1.0
    assert describe_extras(per_request) == "1 connection, 1 SELECT, 1 SET AUTOCOMMIT per request beyond the workload"
    quiet = statements_per_request([(7, "Query", "COMMIT")], 1)
    assert describe_extras(quiet) == "nothing beyond the workload"


def test_the_expected_counts_read_as_in_the_saved_runs():
    """WORKLOAD_CHECK is derived from lab/io_files.py's blocks: a change to the workload shows here."""
    names = {check["name"].split(": ", 1)[1] for path in (ROOT / "fixtures" / "runs").glob("*/run.json")
             for stack in json.loads(path.read_text())["stacks"].values()
             for check in (stack.get("verification") or {}).get("checks", [])
             if "workload statements" in check["name"]}
    assert names == {WORKLOAD_CHECK}
