"""What a data-subject request's events announce on NATS: ``request.received`` (so that the
practice's other systems can act and confirm), ``request.extended``, ``request.answered``,
``request.due_soon`` and ``request.overdue``. Each message's id is the event's own id; its
data carries references only (subject_ref, request id, kind, purposes, due date) — never
names or contact data — and says what the request's fold said when the event was recorded.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from grondslag.ledger.domain.ids import event_id
from grondslag.ledger.domain.request_answer import last_day, request_answer
from grondslag.ledger.domain.subject_request import SubjectRequest
from grondslag.ledger.reads.streams import load_events

from .messages import TYPE_PREFIX, CloudEvent, RequestNotice, nats_subject

NAMES: dict[type, str] = {
    SubjectRequest.Received: "request.received",
    SubjectRequest.Extended: "request.extended",
    SubjectRequest.Answered: "request.answered",
    SubjectRequest.DueSoonNoticed: "request.due_soon",
    SubjectRequest.OverdueNoticed: "request.overdue",
}


def announces(event: Any) -> bool:
    return type(event) in NAMES


async def request_messages(
    conn: asyncpg.Connection, events: list[Any]
) -> list[tuple[str, CloudEvent]]:
    """The messages of a batch's request events, each from the fold as of that event."""
    relevant = [e for e in events if announces(e)]
    if not relevant:
        return []
    streams: dict[Any, list[Any]] = {}
    for _, stored in await load_events(conn, {e.originator_id for e in relevant}):
        streams.setdefault(stored.originator_id, []).append(stored)
    out = []
    for event in relevant:
        request = None
        for earlier in streams[event.originator_id][: event.originator_version]:
            request = earlier.mutate(request)
        assert isinstance(request, SubjectRequest)
        answer = request_answer(request, event.timestamp)
        name = NAMES[type(event)]
        data = RequestNotice(
            tenant=request.tenant,
            subject_ref=request.subject_ref,
            request_id=request.request_id,
            kind=request.kind,
            purposes=request.purposes,
            event_id=str(event_id(event.originator_id, event.originator_version)),
            received_at=request.received_at,
            due_at=request.due_at,
            due_date=last_day(request.due_at),
            status=answer.status,
            promised_by=request.promised_by,
            outcome=answer.answer.outcome if answer.answer else None,
            late=answer.late,
        )
        message = CloudEvent(
            id=data.event_id,
            source=f"urn:grondslag:{request.tenant}",
            type=f"{TYPE_PREFIX}{name}.v1",
            subject=f"{request.subject_ref}/requests/{request.request_id}",
            time=event.timestamp,
            data=data,
        )
        out.append((nats_subject(request.tenant, name), message))
    return out
