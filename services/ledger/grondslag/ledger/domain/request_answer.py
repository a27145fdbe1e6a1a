"""The one fold of a data-subject request: what the ledger answers about it at a moment.

``GET /v1/requests/{id}``, the list of requests, the read model that orders that list and
the NATS messages all say what ``request_answer`` says.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import msgspec

from .due_dates import local_day
from .ids import event_id
from .request_values import (
    AnswerRecord,
    ConfirmationRecord,
    ExtensionRecord,
    HistoryEntry,
    RequestAnswer,
)
from .subject_request import SubjectRequest

JUST_BEFORE = timedelta(microseconds=1)


def last_day(due_at: datetime) -> str:
    """The last day (Amsterdam) of a due date given as the instant that day ends."""
    return local_day(due_at - JUST_BEFORE).isoformat()


def request_answer(request: SubjectRequest, at: datetime) -> RequestAnswer:
    """The request as folded from its stream, judged at ``at`` (overdue or not)."""
    answered = None
    if request.answer is not None:
        answer, recorded_at = request.answer
        answered = AnswerRecord(
            outcome=answer.outcome,
            reasons=answer.reasons,
            answered_at=answer.answered_at,
            recorded_at=recorded_at,
            late=answer.answered_at >= request.due_at,
        )
    overdue = answered is None and at >= request.due_at
    confirmations = [
        ConfirmationRecord(system=c.system, what=c.what, done_at=c.done_at, recorded_at=when)
        for c, when in request.confirmations
    ]
    return RequestAnswer(
        request_id=request.request_id,
        subject_ref=request.subject_ref,
        kind=request.kind,
        status="open" if answered is None else "answered",
        received_at=request.received_at,
        recorded_at=request.created_on,
        channel=request.channel,
        made_by=request.made_by,
        purposes=request.purposes,
        identity=request.identity,
        due_at=request.due_at,
        due_date=last_day(request.due_at),
        original_due_at=request.original_due_at,
        extended_months=request.extended_months,
        promised_term=request.promised_term,
        promised_by=request.promised_by,
        overdue=overdue,
        late=overdue or (answered is not None and answered.late),
        at=at,
        answer=answered,
        extensions=[
            ExtensionRecord(
                months=e.months,
                reasons=e.reasons,
                told_subject_at=e.told_subject_at,
                recorded_at=when,
                due_at=due,
            )
            for e, when, due in request.extensions
        ],
        confirmations=confirmations,
        confirmed_by=list(dict.fromkeys(c.system for c in confirmations)),
        due_soon_noticed_at=request.due_soon_noticed[1] if request.due_soon_noticed else None,
        overdue_noticed_at=request.overdue_noticed[1] if request.overdue_noticed else None,
        history=[_received(request), *request.history],
    )


def _received(request: SubjectRequest) -> HistoryEntry:
    details: dict[str, Any] = {
        "kind": request.kind,
        "received_at": request.received_at,
        "channel": request.channel,
        "made_by": request.made_by,
        "purposes": request.purposes,
        "identity": request.identity,
        "due_at": request.original_due_at,
    }
    if request.promised_by is not None:
        details["promised_by"] = request.promised_by
    return HistoryEntry(
        event_id=str(event_id(request.id, 1)),
        type="Received",
        recorded_at=request.created_on,
        details=msgspec.to_builtins(details),
    )
