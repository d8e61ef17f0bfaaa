"""The verification gate (docs/design.md, The verification gate): before a stack is measured, prove it does
the agreed work. A stack that fails is skipped with the reasons; the run goes on.

Statements are counted exactly: the server's own record of statements (MariaDB's general
query log, PostgreSQL's statement log; bench/driver/dbprobe.py) is on only while K io
requests run, and every statement is classified as workload (on lab_records),
transaction control, or connection set-up, so differences between drivers are reported
("1 connection, 1 SELECT and 4 SET per request beyond the workload"), not hidden.
"""

from __future__ import annotations

import re
from collections import Counter

import httpx

from bench.driver.dbprobe import AuditUnavailable, DbProbe
from bench.driver.users_page import parse_users_table, seed_rows
from bench.endpoints import ENDPOINTS, Body, Endpoint
from lab.config import Settings
from lab.io_files import RESPONSE_BODY, STATEMENTS_PER_REQUEST, io_files_left

STATEMENT_REQUESTS = 3  # io requests run with the statement record on, per io endpoint
LOG_ATTEMPTS = 3  # counting is redone only when another client disturbed the log
# "workload statements per request 80/40/80/8/16 (insert/update/delete/commit/select)"
WORKLOAD_CHECK = (f"workload statements per request {'/'.join(str(n) for n in STATEMENTS_PER_REQUEST.values())} "
                  f"({'/'.join(STATEMENTS_PER_REQUEST)})")
_WORKLOAD_RE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|SELECT)\b.*\blab_records\b", re.I | re.S)
_TX_RE = re.compile(r"^\s*(BEGIN|START TRANSACTION|ROLLBACK|SET\s+autocommit|SET\s+SESSION\s+autocommit)\b", re.I)


def classify(command_type: str, statement: str) -> tuple[str, str]:
    """(category, kind) of one general-log entry."""
    if command_type == "Connect":
        return "connection_setup", "connect"
    if command_type in ("Quit", "Ping", "Statistics"):
        return "ignored", command_type.lower()
    if command_type == "Init DB":
        return "connection_setup", "init db"
    text = statement.strip().rstrip(";").rstrip()  # asyncpg sends "BEGIN;" and "COMMIT;"
    if text.upper() == "COMMIT":
        return "workload", "commit"
    if match := _WORKLOAD_RE.match(text):
        return "workload", match.group(1).lower()
    if match := _TX_RE.match(text):
        return "transaction_control", " ".join(match.group(1).lower().split())
    first_word = (text.split(None, 1) or ["?"])[0].lower()
    return "connection_setup", first_word


def statements_per_request(log: list[tuple[int, str, str]], requests: int) -> dict:
    counts: dict[str, Counter] = {"workload": Counter(), "transaction_control": Counter(),
                                  "connection_setup": Counter()}
    for _thread, command_type, statement in log:
        category, kind = classify(command_type, statement)
        if category != "ignored":
            counts[category][kind] += 1
    per_request = {category: {kind: n / requests for kind, n in sorted(counter.items())}
                   for category, counter in counts.items()}
    per_request["connections"] = counts["connection_setup"]["connect"] / requests
    return per_request


def describe_extras(per_request: dict) -> str:
    """'1 connection, 1 select and 4 set per request beyond the workload' or 'none'."""
    parts = []
    if per_request["connections"]:
        parts.append(f"{per_request['connections']:g} connection")
    for category in ("connection_setup", "transaction_control"):
        for kind, n in per_request[category].items():
            if kind != "connect":
                parts.append(f"{n:g} {kind.upper()}")
    return ", ".join(parts) + " per request beyond the workload" if parts else "nothing beyond the workload"


