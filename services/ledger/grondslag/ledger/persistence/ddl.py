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

SCHEMA_LOCK = 4711001  # pg_advisory_xact_lock key of the ledger's table creation


async def create(db: asyncpg.Connection | asyncpg.Pool, *statements: str) -> None:
    """Run ``statements`` in one transaction, under the schema lock."""
    async with _connection(db) as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", SCHEMA_LOCK)
        for statement in statements:
            await conn.execute(statement)


@contextlib.asynccontextmanager
async def _connection(db: asyncpg.Connection | asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn:
            yield conn
    else:
        yield db
