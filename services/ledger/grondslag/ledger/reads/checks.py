"""Batch checks on the current-standing read model, folding from the log where it cannot answer.

The read model (built by the projector) holds each standing as of its last event, with the
next instant at which time alone changes it (``changes_at``). A row built from an older
version of its stream than the log holds (the projector has not caught up), a row whose
``changes_at`` has passed, and any check of another moment than now are folded from the
event store instead — so a check sees a withdrawal the moment it is recorded. Only a
change on the subject's own stream (a representation ended) may take the projection lag.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from ..domain.errors import NotFound
from ..domain.ids import purpose_id, standing_id, subject_id
from ..domain.standing_at import StandingAnswer, standing_at
from ..persistence import dossiers
from ..persistence.postgres import EVENTS_TABLE, STREAMS_TABLE

CURRENT_STANDING_TABLE = "grondslag_current_standing"
NOW_TOLERANCE = timedelta(seconds=1)


# Every requested subject that has a standing for the purpose (from the stream index, kept
# in the writing transaction) with its stream's current version (primary-key lookups) ...
RECORDED = f"""
SELECT s.subject_ref,
       (SELECT max(e.originator_version) FROM {EVENTS_TABLE} e
         WHERE e.originator_id = s.originator_id) AS version
FROM {STREAMS_TABLE} s
WHERE s.tenant = $1 AND s.kind = 'standing' AND s.purpose = $2
  AND s.subject_ref = ANY($3::text[])
"""
# ... and the read model's rows: a row is used only when it was built from that version.
# (Two index-driven queries: joined in one, the planner picked a nested loop over the whole
# purpose while the tables had no statistics yet — 700 ms instead of 50.)
PROJECTED = f"""
SELECT subject_ref, stream_version, lawful, status, reason, basis, changes_at
FROM {CURRENT_STANDING_TABLE}
WHERE tenant = $1 AND purpose = $2 AND subject_ref = ANY($3::text[])
"""


async def check_subjects(
    pool: asyncpg.Pool,
    tenant: str,
    purpose: str,
    refs: list[str],
    at: datetime | None,
    now: datetime | None = None,
) -> list[tuple[str, StandingAnswer]]:
    """Each ref's standing at ``at`` (None: now) as known now; a fold's "now" is its
    dossier's present (``Dossier.present``), as for a single standing read."""
    now = now or datetime.now(UTC)
    asked, at = at, at or now
    register = (await dossiers.load(pool, [purpose_id(tenant, purpose)])).get(
        purpose_id(tenant, purpose)
    )
    if register is None:
        raise NotFound(f"purpose {purpose!r} is not in the register")
    versions = register.versions
    refs = list(dict.fromkeys(refs))
    answers: dict[str, StandingAnswer] = {}
    recorded = {
        row["subject_ref"]: row["version"]
        for row in await pool.fetch(RECORDED, tenant, purpose, refs)
    }
    if abs(at - now) <= NOW_TOLERANCE and recorded:
        for row in await pool.fetch(PROJECTED, tenant, purpose, list(recorded)):
            current = row["stream_version"] == recorded.get(row["subject_ref"])
            if current and (row["changes_at"] is None or row["changes_at"] > at):
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
    to_fold = [ref for ref in recorded if ref not in answers]
    answers.update(await _fold(pool, tenant, purpose, to_fold, asked, now))
    if len(answers) < len(refs):  # nothing was ever recorded for these subjects and purpose:
        nothing = standing_at(purpose, [], versions, at, now)  # the register's answer, for all
        for ref in refs:
            answers.setdefault(ref, nothing)
    return [(ref, answers[ref]) for ref in refs]


async def _fold(
    pool: asyncpg.Pool,
    tenant: str,
    purpose: str,
    refs: list[str],
    at: datetime | None,
    now: datetime,
) -> dict[str, StandingAnswer]:
    if not refs:
        return {}
    ids = [purpose_id(tenant, purpose)]
    ids += [i for ref in refs for i in (subject_id(tenant, ref), standing_id(tenant, ref, purpose))]
    streams = await dossiers.load(pool, ids)
    answers = {}
    for ref in refs:
        dossier = streams.dossier(tenant, ref, purpose)
        present = dossier.present(now)
        answers[ref] = dossier.standing(at or present, present)
    return answers
