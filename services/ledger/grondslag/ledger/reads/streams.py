"""Load aggregates straight from the event store with asyncpg.

Used where an answer must include the caller's own latest write (standing, history):
the stored events are the truth, and folding a handful of them is cheap.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

import asyncpg

from ..persistence.mapper import decode_event
from ..persistence.postgres import EVENTS_TABLE, STREAMS_TABLE

SELECT_EVENTS = (
    f"SELECT originator_id, originator_version, topic, state, notification_id "
    f"FROM {EVENTS_TABLE} WHERE originator_id = ANY($1::uuid[]) "
    "ORDER BY originator_id, originator_version"
)


async def load_events(conn: asyncpg.Connection | asyncpg.Pool, ids: Iterable[UUID]) -> list[Any]:
    """Every event of the given streams, each with its notification id, in stream order."""
    rows = await conn.fetch(SELECT_EVENTS, list(ids))
    events = []
    for row in rows:
        event = decode_event(
            row["topic"], row["state"], row["originator_id"], row["originator_version"]
        )
        events.append((row["notification_id"], event))
    return events


async def load_aggregates(
    conn: asyncpg.Connection | asyncpg.Pool, ids: Iterable[UUID]
) -> dict[UUID, Any]:
    """The current state of each given stream that exists."""
    aggregates: dict[UUID, Any] = {}
    for _, event in await load_events(conn, ids):
        aggregates[event.originator_id] = event.mutate(aggregates.get(event.originator_id))
    return aggregates


async def stream_ids(
    conn: asyncpg.Connection | asyncpg.Pool,
    tenant: str,
    kind: str,
    subject_ref: str | None = None,
) -> list[tuple[UUID, str | None]]:
    """Streams of one kind for a tenant (and subject): ``(id, purpose code)`` pairs."""
    if subject_ref is None:
        rows = await conn.fetch(
            f"SELECT originator_id, purpose FROM {STREAMS_TABLE} "
            "WHERE tenant = $1 AND kind = $2 ORDER BY purpose",
            tenant,
            kind,
        )
    else:
        rows = await conn.fetch(
            f"SELECT originator_id, purpose FROM {STREAMS_TABLE} "
            "WHERE tenant = $1 AND kind = $2 AND subject_ref = $3 ORDER BY purpose",
            tenant,
            kind,
            subject_ref,
        )
    return [(row["originator_id"], row["purpose"]) for row in rows]


async def purpose_page(
    conn: asyncpg.Connection | asyncpg.Pool, tenant: str, after: str, limit: int
) -> list[UUID]:
    """The register's streams by code after ``after``: at most ``limit`` of them."""
    rows = await conn.fetch(
        f"SELECT originator_id FROM {STREAMS_TABLE} "
        "WHERE tenant = $1 AND kind = 'purpose' AND purpose > $2 ORDER BY purpose LIMIT $3",
        tenant,
        after,
        limit,
    )
    return [row["originator_id"] for row in rows]
