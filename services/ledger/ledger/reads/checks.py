"""Batch checks on the current-standing read model, folding from the log where it cannot answer.

The read model (built by the projector) holds each standing as of its last event, with the
next instant at which time alone changes it (``changes_at``). A row whose ``changes_at``
has passed, and any check of another moment than now, is folded from the event store.
The model may trail the log by the projection lag; single standing reads never do.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg

from ..domain.errors import NotFound
from ..domain.ids import purpose_id, standing_id, subject_id
from ..domain.standing_at import StandingAnswer, standing_at
from .streams import load_aggregates
from .subjects import subject_keys, view_of

CURRENT_STANDING_TABLE = "grondslag_current_standing"
NOW_TOLERANCE = timedelta(seconds=1)


async def check_subjects(
    pool: asyncpg.Pool,
    tenant: str,
    purpose: str,
    refs: list[str],
    at: datetime,
    now: datetime | None = None,
) -> list[tuple[str, StandingAnswer]]:
    now = now or datetime.now(at.tzinfo)
    pid = purpose_id(tenant, purpose)
    register = await load_aggregates(pool, [pid])
    if pid not in register:
        raise NotFound(f"purpose {purpose!r} is not in the register")
    versions = register[pid].versions
    refs = list(dict.fromkeys(refs))
    answers: dict[str, StandingAnswer] = {}
    if abs(at - now) <= NOW_TOLERANCE:
        rows = await pool.fetch(
            f"SELECT subject_ref, lawful, status, reason, basis, changes_at "
            f"FROM {CURRENT_STANDING_TABLE} "
            "WHERE tenant = $1 AND purpose = $2 AND subject_ref = ANY($3::text[])",
            tenant,
            purpose,
            refs,
        )
        for row in rows:
            if row["changes_at"] is None or row["changes_at"] > at:
                answers[row["subject_ref"]] = StandingAnswer(
                    purpose=purpose,
                    at=at,
                    known_at=now,
                    lawful=row["lawful"],
                    status=row["status"],
                    reason=row["reason"],
                    basis=row["basis"],
                    changes_at=row["changes_at"],
                )
        projected = {row["subject_ref"] for row in rows}
        to_fold = [ref for ref in projected if ref not in answers]
        unknown = [ref for ref in refs if ref not in projected]
    else:
        to_fold, unknown = refs, []
    answers.update(await _fold(pool, tenant, purpose, versions, to_fold, at, now))
    for ref in unknown:
        answers[ref] = standing_at(purpose, [], versions, at, now)
    return [(ref, answers[ref]) for ref in refs]


async def _fold(
    pool: asyncpg.Pool,
    tenant: str,
    purpose: str,
    versions: list,
    refs: list[str],
    at: datetime,
    now: datetime,
) -> dict[str, StandingAnswer]:
    if not refs:
        return {}
    streams = {standing_id(tenant, ref, purpose): ref for ref in refs}
    subjects = {subject_id(tenant, ref): ref for ref in refs}
    found = await load_aggregates(pool, [*streams, *subjects])
    keys = await subject_keys(pool, [sid for sid in subjects if sid in found])
    answers = {}
    for (stream, ref), sid in zip(streams.items(), subjects, strict=True):
        facts = found[stream].facts if stream in found else []
        view = view_of(found[sid], keys.get(sid), now) if sid in found else None
        answers[ref] = standing_at(purpose, facts, versions, at, now, view)
    return answers
