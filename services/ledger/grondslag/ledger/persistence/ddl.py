"""Creating tables when processes start together.

Every process creates what it needs at start (``CREATE TABLE IF NOT EXISTS``), and on a
fresh database API workers, projectors and replicas start at the same moment. That
statement alone races: two creators of one table both find it missing, and the loser fails
on the duplicate row type (``pg_type``). So every creation — the event store's (through its
recorder), the ledger's own tables, the audit log's, the read model's — runs in a
transaction that first takes one advisory lock of the database, and they take turns.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import asyncpg

from .migrations import WANTED
from .schema_lock import SCHEMA_LOCK as SCHEMA_LOCK
from .schema_lock import VERSIONS_TABLE

# Once the database is at this release's schema (``grondslag migrate``, or ``serve`` and
# ``project`` at start), the migrations own every table: these statements would add
# nothing (the drift test holds them to that), but they would still lock their tables —
# ``CREATE INDEX IF NOT EXISTS`` shares, ``ALTER TABLE … ADD COLUMN IF NOT EXISTS`` takes an
# exclusive lock — beside the other processes' reads and writes, and a projector starting
# beside requests could deadlock one of them. So they run only where no migration reached
# this release (a database the tests build without migrating, a release being adopted).
RUN_WHEN_MIGRATED = False  # the drift test runs them on a migrated database all the same


async def create(db: asyncpg.Connection | asyncpg.Pool, *statements: str) -> None:
    """Run ``statements`` in one transaction, under the schema lock, unless the database
    is already at this release's schema."""
    async with _connection(db) as conn:
        if not RUN_WHEN_MIGRATED and await migrated(conn):
            return
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", SCHEMA_LOCK)
            for statement in statements:
                await conn.execute(statement)


async def migrated(conn: asyncpg.Connection) -> bool:
    """Whether the migrations brought the database to this release's schema (or later)."""
    if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", VERSIONS_TABLE):
        return False
    return bool(
        await conn.fetchval(f"SELECT coalesce(max(version), 0) >= $1 FROM {VERSIONS_TABLE}", WANTED)
    )


@contextlib.asynccontextmanager
async def _connection(db: asyncpg.Connection | asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn:
            yield conn
    else:
        yield db
