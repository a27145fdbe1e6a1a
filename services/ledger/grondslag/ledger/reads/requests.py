"""Data-subject requests (R23): one request folded from its stream; the list of a tenant's
requests by due date, ordered and paginated by the read model, each shown as folded.

The read model (``REQUESTS_TABLE``, kept by the projector, rebuilt by ``grondslag rebuild``)
is only an index: it chooses and orders the page; what the page shows is each request's own
fold at read time. Where the index trails the log (the projector lags, or is away), the
requests whose events it has not taken in yet are folded from the log and placed by their
own due date, so that a request recorded a moment ago is listed at once; one whose fold no
longer has the status asked for (answered meanwhile) is left out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

import asyncpg
import msgspec

from ..domain.errors import InvalidInput, NotFound
from ..domain.request_answer import request_answer
from ..domain.request_values import RequestAnswer
from ..domain.subject_request import SubjectRequest, request_stream_id
from ..persistence.postgres import EVENTS_TABLE, STREAMS_TABLE
from . import paging
from .streams import load_aggregates

REQUESTS_TABLE = "grondslag_subject_requests"
REQUESTS_DDL = f"""
CREATE TABLE IF NOT EXISTS {REQUESTS_TABLE} (
    tenant text NOT NULL,
    request_id text NOT NULL,
    subject_ref text NOT NULL,
    kind text NOT NULL,
    status text NOT NULL,
    received_at timestamptz NOT NULL,
    due_at timestamptz NOT NULL,
    answered_at timestamptz,
    late boolean NOT NULL,
    due_soon_noticed_for timestamptz,
    overdue_noticed boolean NOT NULL,
    stream_version bigint NOT NULL,
    PRIMARY KEY (tenant, request_id)
);
CREATE INDEX IF NOT EXISTS {REQUESTS_TABLE}_by_due
    ON {REQUESTS_TABLE} (tenant, status, due_at, request_id);
CREATE INDEX IF NOT EXISTS {REQUESTS_TABLE}_open ON {REQUESTS_TABLE} (due_at)
    WHERE status = 'open';
"""
StatusFilter = Literal["open", "answered", "all"]

PAGE = f"""
SELECT request_id, due_at FROM {REQUESTS_TABLE}
WHERE tenant = $1 AND ($2::text IS NULL OR status = $2)
  AND ($3::timestamptz IS NULL OR (due_at, request_id) > ($3, $4))
  AND ($6::text IS NULL OR subject_ref = $6)
ORDER BY due_at, request_id LIMIT $5
"""


INDEX_PROJECTION = "subject_requests"  # the projector's name for the index (request_index)
# the least of the index's partitions' positions: every request event after it may be missing
# from the index (the tenant's own partition may be further on; folding those again is harmless)
POSITION = "SELECT min(position) FROM grondslag_tracking WHERE projection = $1"
TRAILING = f"""
SELECT DISTINCT s.originator_id FROM {EVENTS_TABLE} e JOIN {STREAMS_TABLE} s USING (originator_id)
WHERE e.notification_id > $1 AND s.tenant = $2 AND s.kind = 'request'
  AND ($3::text IS NULL OR s.subject_ref = $3)
"""


class RequestPage(msgspec.Struct):
    """One page of requests by due date; ``next`` is the cursor of the next page, if any."""

    requests: list[RequestAnswer]
    next: str | None = None


async def one_request(
    pool: asyncpg.Pool, tenant: str, request_id: str, at: datetime
) -> RequestAnswer:
    stream = request_stream_id(tenant, request_id)
    request = (await load_aggregates(pool, [stream])).get(stream)
    if not isinstance(request, SubjectRequest):
        raise NotFound(f"request {request_id!r} is not recorded")
    return request_answer(request, at)


async def list_requests(
    pool: asyncpg.Pool,
    tenant: str,
    status: StatusFilter,
    limit: int,
    cursor: str | None,
    at: datetime,
    subject_ref: str | None = None,
) -> RequestPage:
    after_due, after_id = _decode(cursor) if cursor else (None, None)
    wanted = None if status == "all" else status
    try:
        rows = await pool.fetch(PAGE, tenant, wanted, after_due, after_id, limit + 1, subject_ref)
    except asyncpg.UndefinedTableError:  # the projector has not run yet
        rows = []
    page, more = rows[:limit], len(rows) > limit
    trailing = set(await _trailing(pool, tenant, subject_ref))
    streams = {row["request_id"]: request_stream_id(tenant, row["request_id"]) for row in page}
    folded = await load_aggregates(pool, trailing | set(streams.values()))
    shown: dict[str, RequestAnswer] = {}
    for row in page:
        request = folded.get(streams[row["request_id"]])
        if isinstance(request, SubjectRequest) and request.id not in trailing:
            shown[request.request_id] = request_answer(request, at)
    after = (after_due, after_id) if after_due is not None else None
    before = (rows[limit]["due_at"], rows[limit]["request_id"]) if more else None
    for stream in trailing:  # where the index trails, each request's own fold places it
        request = folded.get(stream)
        if isinstance(request, SubjectRequest):
            answer = request_answer(request, at)
            place = (answer.due_at, answer.request_id)
            if (after is None or place > after) and (before is None or place < before):
                shown[answer.request_id] = answer
    ordered = sorted(
        (a for a in shown.values() if wanted is None or a.status == wanted),
        key=lambda a: (a.due_at, a.request_id),
    )
    answers = ordered[:limit]
    last = answers[-1] if answers else None
    following = (
        _encode(last.due_at, last.request_id)
        if last is not None and (more or len(ordered) > limit)
        else None
    )
    return RequestPage(answers, following)


async def _trailing(pool: asyncpg.Pool, tenant: str, subject_ref: str | None) -> list[UUID]:
    """The tenant's requests with events the index has not taken in yet (none once the
    projection is at the log's head: the query reads only the events after its position)."""
    try:
        position = await pool.fetchval(POSITION, INDEX_PROJECTION)
    except asyncpg.UndefinedTableError:
        position = None
    rows = await pool.fetch(TRAILING, position or 0, tenant, subject_ref)
    return [row["originator_id"] for row in rows]


def _encode(due_at: datetime, request_id: str) -> str:
    return paging.encode([due_at, request_id])


def _decode(cursor: str) -> tuple[datetime, str]:
    due_at, request_id = paging.decode(cursor, tuple[datetime, str])
    if due_at.tzinfo is None:
        raise InvalidInput("cursor is not one this list gave", field="cursor")
    return due_at, request_id
