"""The NATS contract: CloudEvents 1.0 (structured JSON) carrying references, never names or
e-mail addresses. A message's ``type`` carries a version, and a breaking change is a new type.

Each message's ``id`` and ``Nats-Msg-Id`` is deterministic: the ledger event's id for the
message that reports the event itself, and a name-based UUID of that id for the stop
(``basis.lapsed``) or start (``basis.lawful``) signal the same event also causes.

Two subjects carry everything a practice system must act on:

* ``grondslag.<tenant>.basis.lapsed`` — **stop processing**: every transition of a standing
  from lawful to not lawful, whatever caused it (withdrawal, expiry, 16th birthday, end of a
  representation, objection, restriction (R18, or art. 18 with reason ``restricted``), a
  rectified birth date, basis ended, material notice revision, end of retention), with its
  reason;
* ``grondslag.<tenant>.basis.lawful`` — **may start**: every transition to lawful that an
  event causes (a consent, the second consent R13 needs, a basis established, an objection
  rejected, a restriction lifted).

The standing fields of every message are the ledger's own answer to "what applied at
``at``, as known at ``known_at``" (``known_at`` is when the event was recorded): the same
as ``GET /v1/subjects/{subject_ref}/standing/{purpose}?at=…&known_at=…`` answers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

import msgspec

from grondslag.ledger.domain.request_values import Outcome, RequestKind, RequestStatus
from grondslag.ledger.domain.values import Basis, Giver, LapseReason, RepresentativeKind, Status

TYPE_PREFIX = "nl.grondslag."


class StandingChange(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What changed for one subject and purpose, from when, and the standing it leaves:
    the ledger's answer at ``at`` as known at ``known_at`` (the event's recorded time)."""

    tenant: str
    subject_ref: str
    purpose: str
    event_id: str
    effective_at: datetime
    at: datetime
    known_at: datetime
    lawful: bool
    status: Status
    reason: LapseReason | None = None
    basis: Basis | None = None
    since: datetime | None = None
    until: datetime | None = None
    given_by: Giver | None = None
    representative_ref: str | None = None


class RepresentationEnded(msgspec.Struct, frozen=True, kw_only=True):
    """A representative can no longer act: ask the subject, or whoever represents them now."""

    tenant: str
    subject_ref: str
    representative_ref: str
    capacity: RepresentativeKind
    event_id: str
    effective_at: datetime
    reason: str


class SubjectErased(msgspec.Struct, frozen=True, kw_only=True):
    """R22: the subject's personal data was erased in the ledger (crypto-shredding): delete
    it for ``erased`` purposes; ``held`` purposes keep theirs until their holds end (a later
    erasure says when). References only: never a name, an address or a birth date."""

    tenant: str
    subject_ref: str
    event_id: str
    effective_at: datetime
    complete: bool
    erased: list[str]
    held: list[str]
    request_id: str | None = None


class AuditCheckpoint(msgspec.Struct, frozen=True, kw_only=True):
    """A signed checkpoint of a tenant's audit log: keep it as a witness copy. A later
    checkpoint whose tree is not consistent with this one proves the log was rewritten."""

    tenant: str
    tree_size: int
    root_hash: str
    issued_at: str
    key_id: str
    signature: str
    public_key: str
    note: str  # the same checkpoint as a C2SP signed note (c2sp.org/tlog-checkpoint)


