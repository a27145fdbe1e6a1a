"""Versioned migrations: the database's schema version, and the steps to this release's.

``grondslag_schema_versions`` holds one row per migration applied (its number, name, when,
how long, and whether it adopted the tables of a release from before the versions). Each
migration is applied in a transaction of its own that first takes the schema lock
(``schema_lock.SCHEMA_LOCK``, an advisory lock) and then reads the version: of several processes
migrating at once, one applies each step and the others, their turn come, find it done.

A database with ``grondslag_*`` tables and no version is one that release 0.1.0 made
(its processes created their tables at every start); migration 1 is that release's schema
in the statements it ran, so applying it adopts the tables as they are and records
version 1. A schema change is a new ``vNNNN_….py`` module appended to ``MIGRATIONS``,
never an edit of one applied before.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import psycopg

from ..schema_lock import SCHEMA_LOCK, VERSIONS_TABLE
from . import (
    v0001_schema,
    v0002_event_traces,
    v0003_idempotent_location,
    v0004_tracking_partitions,
    v0005_held_standing,
    v0006_append_function,
)

log = logging.getLogger("grondslag.migrations")


VERSIONS_DDL = f"""
CREATE TABLE IF NOT EXISTS {VERSIONS_TABLE} (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    seconds double precision NOT NULL,
    adopted boolean NOT NULL DEFAULT false
)
"""
# tables of ours beside the version table: a database that has some is not new
UNVERSIONED_TABLES = f"""
SELECT count(*) FROM information_schema.tables
WHERE table_schema = ANY (current_schemas(false)) AND table_name LIKE 'grondslag\\_%'
    AND table_name <> '{VERSIONS_TABLE}'
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, v0001_schema.NAME, v0001_schema.SQL),
    Migration(2, v0002_event_traces.NAME, v0002_event_traces.SQL),
    Migration(3, v0003_idempotent_location.NAME, v0003_idempotent_location.SQL),
    Migration(4, v0004_tracking_partitions.NAME, v0004_tracking_partitions.SQL),
    Migration(5, v0005_held_standing.NAME, v0005_held_standing.SQL),
    Migration(6, v0006_append_function.NAME, v0006_append_function.SQL),
)
WANTED = MIGRATIONS[-1].version


@dataclass(frozen=True)
class Status:
    current: int  # 0: none recorded
    wanted: int
    tables: bool  # any grondslag_* tables (with current 0: a database of release 0.1.0)

    @property
    def pending(self) -> tuple[Migration, ...]:
        return tuple(m for m in MIGRATIONS if m.version > self.current)

    def describe(self) -> str:
        if self.current == 0:
            now = "no schema version: " + (
                "tables of release 0.1.0, to be adopted" if self.tables else "a new database"
            )
        else:
            now = f"schema version {self.current}"
        if self.current > self.wanted:
            return f"{now}, ahead of this release's {self.wanted} (a newer release migrated it)"
        if not self.pending:
            return f"{now}, as this release wants: up to date"
        steps = ", ".join(f"{m.version} ({m.name})" for m in self.pending)
        return f"{now}; this release wants {self.wanted}: to apply {steps}"


@dataclass(frozen=True)
class Applied:
    version: int
    name: str
    seconds: float
    adopted: bool


class SchemaBehind(RuntimeError):
    """The database's schema is older than this release's, and may not be migrated here."""

    def __init__(self, status: Status):
        super().__init__(
            f"the database is behind this release ({status.describe()}); "
            "run `grondslag migrate` first"
        )
        self.status = status


def status(conn: psycopg.Connection) -> Status:
    """The schema version recorded and the one this release wants (reads only)."""
    present = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (VERSIONS_TABLE,)).fetchone()
    current = 0
    if present and present[0]:
        row = conn.execute(f"SELECT coalesce(max(version), 0) FROM {VERSIONS_TABLE}").fetchone()
        current = int(row[0]) if row else 0
    tables = conn.execute(UNVERSIONED_TABLES).fetchone()
    return Status(current, WANTED, bool(tables and tables[0]))


def migrate(conn: psycopg.Connection) -> list[Applied]:
    """Apply every pending migration, each in its own transaction under the schema lock;
    answers those this call applied (none when another process did them meanwhile).
    ``conn`` is in autocommit mode."""
    applied: list[Applied] = []
    while True:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            conn.execute(VERSIONS_DDL)
            now = status(conn)
            if not now.pending:
                return applied
            step = now.pending[0]
            adopted = now.current == 0 and now.tables
            started = time.perf_counter()
            conn.execute(step.sql.encode())  # frozen text without parameters: one script
            seconds = time.perf_counter() - started
            conn.execute(
                f"INSERT INTO {VERSIONS_TABLE} (version, name, seconds, adopted) "
                "VALUES (%s, %s, %s, %s)",
                (step.version, step.name, seconds, adopted),
            )
        applied.append(Applied(step.version, step.name, seconds, adopted))
        log.info(
            "schema migration %d (%s) applied in %.3f s%s",
            step.version,
            step.name,
            seconds,
            ": the tables of release 0.1.0 adopted as they were" if adopted else "",
        )


def prepare(database_url: str, *, apply: bool, connect_timeout: int = 10) -> Status:
    """Bring the database to this release's schema (``apply``), or make sure it is there
    (raises ``SchemaBehind``); a database ahead of this release is let be, with a warning
    (during a rolling upgrade, a replica of the release before may restart)."""
    with psycopg.connect(database_url, autocommit=True, connect_timeout=connect_timeout) as conn:
        if apply:
            migrate(conn)
        now = status(conn)
    if now.current < now.wanted:
        raise SchemaBehind(now)
    if now.current > now.wanted:
        log.warning("%s", now.describe())
    return now
