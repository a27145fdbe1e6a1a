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

The rendered answer is served as it is stored but for its first members, the purpose and
the two instants of the fold (``at`` and ``known_at``, ``StandingAnswer``'s first fields),
which become the read's "now": decoding and encoding the rest again (its evidence records,
with the constraints of every field checked) cost a tenth of the read.
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

_encode = msgspec.json.Encoder().encode
_HEAD = b'{"purpose":%b,"at":%b,"known_at":%b,'  # StandingAnswer's first fields, rendered


async def held_standing(
    pool: asyncpg.Pool, tenant: str, subject_ref: str, purpose: str, now: datetime
) -> tuple[bytes, str] | None:
    """The answer for ``now`` (as JSON, rendered as the API renders the fold's) and its
    entity tag from the read model, or None: fold."""
    ids = (subject_id(tenant, subject_ref), purpose_id(tenant, purpose))
    row = await pool.fetchrow(
        HELD, tenant, purpose, subject_ref, *ids, standing_id(tenant, subject_ref, purpose)
    )
    if row is None or not row["current"] or row["answer"] is None:
        return None
    if now < row["answer_from"] or (row["answer_until"] is not None and now >= row["answer_until"]):
        return None
    answer = as_of(row["answer"], purpose, row["answer_from"], now)
    if answer is None:
        return None
    tag = entity_tag(row["subject_version"], row["purpose_version"], row["stream_version"])
    return answer, tag


def as_of(rendered: bytes, purpose: str, folded_at: datetime, now: datetime) -> bytes | None:
    """The rendered answer of a fold at ``folded_at`` with ``at`` and ``known_at`` ``now``;
    None when it does not begin with the purpose and those two instants (then fold)."""
    code, then = _encode(purpose), _encode(folded_at)
    head = _HEAD % (code, then, then)
    if not rendered.startswith(head):
        return None
    instant = _encode(now)
    return _HEAD % (code, instant, instant) + rendered[len(head) :]


async def standing_answer(
    pool: asyncpg.Pool,
    tenant: str,
    subject_ref: str,
    purpose: str,
    at: datetime | None,
    known_at: datetime | None,
    now: datetime,
) -> tuple[AuditedStanding | bytes, str]:
    """The answer of a standing read and its entity tag: "now" from the read model while it
    is current (rendered already), any other question (and a stale row) folded from the
    log."""
    if (
        at is None
        and known_at is None
        and (held := await held_standing(pool, tenant, subject_ref, purpose, now))
    ):
        return held
    return await tagged_standing(pool, tenant, subject_ref, purpose, at, known_at, now)
