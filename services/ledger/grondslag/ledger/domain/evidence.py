"""The auditor's answer: the full evidence (R7) of each event a standing rests on.

A standing answer names its evidence by event id; this turns each id into what an auditor
asks for — who gave or withdrew consent and in what capacity, how (the method is the
channel: written, e-mail, web form, …), whether it was explicit, the notice version shown
with its URL and SHA-256 and the recipients of that purpose version, the document and its
hash, who recorded it, when it took effect and when it was recorded. Its inclusion proof in
the audit log is found by its event id; the HTTP answer adds the path (``reads/standing.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

import msgspec

from .facts import Fact
from .purpose_versions import PurposeVersion
from .values import (
    Basis,
    BasisEnd,
    Consent,
    Establishment,
    Evidence,
    Giver,
    Lapse,
    LapseReason,
    Method,
    Notice,
    Objection,
    ObjectionDecision,
    RepresentativeKind,
    Restriction,
    RestrictionLift,
    Withdrawal,
)


class EvidenceRecord(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One event a standing rests on, with everything R7 asks to be able to show."""

    event_id: str
    type: str
    effective_at: datetime
    recorded_at: datetime
    recorded_by: str | None = None
    given_by: Giver | None = None
    method: Method | None = None
    explicit: bool | None = None
    expires_at: datetime | None = None
    purpose_version: int | None = None
    notice: Notice | None = None
    recipients: list[str] | None = None
    document: Evidence | None = None
    basis: Basis | None = None
    reference: str | None = None
    opt_out_offered: bool | None = None
    grounds: str | None = None
    upheld: bool | None = None
    reasons: str | None = None
    reason: LapseReason | str | None = None


class _Common(TypedDict):
    """What every record carries, whatever the event."""

    event_id: str
    effective_at: datetime
    recorded_at: datetime
    recorded_by: str | None


def evidence_records(
    ids: list[str], facts: list[Fact], versions: list[PurposeVersion]
) -> list[EvidenceRecord]:
    """The records of the facts named in ``ids``, in that order."""
    by_id = {str(fact.event_id): fact for fact in facts}
    return [_record(by_id[eid], versions) for eid in ids if eid in by_id]


def _record(fact: Fact, versions: list[PurposeVersion]) -> EvidenceRecord:
    statement = fact.statement
    common = _Common(
        event_id=str(fact.event_id),
        effective_at=fact.effective_at,
        recorded_at=fact.recorded_at,
        recorded_by=getattr(statement, "recorded_by", None),
    )
    if isinstance(statement, Consent):
        version = next((v for v in versions if v.number == statement.purpose_version), None)
        shown = [v for v in versions if v.terms.notice.version == statement.notice_version]
        notice = shown[-1].terms.notice if shown else None
        return EvidenceRecord(
            **common,
            type="ConsentGiven",
            given_by=_giver(statement.representative_ref, statement.capacity),
            method=statement.method,
            explicit=statement.explicit,
            expires_at=statement.expires_at,
            purpose_version=statement.purpose_version,
            notice=notice,
            recipients=list(version.terms.recipients) if version else None,
            document=statement.evidence,
        )
    if isinstance(statement, Withdrawal):
        return EvidenceRecord(
            **common,
            type="ConsentWithdrawn",
            given_by=_giver(statement.representative_ref, statement.capacity),
            method=statement.method,
        )
    if isinstance(statement, Establishment):
        return EvidenceRecord(
            **common,
            type="BasisEstablished",
            basis=statement.basis,
            reference=statement.reference,
            opt_out_offered=statement.opt_out_offered,
        )
    if isinstance(statement, BasisEnd):
        return EvidenceRecord(**common, type="BasisEnded", reason=statement.reason)
    if isinstance(statement, Objection):
        return EvidenceRecord(**common, type="ObjectionLodged", grounds=statement.grounds)
    if isinstance(statement, ObjectionDecision):
        return EvidenceRecord(
            **common, type="ObjectionDecided", upheld=statement.upheld, reasons=statement.reasons
        )
    if isinstance(statement, Restriction):
        return EvidenceRecord(
            **common,
            type="ProcessingRestricted",
            reasons=statement.reasons,
            reference=statement.request_id,
        )
    if isinstance(statement, RestrictionLift):
        return EvidenceRecord(**common, type="RestrictionLifted", reasons=statement.reasons)
    assert isinstance(statement, Lapse)
    kind = "RetentionExpired" if statement.reason == "retention_expired" else "BasisLapsed"
    return EvidenceRecord(**common, type=kind, reason=statement.reason)


def _giver(representative_ref: str | None, capacity: RepresentativeKind | None) -> Giver:
    if representative_ref is None:
        return Giver("subject")
    return Giver("representative", representative_ref, capacity)
