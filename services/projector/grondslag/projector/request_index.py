"""The read model of data-subject requests (R23): one row per request, folded from its
stream — the index that orders ``GET /v1/requests`` by due date, that the request clock
asks which deadlines are due, and that /metrics counts open and overdue requests from.
``grondslag rebuild`` folds it anew from the log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from grondslag.ledger.domain.request_answer import request_answer
from grondslag.ledger.domain.subject_request import SubjectRequest
from grondslag.ledger.persistence import ddl as persistence_ddl
from grondslag.ledger.persistence.postgres import EVENTS_TABLE, STREAMS_TABLE
from grondslag.ledger.reads.requests import REQUESTS_DDL, REQUESTS_TABLE
from grondslag.ledger.reads.streams import load_aggregates

from . import tracking
from .follower import TRACKING_DDL

NAME = "subject_requests"
TOPICS = ("ledger.domain.subject_request:",)  # a request's own events, no other's
UPSERT = f"""
INSERT INTO {REQUESTS_TABLE} AS r (tenant, request_id, subject_ref, kind, status, received_at,
    due_at, answered_at, late, due_soon_noticed_for, overdue_noticed, stream_version)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (tenant, request_id) DO UPDATE SET
    status = EXCLUDED.status, due_at = EXCLUDED.due_at, answered_at = EXCLUDED.answered_at,
    late = EXCLUDED.late, due_soon_noticed_for = EXCLUDED.due_soon_noticed_for,
    overdue_noticed = EXCLUDED.overdue_noticed, stream_version = EXCLUDED.stream_version
WHERE r.stream_version <= EXCLUDED.stream_version
"""


async def create_tables(conn: asyncpg.Connection | asyncpg.Pool) -> None:
    await persistence_ddl.create(conn, REQUESTS_DDL)


async def project(conn: asyncpg.Connection, events: list[tuple[int, Any]]) -> None:
    """Refresh the rows of every request these events touch."""
    touched = {e.originator_id for _, e in events if isinstance(e, SubjectRequest.Event)}
    if touched:
        await refresh(conn, touched)


async def refresh(conn: asyncpg.Connection | asyncpg.Pool, streams: set[UUID]) -> None:
    folded = await load_aggregates(conn, streams)
    now = datetime.now(UTC)
    rows = [row_of(r, now) for r in folded.values() if isinstance(r, SubjectRequest)]
    await conn.executemany(UPSERT, rows)


def row_of(request: SubjectRequest, now: datetime) -> tuple[Any, ...]:
    answer = request_answer(request, now)
    noticed = request.due_soon_noticed
    return (
        request.tenant,
        request.request_id,
        request.subject_ref,
        request.kind,
        answer.status,
        request.received_at,
        request.due_at,
        answer.answer.answered_at if answer.answer else None,
        answer.answer.late if answer.answer else False,
        noticed[0] if noticed else None,
        request.overdue_noticed is not None,
        request.version,
    )


async def rebuild(pool: asyncpg.Pool, chunk: int = 1000) -> int:
    """Fold every request from the log into the table anew; answers how many. Under the
    projection's position lock, which then moves to the log's head: the follower goes on
    from there (an event committed meanwhile is folded twice, to the same row)."""
    await create_tables(pool)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(TRACKING_DDL)
        await conn.execute(
            "INSERT INTO grondslag_tracking (projection) VALUES ($1) ON CONFLICT DO NOTHING", NAME
        )
        await tracking.lock_projection(conn, NAME)
        head = await conn.fetchval(f"SELECT coalesce(max(notification_id), 0) FROM {EVENTS_TABLE}")
        ids = [
            row[0]
            for row in await conn.fetch(
                f"SELECT originator_id FROM {STREAMS_TABLE} WHERE kind = 'request'"
            )
        ]
        await conn.execute(f"DELETE FROM {REQUESTS_TABLE}")
        for start in range(0, len(ids), chunk):
            await refresh(conn, set(ids[start : start + chunk]))
        await conn.execute(
            "UPDATE grondslag_tracking SET position = $2 WHERE projection = $1", NAME, head
        )
    return len(ids)
