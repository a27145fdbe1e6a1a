"""Standing queries: one purpose bitemporally, every purpose of a subject now, and every
standing of a subject with its whole history (the auditor's view)."""

from __future__ import annotations

from datetime import datetime

import asyncpg
import msgspec

from ..domain import evidence
from ..domain.dossier import Dossier
from ..domain.errors import NotFound
from ..domain.evidence import evidence_records
from ..domain.ids import subject_id
from ..domain.preconditions import standing_tag
from ..domain.recorded_order import not_before
from ..domain.standing_at import StandingAnswer
from ..persistence import dossiers
from .streams import stream_ids


class StandingHistory(msgspec.Struct, frozen=True):
    """One purpose's standing as of a moment, and every event of it with its evidence."""

    code: str
    title: str
    answer: StandingAnswer
    records: list[evidence.EvidenceRecord]


class EvidenceRecord(evidence.EvidenceRecord, kw_only=True, omit_defaults=True):
    """One event a standing rests on, with everything R7 asks to be able to show."""

    proof: str  # where the event's inclusion proof in the audit log is


class AuditedStanding(StandingAnswer, kw_only=True, frozen=True):
    """The bitemporal answer with the full evidence (R7) of each event it rests on."""

    evidence_records: list[EvidenceRecord] = msgspec.field(default_factory=list)


def with_proofs(records: list[evidence.EvidenceRecord]) -> list[EvidenceRecord]:
    """The records, each with the path of its inclusion proof in the audit log."""
    return [
        EvidenceRecord(
            **msgspec.structs.asdict(record), proof=f"/v1/audit/proofs/{record.event_id}"
        )
        for record in records
    ]


async def one_standing(
    pool: asyncpg.Pool,
    tenant: str,
    subject_ref: str,
    purpose: str,
    at: datetime,
    known_at: datetime,
) -> AuditedStanding:
    answer, _ = await tagged_standing(pool, tenant, subject_ref, purpose, at, known_at, at)
    return answer


async def tagged_standing(
    pool: asyncpg.Pool,
    tenant: str,
    subject_ref: str,
    purpose: str,
    at: datetime | None,
    known_at: datetime | None,
    clock: datetime,
) -> tuple[AuditedStanding, str]:
    """The answer, and its entity tag: the versions of the streams it folds. An instant
    not asked for is the dossier's present (``Dossier.present``: ``clock``, or the last
    instant its streams recorded if that is later)."""
    streams = await dossiers.load(pool, dossiers.dossier_ids(tenant, subject_ref, [purpose]))
    dossier = streams.dossier(tenant, subject_ref, purpose)
    if dossier.subject is None:
        raise NotFound(f"subject {subject_ref!r} is not registered")
    if dossier.register is None:
        raise NotFound(f"purpose {purpose!r} is not in the register")
    present = dossier.present(clock)
    answer = dossier.standing(at or present, known_at or present)
    return audited(dossier, answer), standing_tag(dossier)


def audited(dossier: Dossier, answer: StandingAnswer) -> AuditedStanding:
    """The answer with the full evidence of each event it rests on, and its proofs' paths."""
    return AuditedStanding(
        **msgspec.structs.asdict(answer), evidence_records=with_proofs(dossier.evidence(answer))
    )


async def all_standings(
    pool: asyncpg.Pool,
    tenant: str,
    subject_ref: str,
    at: datetime | None,
    known_at: datetime | None,
    clock: datetime,
) -> tuple[datetime, datetime, list[StandingAnswer]]:
    """Every registered purpose of the tenant with this subject's standing for it: what
    applied at ``at``, as known at ``known_at`` — an instant not asked for the present of
    all the dossiers (``Dossier.present``), one instant for every purpose — and the two
    instants asked."""
    codes = [code for _, code in await stream_ids(pool, tenant, "purpose") if code]
    streams = await dossiers.load(pool, dossiers.dossier_ids(tenant, subject_ref, codes))
    if streams.get(subject_id(tenant, subject_ref)) is None:
        raise NotFound(f"subject {subject_ref!r} is not registered")
    folded = [streams.dossier(tenant, subject_ref, code) for code in codes]
    present = not_before(clock, [dossier.present(clock) for dossier in folded])
    at, known_at = at or present, known_at or present
    return at, known_at, [dossier.standing(at, known_at) for dossier in folded]


async def standing_histories(
    pool: asyncpg.Pool, tenant: str, subject_ref: str, at: datetime, known_at: datetime
) -> list[StandingHistory]:
    """Each purpose the subject has a standing for: what applied at ``at``, as known at
    ``known_at``, and every event recorded on it, with its evidence (R7)."""
    codes = [code for _, code in await stream_ids(pool, tenant, "standing", subject_ref) if code]
    streams = await dossiers.load(pool, dossiers.dossier_ids(tenant, subject_ref, codes))
    if streams.get(subject_id(tenant, subject_ref)) is None:
        raise NotFound(f"subject {subject_ref!r} is not registered")
    histories = []
    for code in codes:
        dossier = streams.dossier(tenant, subject_ref, code)
        if dossier.register is None or dossier.standing_stream is None:
            continue
        every_event = [str(fact.event_id) for fact in dossier.facts]
        histories.append(
            StandingHistory(
                code,
                dossier.register.latest.terms.title,
                dossier.standing(at, known_at),
                evidence_records(every_event, dossier.facts, dossier.versions),
            )
        )
    return histories
