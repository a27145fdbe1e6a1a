"""A standing as of now, from the read model's rendered answer instead of a fold.

The projector keeps, beside each standing's row, the answer the fold gave for "now" when
it folded (with the evidence and proof paths an API answer carries), the versions of the
three streams it folded (the subject, the register entry, the standing), and the span of
later "nows" for which that answer stays the fold's answer but for ``at`` and
``known_at``: from the fold until the first instant the clock alone may change it (an
expiry, a 16th birthday, a notice revision taking effect; ``Dossier.holds_until``).

A read uses it only when every one of those streams is still at the version folded (one
statement: the row and the streams' current versions, primary-key probes) and now lies in
that span; otherwise — the projector behind, a write just made, a deadline passed — the
caller folds from the log, as for any ``at``/``known_at`` question. So the answer is the
fold's, byte for byte, and the entity tag is the same versions.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
import msgspec

from ..domain.ids import purpose_id, standing_id, subject_id
from ..domain.preconditions import entity_tag
from ..persistence.postgres import EVENTS_TABLE
from .checks import CURRENT_STANDING_TABLE
from .standing import AuditedStanding, tagged_standing

_VERSION = f"(SELECT max(e.originator_version) FROM {EVENTS_TABLE} e WHERE e.originator_id = "
HELD = f"""
SELECT s.answer, s.answer_from, s.answer_until,
       s.subject_version = {_VERSION}$4)
   AND s.purpose_version = {_VERSION}$5)
   AND s.stream_version = {_VERSION}$6) AS current,
       s.subject_version, s.purpose_version, s.stream_version
FROM {CURRENT_STANDING_TABLE} s
WHERE s.tenant = $1 AND s.purpose = $2 AND s.subject_ref = $3
"""

_decoder = msgspec.json.Decoder(AuditedStanding)


async def held_standing(
    pool: asyncpg.Pool, tenant: str, subject_ref: str, purpose: str, now: datetime
) -> tuple[AuditedStanding, str] | None:
    """The answer for ``now`` and its entity tag from the read model, or None: fold."""
    ids = (subject_id(tenant, subject_ref), purpose_id(tenant, purpose))
    row = await pool.fetchrow(
        HELD, tenant, purpose, subject_ref, *ids, standing_id(tenant, subject_ref, purpose)
    )
    if row is None or not row["current"] or row["answer"] is None:
        return None
    if now < row["answer_from"] or (row["answer_until"] is not None and now >= row["answer_until"]):
        return None
    answer = msgspec.structs.replace(_decoder.decode(row["answer"]), at=now, known_at=now)
    tag = entity_tag(row["subject_version"], row["purpose_version"], row["stream_version"])
    return answer, tag


async def standing_answer(
    pool: asyncpg.Pool,
    tenant: str,
    subject_ref: str,
    purpose: str,
    at: datetime | None,
    known_at: datetime | None,
    now: datetime,
) -> tuple[AuditedStanding, str]:
    """The answer of a standing read and its entity tag: "now" from the read model while it
    is current, any other question (and a stale row) folded from the log."""
    if (
        at is None
        and known_at is None
        and (held := await held_standing(pool, tenant, subject_ref, purpose, now))
    ):
        return held
    return await tagged_standing(pool, tenant, subject_ref, purpose, at or now, known_at or now)
