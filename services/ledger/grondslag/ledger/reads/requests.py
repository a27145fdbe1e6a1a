"""Data-subject requests (R23): one request folded from its stream; the list of a tenant's
requests by due date, ordered and paginated by the read model, each shown as folded.

The read model (``REQUESTS_TABLE``, kept by the projector, rebuilt by ``grondslag rebuild``)
is only an index: it chooses and orders the page; what the page shows is each request's own
fold at read time. A request recorded a moment ago may join the list after the projection's
lag; one whose fold no longer has the status asked for (answered meanwhile) is left out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import asyncpg
import msgspec

from ..domain.errors import InvalidInput, NotFound
from ..domain.request_answer import request_answer
from ..domain.request_values import RequestAnswer
from ..domain.subject_request import SubjectRequest, request_stream_id
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
        return RequestPage([])
    page, more = rows[:limit], len(rows) > limit
    streams = {row["request_id"]: request_stream_id(tenant, row["request_id"]) for row in page}
    folded = await load_aggregates(pool, streams.values())
    answers = []
    for row in page:
        request = folded.get(streams[row["request_id"]])
        if request is None:
            continue
        answer = request_answer(request, at)
        if wanted is None or answer.status == wanted:
            answers.append(answer)
    following = _encode(page[-1]["due_at"], page[-1]["request_id"]) if more else None
    return RequestPage(answers, following)


def _encode(due_at: datetime, request_id: str) -> str:
    return paging.encode([due_at, request_id])


def _decode(cursor: str) -> tuple[datetime, str]:
    due_at, request_id = paging.decode(cursor, tuple[datetime, str])
    if due_at.tzinfo is None:
        raise InvalidInput("cursor is not one this list gave", field="cursor")
    return due_at, request_id
