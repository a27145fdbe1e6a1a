"""Value types of data-subject requests (R23): what a request, an extension, an answer and a
system's confirmation record, and the answer the ledger gives about a request."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

from .values import Giver

RequestKind = Literal[
    "access", "rectification", "erasure", "restriction", "portability", "objection"
]
Channel = Literal["email", "letter", "in_person", "phone", "web_form"]
# how the practice made sure the request came from the subject (or the representative):
# never a copy of the ID document and never its number, only how and by whom (R5)
IdentityMethod = Literal[
    "in_person_id_document",  # an ID document was shown in person, not copied
    "video_call_id_document",  # shown in a video call, not recorded
    "known_in_person",  # the practitioner knows the person
    "known_contact_details",  # it came from, or was confirmed on, the address on file
    "digid",  # a DigiD (or eHerkenning) login of the practice's portal
    "signature_compared",  # a signed letter, compared with the signature on file
]
Outcome = Literal["fulfilled", "partly", "refused"]
RequestStatus = Literal["open", "answered"]


class IdentityCheck(msgspec.Struct, frozen=True, kw_only=True):
    """How identity was verified, and by whom (never the document nor a BSN, R5)."""

    method: IdentityMethod
    verified_by: str
    verified_at: datetime | None = None


class RequestIntake(msgspec.Struct, frozen=True, kw_only=True):
    """A request as it reached the practice."""

    kind: RequestKind
    received_at: datetime
    channel: Channel
    identity: IdentityCheck
    representative_ref: str | None = None
    purposes: tuple[str, ...] = ()  # empty: every purpose of the register
    recorded_by: str | None = None
    note: str | None = None


class Extension(msgspec.Struct, frozen=True, kw_only=True):
    """The term was extended by further months, with reasons told to the subject."""

    months: int
    reasons: str
    told_subject_at: datetime | None = None
    recorded_by: str | None = None


class Answer(msgspec.Struct, frozen=True, kw_only=True):
    """The practice answered the request (sent its answer at ``answered_at``)."""

    outcome: Outcome
    reasons: str
    answered_at: datetime
    recorded_by: str | None = None


class Confirmation(msgspec.Struct, frozen=True, kw_only=True):
    """A practice system confirmed what it did about the request."""

    system: str
    what: str
    done_at: datetime


class HistoryEntry(msgspec.Struct, frozen=True, kw_only=True):
    event_id: str
    type: str
    recorded_at: datetime
    details: dict[str, Any] = msgspec.field(default_factory=dict)


class ExtensionRecord(msgspec.Struct, frozen=True, kw_only=True):
    months: int
    reasons: str
    told_subject_at: datetime | None
    recorded_at: datetime
    due_at: datetime


class AnswerRecord(msgspec.Struct, frozen=True, kw_only=True):
    outcome: Outcome
    reasons: str
    answered_at: datetime
    recorded_at: datetime
    late: bool


class ConfirmationRecord(msgspec.Struct, frozen=True, kw_only=True):
    system: str
    what: str
    done_at: datetime
    recorded_at: datetime


class RequestAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the ledger says about one request, folded from its stream at ``at``.

    ``due_at`` is exclusive: the instant the last day ends in Amsterdam (00:00 the next
    day); ``due_date`` is that last day. ``late``: answered at or after ``due_at``, or still
    open then (``overdue``)."""

    request_id: str
    subject_ref: str
    kind: RequestKind
    status: RequestStatus
    received_at: datetime
    recorded_at: datetime
    channel: Channel
    made_by: Giver
    purposes: tuple[str, ...]
    identity: IdentityCheck
    due_at: datetime
    due_date: str
    original_due_at: datetime
    extended_months: int
    promised_term: str | None
    promised_by: datetime | None
    overdue: bool
    late: bool
    at: datetime
    answer: AnswerRecord | None = None
    extensions: list[ExtensionRecord] = msgspec.field(default_factory=list)
    confirmations: list[ConfirmationRecord] = msgspec.field(default_factory=list)
    confirmed_by: list[str] = msgspec.field(default_factory=list)
    due_soon_noticed_at: datetime | None = None
    overdue_noticed_at: datetime | None = None
    history: list[HistoryEntry] = msgspec.field(default_factory=list)