class Gate:
    """Runs the checks against one running stack and collects {name, passed, detail}."""

    def __init__(self, stack: str, base_url: str, settings: Settings, probe: DbProbe,
                 endpoints: tuple[Endpoint, ...] = tuple(Endpoint)):
        self.stack = stack
        self.endpoints = endpoints  # what the stack serves (lab/stacks.py)
        self.base_url = base_url
        self.settings = settings
        self.probe = probe
        self.checks: list[dict] = []
        self.statements: dict[str, dict] = {}
        self.audit = {"ran": probe.owned, "why": probe.audit_why_not}

    def check(self, name: str, passed: bool, detail: str = "") -> bool:
        self.checks.append({"name": name, "passed": bool(passed), "detail": detail})
        return passed

    def _endpoint(self, client: httpx.Client, endpoint: Endpoint) -> httpx.Response:
        entry = ENDPOINTS[endpoint]
        response = client.request(entry.method, self.base_url + entry.path)
        length = response.headers.get("content-length")
        self.check(f"{endpoint}: status 200", response.status_code == 200, f"got {response.status_code}")
        self.check(f"{endpoint}: Content-Type", response.headers.get("content-type") == entry.content_type,
                   f"got {response.headers.get('content-type')!r}")
        self.check(f"{endpoint}: Content-Length", length is not None and int(length) == len(response.content),
                   f"header {length}, body {len(response.content)} bytes")
        return response

    def run(self) -> dict:
        with httpx.Client(timeout=30) as client:
            for endpoint in self.endpoints:
                response = self._endpoint(client, endpoint)
                if ENDPOINTS[endpoint].body == Body.USERS:
                    rows = parse_users_table(response.text)
                    self.check(f"{endpoint}: users table equals the seed (1,000 rows, cells, escaping)",
                               rows == seed_rows(), f"{len(rows)} rows parsed")
                    limited = client.get(response.url, params={"limit": "5"})
                    self.check(f"{endpoint}: ?limit=5 gives 5 rows", len(parse_users_table(limited.text)) == 5)
                    bad = client.get(response.url, params={"limit": "0"})
                    self.check(f"{endpoint}: ?limit=0 is 400", bad.status_code == 400, f"got {bad.status_code}")
                elif ENDPOINTS[endpoint].io:
                    self.check(f"{endpoint}: exact JSON body", response.text == RESPONSE_BODY, response.text[:120])
                    self.check(f"{endpoint}: Server-Timing", "app;dur=" in response.headers.get("server-timing", ""))
                    get = client.get(response.url)
                    self.check(f"{endpoint}: GET is 405", get.status_code == 405, f"got {get.status_code}")
                    self._count_statements(client, endpoint)
            self.check("no lab_records rows left", self.probe.lab_records() == 0)
            leftovers = io_files_left(self.settings.io_dir)
            self.check("no io files left in IO_DIR", not leftovers, f"{len(leftovers)} files")
        failed = [c for c in self.checks if not c["passed"]]
        summary = "; ".join(f"{endpoint}: {describe_extras(per)}" for endpoint, per in self.statements.items())
        if not self.audit["ran"] and any(ENDPOINTS[e].io for e in self.endpoints):
            summary = f"statement audit {self.audit['why']}"
        return {"passed": not failed, "checks": self.checks, "statements_per_request": self.statements,
                "statement_audit": self.audit,
                "summary": f"{self.stack}: {summary}" if summary else self.stack,
                "failed": [f"{c['name']} ({c['detail']})" if c["detail"] else c["name"] for c in failed]}

    def _logged_requests(self, client: httpx.Client, endpoint: Endpoint) -> list[tuple[int, str, str]] | None:
        """The general log of STATEMENT_REQUESTS requests; None when another client of the
        database switched the log off or emptied it meanwhile (the counts would be wrong)."""
        entry = ENDPOINTS[endpoint]
        self.probe.audit_on()
        try:
            for _ in range(STATEMENT_REQUESTS):
                client.request(entry.method, self.base_url + entry.path)
        finally:
            log, intact = self.probe.audit_off()
        return log if intact else None

    def _count_statements(self, client: httpx.Client, endpoint: Endpoint) -> None:
        if not self.audit["ran"]:
            return
        for _ in range(LOG_ATTEMPTS):
            try:
                log = self._logged_requests(client, endpoint)
            except AuditUnavailable as error:
                self.check(f"{endpoint}: statement counts", False, str(error))
                return
            if log is not None:
                break
        else:
            self.check(f"{endpoint}: statement counts", False, f"another client of the database switched the "
                       f"statement record off or emptied it during each of {LOG_ATTEMPTS} attempts")
            return
        per_request = statements_per_request(log, STATEMENT_REQUESTS)
        self.statements[str(endpoint)] = per_request
        got = {kind: per_request["workload"].get(kind, 0) for kind in STATEMENTS_PER_REQUEST}
        self.check(f"{endpoint}: {WORKLOAD_CHECK}", got == STATEMENTS_PER_REQUEST,
                   f"got {got}; {describe_extras(per_request)}")


def verify(stack: str, base_url: str, settings: Settings, probe: DbProbe,
           endpoints: tuple[Endpoint, ...] = tuple(Endpoint)) -> dict:
    """The gate's outcome on the endpoints the stack serves: passed, checks,
    statements_per_request, summary, failed."""
    try:
        return Gate(stack, base_url, settings, probe, endpoints).run()
    except httpx.HTTPError as error:
        return {"passed": False, "checks": [], "statements_per_request": {}, "summary": stack,
                "failed": [f"request failed: {type(error).__name__}: {error}"]}
