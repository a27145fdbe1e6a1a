"""What a projection sets aside when it cannot handle an event: the event's stream, or its
tenant; and the events a follower passed over while the key was set aside."""

from __future__ import annotations

from typing import NamedTuple
from uuid import UUID

import asyncpg

from grondslag.ledger.persistence.postgres import EVENTS_TABLE, STREAMS_TABLE


class Key(NamedTuple):
    scope: str  # stream | tenant | standing
    key: str
    tenant: str | None


async def tenants_of(conn: asyncpg.Connection, streams: set[UUID]) -> dict[UUID, str]:
    rows = await conn.fetch(
        f"SELECT originator_id, tenant FROM {STREAMS_TABLE} WHERE originator_id = ANY($1::uuid[])",
        list(streams),
    )
    return {row["originator_id"]: row["tenant"] for row in rows}


async def by_stream(conn: asyncpg.Connection, rows: list[asyncpg.Record]) -> list[Key]:
    """The key of each event: its stream (the read model, the relay)."""
    tenants = await tenants_of(conn, {row["originator_id"] for row in rows})
    return [
        Key("stream", str(row["originator_id"]), tenants.get(row["originator_id"])) for row in rows
    ]


async def by_tenant(conn: asyncpg.Connection, rows: list[asyncpg.Record]) -> list[Key]:
    """The key of each event: its tenant (the audit log); its stream when the stream index
    does not know the stream, so that no tenant is guessed."""
    tenants = await tenants_of(conn, {row["originator_id"] for row in rows})
    keys = []
    for row in rows:
        tenant = tenants.get(row["originator_id"])
        keys.append(
            Key("tenant", tenant, tenant)
            if tenant
            else Key("stream", str(row["originator_id"]), None)
        )
    return keys


EVENT_COLUMNS = "e.notification_id, e.originator_id, e.originator_version, e.topic, e.state"
HELD = {
    "stream": f"SELECT {EVENT_COLUMNS} FROM {EVENTS_TABLE} e WHERE e.originator_id = $1::uuid "
    "AND e.notification_id BETWEEN $2 AND $3 ORDER BY e.notification_id",
    "tenant": f"SELECT {EVENT_COLUMNS} FROM {EVENTS_TABLE} e JOIN {STREAMS_TABLE} s "
    "ON s.originator_id = e.originator_id WHERE s.tenant = $1 "
    "AND e.notification_id BETWEEN $2 AND $3 ORDER BY e.notification_id",
}


async def held_events(
    conn: asyncpg.Connection, scope: str, key: str, first: int, last: int
) -> list[asyncpg.Record]:
    """The events of ``key`` a follower passed over: from the first held to its position."""
    return await conn.fetch(HELD[scope], key, first, last)
