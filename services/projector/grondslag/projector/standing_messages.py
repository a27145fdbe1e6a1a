"""What a standing event announces, from the one fold.

For an event recorded at K whose statement takes effect at T, the question is the ledger's
own: what applies at ``max(K, T)``, as known at K — and, to see what the event changed, as
known just before K. A transition from lawful to not lawful is a stop (``basis.lapsed``), one
to lawful a start (``basis.lawful``), beside the message that reports the event itself.
Date-driven lapses are recorded by the deadline clock when it notices them (``BasisLapsed``,
``RetentionExpired``); the fold already counted the date, so those announce their stop
without a transition.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from grondslag.ledger.domain.dossier import Dossier
from grondslag.ledger.domain.ids import event_id
from grondslag.ledger.domain.standing import Standing
from grondslag.ledger.domain.standing_at import TIME_DRIVEN, StandingAnswer
from grondslag.ledger.domain.subject import Subject
from grondslag.ledger.domain.values import Consent, Giver, Withdrawal

from .messages import TYPE_PREFIX, StandingChange

STOP, START = "basis.lapsed", "basis.lawful"
JUST_BEFORE = timedelta(microseconds=1)

_REPORTS = {
    Standing.ConsentGiven: "consent.given",
    Standing.ConsentWithdrawn: "consent.withdrawn",
    Standing.BasisEstablished: "basis.established",
    Standing.BasisEnded: STOP,
    Standing.BasisLapsed: STOP,
    Standing.RetentionExpired: "retention.expired",
    Standing.ProcessingRestricted: "basis.restricted",  # R24; the stop itself on basis.lapsed
    Standing.RestrictionLifted: "basis.restored",  # R24; the start itself on basis.lawful
}
# noticed by the deadline clock: the fold counted the date already, so no transition shows
_ALWAYS_STOP = (Standing.BasisLapsed, Standing.RetentionExpired)


def announces(event: Any) -> bool:
    return type(event) in _REPORTS or isinstance(
        event, Standing.ObjectionLodged | Standing.ObjectionDecided
    )


def standing_messages(event: Any, dossier: Dossier) -> list[tuple[str, str, StandingChange]]:
    """``(name, message id, data)`` of each message the event causes, the report first."""
    eid = event_id(event.originator_id, event.originator_version)
    statement = dossier.statement(eid)
    known = event.timestamp
    at = max(known, statement.effective_at)
    after = dossier.standing(at, known)
    before = dossier.standing(at, known - JUST_BEFORE)
    names = [_report(event, after)]
    if isinstance(event, _ALWAYS_STOP) or (before.lawful and not after.lawful):
        names.append(STOP)
    elif after.lawful and not before.lawful:
        names.append(START)
    data = _change(dossier, str(eid), statement, after)
    unique = list(dict.fromkeys(names))
    return [(name, _message_id(eid, name, i), data) for i, name in enumerate(unique)]


def _report(event: Any, after: StandingAnswer) -> str:
    if isinstance(event, Standing.ObjectionLodged):  # R17 final at once; R18 restricts
        return STOP if after.status == "lapsed" else "basis.restricted"
    if isinstance(event, Standing.ObjectionDecided):  # upheld: lapsed; rejected: restored
        return "basis.restored" if after.lawful else STOP
    return _REPORTS[type(event)]


def _message_id(eid: uuid.UUID, name: str, index: int) -> str:
    """The event's own id for its report; a name-based UUID of it for the signals beside."""
    return str(eid) if index == 0 else str(uuid.uuid5(eid, f"{TYPE_PREFIX}{name}.v1"))


def _change(dossier: Dossier, eid: str, statement: Any, after: StandingAnswer) -> StandingChange:
    given_by = None
    if isinstance(statement, Consent):
        given_by = (
            Giver("representative", statement.representative_ref, statement.capacity)
            if statement.representative_ref
            else Giver("subject")
        )
    reason = after.reason
    if reason is None and after.status == "restricted":
        reason = "objection"  # R18: an objection restricts until it is decided
    return StandingChange(
        tenant=dossier.tenant,
        subject_ref=dossier.subject_ref,
        purpose=dossier.purpose,
        event_id=eid,
        effective_at=statement.effective_at,
        at=after.at,
        known_at=after.known_at,
        lawful=after.lawful,
        status=after.status,
        reason=reason,
        basis=after.basis,
        since=after.since,
        until=after.until,
        given_by=given_by,
        representative_ref=(
            statement.representative_ref if isinstance(statement, Withdrawal) else None
        ),
    )


def correction_messages(
    event: Subject.PersonalDataRecorded, dossier: Dossier
) -> list[tuple[str, str, StandingChange]]:
    """A rectified birth date changes what the age rules say (R11–R14): a stop or a start
    for the standing whose lawfulness it changed, as known when it was recorded. A lapse
    it moved into the past is the deadline clock's to record and publish (``BasisLapsed``),
    once, so it is not announced here too."""
    if dossier.register is None or dossier.standing_stream is None:
        return []
    known = event.timestamp
    after = dossier.standing(known, known)
    before = dossier.standing(known, known - JUST_BEFORE)
    if before.lawful == after.lawful:
        return []
    if after.status == "lapsed" and after.reason in TIME_DRIVEN:
        return []
    name = START if after.lawful else STOP
    eid = event_id(event.originator_id, event.originator_version)
    reason = after.reason
    if reason is None and after.status == "restricted":
        reason = "objection"
    data = StandingChange(
        tenant=dossier.tenant,
        subject_ref=dossier.subject_ref,
        purpose=dossier.purpose,
        event_id=str(eid),
        effective_at=known,
        at=after.at,
        known_at=after.known_at,
        lawful=after.lawful,
        status=after.status,
        reason=reason,
        basis=after.basis,
        since=after.since,
        until=after.until,
    )
    message_id = str(uuid.uuid5(eid, f"{TYPE_PREFIX}{dossier.purpose}/{name}.v1"))
    return [(name, message_id, data)]