class RequestNotice(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A data-subject request (R23) and its deadline, by reference only: act on it (e.g.
    export or erase the subject's data) and confirm with POST /v1/requests/{id}/confirmations.
    ``due_at`` is exclusive (the end of ``due_date``, Europe/Amsterdam)."""

    tenant: str
    subject_ref: str
    request_id: str
    kind: RequestKind
    purposes: tuple[str, ...]
    event_id: str
    received_at: datetime
    due_at: datetime
    due_date: str
    status: RequestStatus
    late: bool
    promised_by: datetime | None = None
    outcome: Outcome | None = None


Data = TypeVar(
    "Data", StandingChange, RepresentationEnded, AuditCheckpoint, RequestNotice, SubjectErased
)


TraceParent = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
        description="W3C trace context of the request that recorded the event "
        "(CloudEvents distributed tracing extension)",
    ),
]


class CloudEvent(msgspec.Struct, Generic[Data], frozen=True, kw_only=True):
    """CloudEvents 1.0 envelope, structured JSON mode. ``traceparent`` (the distributed
    tracing extension) is the W3C trace context of the HTTP request that recorded the
    event; absent for what a clock or the checkpointer recorded."""

    specversion: Literal["1.0"] = "1.0"
    id: str
    source: str
    type: str
    subject: str
    time: datetime
    datacontenttype: Literal["application/json"] = "application/json"
    data: Data
    traceparent: TraceParent | msgspec.UnsetType = msgspec.UNSET


# message name → (CloudEvents type, what the data is, when it is sent)
MESSAGE_TYPES: dict[str, tuple[str, type, str]] = {
    "consent.given": (
        "consent.given.v1",
        StandingChange,
        "a consent was recorded; its status is the ledger's answer (pending while R13 needs "
        "a second consent, lapsed when recorded after its expiry)",
    ),
    "consent.withdrawn": (
        "consent.withdrawn.v1",
        StandingChange,
        "a consent was withdrawn (the stop itself is on basis.lapsed)",
    ),
    "basis.established": (
        "basis.established.v1",
        StandingChange,
        "a contract or other basis took effect",
    ),
    "basis.lapsed": (
        "basis.lapsed.v1",
        StandingChange,
        "STOP PROCESSING: the standing is no longer lawful — every such transition, whatever "
        "caused it (withdrawal, expiry, 16th birthday, end of a representation, objection, "
        "restriction, a rectified birth date, basis ended, material notice revision, end of "
        "retention), with its "
        "reason. Subscribe to this subject alone to never miss a stop",
    ),
    "basis.lawful": (
        "basis.lawful.v1",
        StandingChange,
        "MAY START: an event made the standing lawful (a consent, the second consent R13 "
        "needs, a basis established, an objection rejected, a restriction lifted, a rectified "
        "birth date)",
    ),
    "basis.restricted": (
        "basis.restricted.v1",
        StandingChange,
        "an objection restricts processing until it is decided (R18), or processing was "
        "restricted on the subject's request (art. 18, R24, reason restricted) until lifted; "
        "the stop itself is on basis.lapsed",
    ),
    "basis.restored": (
        "basis.restored.v1",
        StandingChange,
        "an objection was rejected on compelling grounds, or a restriction (R24) was lifted: "
        "processing may resume if the standing is lawful (the start itself is on basis.lawful)",
    ),
    "retention.expired": (
        "retention.expired.v1",
        StandingChange,
        "the retention term ran out: delete the data",
    ),
    "representation.ended": (
        "representation.ended.v1",
        RepresentationEnded,
        "a representative can no longer act for the subject",
    ),
    "request.received": (
        "request.received.v1",
        RequestNotice,
        "a data-subject request was recorded (R23): act on it and confirm what was done",
    ),
    "request.extended": (
        "request.extended.v1",
        RequestNotice,
        "a request's term was extended; due_at is the new due date",
    ),
    "request.answered": (
        "request.answered.v1",
        RequestNotice,
        "a request was answered (late: after its due date)",
    ),
    "request.due_soon": (
        "request.due_soon.v1",
        RequestNotice,
        "an open request's due date is near (GRONDSLAG_REQUEST_DUE_SOON before it), once per "
        "due date",
    ),
    "request.overdue": (
        "request.overdue.v1",
        RequestNotice,
        "an open request's due date passed unanswered, once",
    ),
    "subject.erased": (
        "subject.erased.v1",
        SubjectErased,
        "the subject was erased (R22): delete its data for the erased purposes; each consent "
        "it had ended at the same instant (reason erased, on basis.lapsed)",
    ),
    "audit.checkpoint": (
        "audit.checkpoint.v1",
        AuditCheckpoint,
        "a signed checkpoint of the tenant's audit log (id: checkpoint:<tenant>:<size>:<time>)",
    ),
}


def envelope_of(data: type) -> Any:
    """The CloudEvent type that carries ``data`` (one of ``MESSAGE_TYPES``'s data types)."""
    return CloudEvent[data]  # type: ignore[valid-type]  # a type known as the code runs


def nats_subject(tenant: str, name: str) -> str:
    return f"grondslag.{tenant}.{name}"
