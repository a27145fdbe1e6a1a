"""``standing_at``: the bitemporal answer — what applied at ``at``, as known at ``known_at``.

A pure fold over the facts recorded at or before ``known_at`` that took effect at or before
``at``, in effective order. Late records never rewrite history; they add knowledge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import msgspec

from . import notice_revision
from .purpose import PurposeVersion, known_versions, version_in_force
from .standing import Fact
from .values import Basis, Consent, LapseReason, Status, Withdrawal


class StandingAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """Lawful or not, on which basis, since and until when, why, and which events prove it."""

    purpose: str
    at: datetime
    known_at: datetime
    lawful: bool
    status: Status
    basis: Basis | None = None
    since: datetime | None = None
    until: datetime | None = None
    reason: LapseReason | None = None
    evidence: list[str] = msgspec.field(default_factory=list)
    given_by: str | None = None
    changes_at: datetime | None = None


@dataclass
class _Cover:
    """The consent currently covering the purpose, or the lapse that ended the last one."""

    consent: Consent | None = None
    since: datetime | None = None
    until: datetime | None = None
    lapse_reason: LapseReason | None = None
    evidence: list[str] = field(default_factory=list)


def standing_at(
    purpose: str,
    facts: list[Fact],
    versions: list[PurposeVersion],
    at: datetime,
    known_at: datetime,
) -> StandingAnswer:
    known_purpose = known_versions(versions, known_at)
    terms = version_in_force(known_purpose, at) or (known_purpose[0] if known_purpose else None)
    basis = terms.terms.basis if terms else None
    known = sorted(
        (f for f in facts if f.recorded_at <= known_at),
        key=lambda f: (f.effective_at, f.recorded_at),
    )
    cover = _Cover()
    next_change: datetime | None = None
    for fact in known:
        if fact.effective_at > at:
            next_change = fact.effective_at
            break
        _lapse_by_time(cover, known_purpose, fact.effective_at)
        _apply(cover, fact)
    _lapse_by_time(cover, known_purpose, at)

    answer = dict(purpose=purpose, at=at, known_at=known_at, basis=basis)
    if cover.consent is not None:
        ends = _cover_end(cover.consent, known_purpose)
        changes = min((t for t in (ends, next_change) if t is not None), default=None)
        return StandingAnswer(
            **answer,
            lawful=True,
            status="lawful",
            since=cover.since,
            until=ends,
            evidence=cover.evidence,
            given_by=_given_by(cover.consent),
            changes_at=changes,
        )
    if cover.lapse_reason is not None:
        return StandingAnswer(
            **answer,
            lawful=False,
            status="lapsed",
            since=cover.since,
            until=cover.until,
            reason=cover.lapse_reason,
            evidence=cover.evidence,
            changes_at=next_change,
        )
    return StandingAnswer(**answer, lawful=False, status="none", changes_at=next_change)


def _apply(cover: _Cover, fact: Fact) -> None:
    statement = fact.statement
    if isinstance(statement, Consent):
        if cover.consent is None:
            cover.since = statement.effective_at
        cover.consent = statement
        cover.until = None
        cover.lapse_reason = None
        cover.evidence = [str(fact.event_id)]
    elif isinstance(statement, Withdrawal) and cover.consent is not None:
        _end(cover, statement.effective_at, "withdrawn")
        cover.evidence = [*cover.evidence, str(fact.event_id)]


def _cover_end(consent: Consent, versions: list[PurposeVersion]) -> datetime | None:
    ends = [consent.expires_at, notice_revision.cover_ends_at(versions, consent.notice_version)]
    return min((t for t in ends if t is not None), default=None)


def _lapse_by_time(cover: _Cover, versions: list[PurposeVersion], upto: datetime) -> None:
    """End the cover when a date passed before ``upto``: expiry (R9) or a notice revision (R10)."""
    if cover.consent is None:
        return
    expiry = cover.consent.expires_at
    revised = notice_revision.cover_ends_at(versions, cover.consent.notice_version)
    candidates: list[tuple[datetime, LapseReason]] = []
    if expiry is not None and expiry <= upto:
        candidates.append((expiry, "expired"))
    if revised is not None and revised <= upto:
        candidates.append((revised, "notice_revised"))
    if candidates:
        when, reason = min(candidates)
        _end(cover, when, reason)


def _end(cover: _Cover, when: datetime, reason: LapseReason) -> None:
    cover.consent = None
    cover.until = when
    cover.lapse_reason = reason


def _given_by(consent: Consent) -> str:
    if consent.representative_ref:
        return f"representative:{consent.representative_ref}"
    return "subject"
