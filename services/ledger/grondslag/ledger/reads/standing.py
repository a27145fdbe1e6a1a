"""Standing queries: one purpose bitemporally, or every purpose of a subject now."""

from __future__ import annotations

from datetime import datetime

import asyncpg
import msgspec

from ..domain import evidence
from ..domain.errors import NotFound
from ..domain.ids import subject_id
from ..domain.standing_at import StandingAnswer
from ..persistence import dossiers
from .streams import stream_ids


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
    streams = await dossiers.load(pool, dossiers.dossier_ids(tenant, subject_ref, [purpose]))
    dossier = streams.dossier(tenant, subject_ref, purpose)
    if dossier.subject is None:
        raise NotFound(f"subject {subject_ref!r} is not registered")
    if dossier.register is None:
        raise NotFound(f"purpose {purpose!r} is not in the register")
    answer = dossier.standing(at, known_at)
    return AuditedStanding(
        **msgspec.structs.asdict(answer), evidence_records=with_proofs(dossier.evidence(answer))
    )


async def all_standings(
    pool: asyncpg.Pool, tenant: str, subject_ref: str, at: datetime
) -> list[StandingAnswer]:
    """Every registered purpose of the tenant with this subject's standing for it."""
    codes = [code for _, code in await stream_ids(pool, tenant, "purpose") if code]
    streams = await dossiers.load(pool, dossiers.dossier_ids(tenant, subject_ref, codes))
    if streams.get(subject_id(tenant, subject_ref)) is None:
        raise NotFound(f"subject {subject_ref!r} is not registered")
    return [streams.dossier(tenant, subject_ref, code).standing(at, at) for code in codes]
