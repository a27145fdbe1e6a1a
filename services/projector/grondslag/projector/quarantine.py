"""The quarantine: what a projection set aside because it could not handle one of its events,
so that every other stream and tenant goes on.

A projection names what it sets aside by a key: the event's stream for the read model and
the relay, the tenant for the audit log (a tenant's tree takes its leaves in log order, so
none of them may overtake a held one), the standing for the deadline clock. ``hold``
records the key with the first notification id held and the error; the follower then
passes over the key's later events, which stay in the log and are handled, in log order,
when ``grondslag quarantine retry`` releases the key (``release.release_key``).

Errors of the surroundings rather than of one event — the database or NATS away, a time-out,
a schema the code does not match — never quarantine anything: ``transient`` tells them
apart, and the batch is tried again as a whole.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import nats.errors
from eventsourcing import persistence

from grondslag.ledger.domain.errors import ConcurrentChange
from grondslag.ledger.reads.operations import QUARANTINE_TABLE

from .keys import Key

log = logging.getLogger("grondslag.quarantine")

DDL = f"""
CREATE TABLE IF NOT EXISTS {QUARANTINE_TABLE} (
    projection text NOT NULL,
    scope text NOT NULL,   -- what the key names: stream, tenant or standing
    key text NOT NULL,
    tenant text,
    first_held bigint,     -- notification id (the deadline clock holds no events)
    since timestamptz NOT NULL DEFAULT now(),
    error text NOT NULL,
    attempts integer NOT NULL DEFAULT 1,
    last_attempt timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, scope, key)
);
"""

# SQLSTATE classes of the database or its schema, not of an event: connection, transaction
# state (a read-only standby), authorisation, catalog, rollback (serialization, deadlock),
# syntax or access (a missing table: a deployment ahead or behind), resources, lock not
# available, operator intervention (shutdown, cancel), system and internal errors
SYSTEMIC_SQLSTATE = {"08", "25", "28", "3D", "40", "42", "53", "55", "57", "58", "F0", "XX"}
TRANSIENT = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,  # the connection closed or in use (not ValueError: see below)
    asyncpg.InternalClientError,  # a pooled connection left mid-operation by a refusal
    persistence.OperationalError,
    persistence.InterfaceError,
    persistence.InternalError,
    persistence.ProgrammingError,
    ConcurrentChange,
    nats.errors.Error,  # no responders, time-outs, a connection closed or reconnecting
)
# errors one event causes, and would cause again: a query argument asyncpg cannot encode
# (its client-side DataError is an InterfaceError and a ValueError), a message NATS refuses
OF_THE_EVENT = (ValueError, nats.errors.MaxPayloadError, nats.errors.BadSubjectError)


def transient(error: BaseException) -> bool:
    """Whether ``error`` is the surroundings' (try again) rather than one event's."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, OF_THE_EVENT):
            return False
        if isinstance(cause, TRANSIENT):
            return True
        state = getattr(cause, "sqlstate", None)
        if isinstance(state, str) and state[:2] in SYSTEMIC_SQLSTATE:
            return True
        cause = cause.__cause__
    return False


async def attempt(conn: asyncpg.Connection, work: Callable[[], Awaitable[Any]]) -> Exception | None:
    """Run ``work`` in a savepoint; answers its error if it failed for a reason of its own
    (the savepoint rolled back, the transaction goes on), ``None`` if it succeeded. A
    transient error is raised on: the whole transaction is to be tried again."""
    try:
        async with conn.transaction():
            await work()
    except Exception as error:
        if transient(error):
            raise
        return error
    return None


async def held_keys(conn: asyncpg.Connection, projection: str) -> set[tuple[str, str]]:
    rows = await conn.fetch(
        f"SELECT scope, key FROM {QUARANTINE_TABLE} WHERE projection = $1", projection
    )
    return {(row["scope"], row["key"]) for row in rows}


async def hold(
    conn: asyncpg.Connection | asyncpg.Pool,
    projection: str,
    key: Key,
    first_held: int | None,
    error: BaseException,
) -> None:
    """Set ``key`` aside (or, held already, record the latest attempt's error)."""
    text = f"{type(error).__name__}: {error}"[:2000]
    log.error(
        "projection %s: %s %s quarantined (tenant %s, from notification %s): %s",
        *(projection, key.scope, key.key, key.tenant, first_held, text),
        exc_info=error,
    )
    await conn.execute(
        f"INSERT INTO {QUARANTINE_TABLE} AS q "
        "(projection, scope, key, tenant, first_held, error) VALUES ($1, $2, $3, $4, $5, $6) "
        "ON CONFLICT (projection, scope, key) DO UPDATE SET error = EXCLUDED.error, "
        "attempts = q.attempts + 1, last_attempt = now(), tenant = coalesce(q.tenant, "
        "EXCLUDED.tenant), first_held = least(q.first_held, EXCLUDED.first_held)",
        *(projection, key.scope, key.key, key.tenant, first_held, text),
    )


async def entry(conn: asyncpg.Connection, projection: str, scope: str, key: str) -> Any:
    """The quarantine row of ``key``, locked until the transaction ends (or ``None``)."""
    return await conn.fetchrow(
        f"SELECT * FROM {QUARANTINE_TABLE} WHERE projection = $1 AND scope = $2 AND key = $3 "
        "FOR UPDATE",
        *(projection, scope, key),
    )


async def release(conn: asyncpg.Connection, projection: str, scope: str, key: str) -> None:
    log.info("projection %s: %s %s released from quarantine", projection, scope, key)
    await conn.execute(
        f"DELETE FROM {QUARANTINE_TABLE} WHERE projection = $1 AND scope = $2 AND key = $3",
        *(projection, scope, key),
    )
