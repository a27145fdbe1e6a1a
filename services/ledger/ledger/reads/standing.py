"""Standing queries: one purpose bitemporally, or every purpose of a subject now."""

from __future__ import annotations

from datetime import datetime

import asyncpg
import msgspec

from ..domain.errors import NotFound
from ..domain.evidence import EvidenceRecord, evidence_records
from ..domain.ids import purpose_id, standing_id, subject_id
from ..domain.purpose import Purpose
from ..domain.standing_at import StandingAnswer, standing_at
from .streams import load_aggregates_and_key, stream_ids
from .subjects import view_of


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
    sid, pid, stid = (
        subject_id(tenant, subject_ref),
        purpose_id(tenant, purpose),
        standing_id(tenant, subject_ref, purpose),
    )
    found, key = await load_aggregates_and_key(pool, (sid, pid, stid), sid)
    if sid not in found:
        raise NotFound(f"subject {subject_ref!r} is not registered")
    if pid not in found:
        raise NotFound(f"purpose {purpose!r} is not in the register")
    facts = found[stid].facts if stid in found else []
    view = view_of(found[sid], key, known_at)
    versions = found[pid].versions
    answer = standing_at(purpose, facts, versions, at, known_at, view)
    return AuditedStanding(
        **msgspec.structs.asdict(answer),
        evidence_records=evidence_records(answer.evidence, facts, versions),
    )


async def all_standings(
    pool: asyncpg.Pool, tenant: str, subject_ref: str, at: datetime
) -> list[StandingAnswer]:
    """Every registered purpose of the tenant with this subject's standing for it."""
    sid = subject_id(tenant, subject_ref)
    purposes = await stream_ids(pool, tenant, "purpose")
    ids = [sid, *(pid for pid, _ in purposes)]
    ids += [standing_id(tenant, subject_ref, code) for _, code in purposes if code]
    found, key = await load_aggregates_and_key(pool, ids, sid)
    if sid not in found:
        raise NotFound(f"subject {subject_ref!r} is not registered")
    view = view_of(found[sid], key, at)
    answers = []
    for pid, _code in purposes:
        register_entry: Purpose = found[pid]
        standing = found.get(standing_id(tenant, subject_ref, register_entry.code))
        facts = standing.facts if standing else []
        answers.append(
            standing_at(register_entry.code, facts, register_entry.versions, at, at, view)
        )
    return answers
