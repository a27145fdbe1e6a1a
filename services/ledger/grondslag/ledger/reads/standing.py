"""Standing queries: one purpose bitemporally, or every purpose of a subject now."""

from __future__ import annotations

from datetime import datetime

import asyncpg
import msgspec

from ..domain.errors import NotFound
from ..domain.evidence import EvidenceRecord
from ..domain.ids import subject_id
from ..domain.standing_at import StandingAnswer
from ..persistence import dossiers
from .streams import stream_ids


class AuditedStanding(StandingAnswer, kw_only=True):
    """The bitemporal answer with the full evidence (R7) of each event it rests on."""

    evidence_records: list[EvidenceRecord] = msgspec.field(default_factory=list)


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
        **msgspec.structs.asdict(answer), evidence_records=dossier.evidence(answer)
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
