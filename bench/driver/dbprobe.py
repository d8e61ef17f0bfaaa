"""What the driver asks the lab's database server, whichever engine: one probe per engine
(PROBES), each with the same questions in the engine's own terms.

- connections_opened(): connections accepted since the server started (a counter), and
  connected(): sessions open now;
- backlog(): old row versions the server must keep for an open snapshot (MariaDB: InnoDB's
  history list length; PostgreSQL: the age, in transactions, of the oldest snapshot held),
  open_transactions(), running_statements() of the lab's sessions;
- lab_records(), reset_lab_records(), variables(), max_connections();
- audit_on() / audit_off(): every statement of the lab database's sessions while the gate
  runs a few requests, as (session, command type, statement), and whether the record is
  intact (MariaDB: its general log; PostgreSQL: log_statement=all in its CSV log).

Every call goes over an admin connection (the superuser of the private server, the
configured user on a DATABASE_URL server). A database that went away raises DatabaseGone,
which the runner records as failed rows with a clear message. The lab changes no global
setting, log or table of a server it did not start: on a DATABASE_URL server (not `owned`)
the audit is not run, and what needs a privilege the user may not have given reads as unknown.
"""

from __future__ import annotations

import importlib
from typing import Protocol

from lab.config import Settings
from lab.errors import LabError

PROBES = {"mariadb": "bench.driver.mariadb_probe:MariaDbProbe",
          "postgresql": "bench.driver.postgresql_probe:PostgresProbe"}
AUDIT_NOT_OWNED = ("not run: the database is a DATABASE_URL server the lab did not start, and the audit would "
                   "switch on its {log}")


class DatabaseGone(LabError, RuntimeError):
    """The database stopped answering; str() says what happened."""


class AuditUnavailable(LabError, RuntimeError):
    """The statement record could not be switched or read; str() is the server's line."""


class MissingPrivilege(DatabaseGone):
    """The DATABASE_URL user lacks a privilege the run needs; str() is the server's own line,
    which names it. The run stops as when the database goes away."""


class DbProbe(Protocol):
    settings: Settings
    owned: bool
    audit_why_not: str | None

    def close(self) -> None: ...
    def connections_opened(self) -> int: ...
    def connected(self) -> int: ...
    def backlog(self) -> int | None: ...
    def open_transactions(self) -> int | None: ...
    def running_statements(self) -> int: ...
    def lab_records(self) -> int: ...
    def reset_lab_records(self) -> None: ...
    def variables(self) -> dict[str, str]: ...
    def max_connections(self) -> int: ...
    def raise_max_connections(self, needed: int) -> bool: ...
    def audit_on(self) -> None: ...
    def audit_off(self) -> tuple[list[tuple[int, str, str]], bool]: ...


def open_probe(settings: Settings) -> DbProbe:
    module, _, name = PROBES[settings.database.engine].partition(":")
    return getattr(importlib.import_module(module), name)(settings)

