"""The current-standing read model: one row per (tenant, purpose, subject) for batch checks.

Each row is the standing as of the ledger's latest events, folded at projection time, with
``changes_at``: the next instant at which time alone changes it (expiry, a notice
revision taking effect). Readers fold from the log for rows whose ``changes_at`` passed.

Beside it (``HELD``), what a single standing read answers "now" with while the row is
current (``reads.held_standing``): the rendered answer of the fold, the versions of the
subject and register streams folded with the standing's, and the span of "nows" the
answer holds for (``Dossier.holds_until``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from grondslag.ledger.domain.ids import purpose_id, subject_id
from grondslag.ledger.domain.purpose import Purpose
from grondslag.ledger.domain.standing import Standing
from grondslag.ledger.domain.standing_at import unnoticed_lapse
from grondslag.ledger.domain.subject import Subject
from grondslag.ledger.persistence import ddl as persistence_ddl
from grondslag.ledger.persistence import dossiers
from grondslag.ledger.persistence.postgres import STREAMS_TABLE
from grondslag.ledger.reads.checks import CURRENT_STANDING_TABLE
from grondslag.ledger.reads.operations import QUARANTINE_TABLE
from grondslag.ledger.reads.standing import audited

from . import quarantine
from .kept_standings import KeptStandings

COLUMNS = (
    "tenant",
    "purpose",
    "subject_ref",
    "lawful",
    "status",
    "basis",
    "reason",
    "since",
    "until",
    "changes_at",
    "stream_version",
)
HELD = ("subject_version", "purpose_version", "answer", "answer_from", "answer_until")


def ddl(table: str = CURRENT_STANDING_TABLE) -> str:
    return f"""
CREATE TABLE IF NOT EXISTS {table} (
    tenant text NOT NULL,
    purpose text NOT NULL,
    subject_ref text NOT NULL,
    lawful boolean NOT NULL,
    status text NOT NULL,
    basis text,
    reason text,
    since timestamptz,
    until timestamptz,
    changes_at timestamptz,
    stream_version bigint NOT NULL,
    subject_version bigint,
    purpose_version bigint,
    answer bytea,
    answer_from timestamptz,
    answer_until timestamptz,
    PRIMARY KEY (tenant, purpose, subject_ref)
);
CREATE INDEX IF NOT EXISTS {table}_changes ON {table} (changes_at)
    WHERE changes_at IS NOT NULL;
ALTER TABLE {table}
    ADD COLUMN IF NOT EXISTS subject_version bigint,
    ADD COLUMN IF NOT EXISTS purpose_version bigint,
    ADD COLUMN IF NOT EXISTS answer bytea,
    ADD COLUMN IF NOT EXISTS answer_from timestamptz,
    ADD COLUMN IF NOT EXISTS answer_until timestamptz;
"""


UPSERT = f"""
INSERT INTO {CURRENT_STANDING_TABLE} AS s ({", ".join(COLUMNS + HELD)})
VALUES ({", ".join(f"${n}" for n in range(1, len(COLUMNS + HELD) + 1))})
ON CONFLICT (tenant, purpose, subject_ref) DO UPDATE SET
    {", ".join(f"{column} = EXCLUDED.{column}" for column in (COLUMNS + HELD)[3:])}
"""

NAME = "current_standing"
log = logging.getLogger("grondslag.projector")


async def create_tables(conn: asyncpg.Connection | asyncpg.Pool) -> None:
    await persistence_ddl.create(conn, ddl(), quarantine.DDL)


async def project(
    conn: asyncpg.Connection,
    events: list[tuple[int, Any]],
    kept: KeptStandings | None = None,
) -> None:
    """Refresh the rows of every standing these events touch (folded onto what ``kept``
    holds of them, where given)."""
    standings: set[UUID] = set()
    revised: set[UUID] = set()
    subjects: set[UUID] = set()
    for _, event in events:
        if isinstance(event, Standing.Event):
            standings.add(event.originator_id)
        elif isinstance(event, Purpose.Revised):
            revised.add(event.originator_id)
        elif isinstance(event, Subject.Event) and not isinstance(event, Subject.Registered):
            subjects.add(event.originator_id)  # birth date or representation changed
    if revised or subjects:
        standings |= await _standings_of(conn, revised | subjects)
    if standings:
        await refresh(conn, standings, kept)


async def refresh(
    conn: asyncpg.Connection, standing_ids: set[UUID], kept: KeptStandings | None = None
) -> None:
    """Fold the given standings now and upsert their rows."""
    await conn.executemany(UPSERT, await rows_for(conn, standing_ids, kept))


async def rows_for(
    conn: asyncpg.Connection, standing_ids: set[UUID], kept: KeptStandings | None = None
) -> list[tuple[Any, ...]]:
    """The read model's rows of the given standings, folded now (onto ``kept``'s)."""
    named = await conn.fetch(
        f"SELECT originator_id, tenant, subject_ref, purpose FROM {STREAMS_TABLE} "
        "WHERE originator_id = ANY($1::uuid[])",
        list(standing_ids),
    )
    others = set()
    for row in named:
        others |= {
            purpose_id(row["tenant"], row["purpose"]),
            subject_id(row["tenant"], row["subject_ref"]),
        }
    if kept is not None:
        streams = await kept.load(conn, set(standing_ids), others)
    else:
        streams = await dossiers.load(conn, [*standing_ids, *others])
    now = datetime.now(UTC)
    rows = []
    for row in named:
        dossier = streams.dossier(row["tenant"], row["subject_ref"], row["purpose"])
        standing = dossier.standing_stream
        if standing is None:
            continue
        if dossier.register is None:  # not written through the ledger's commands
            log.warning("standing %s has no registered purpose %r", standing.id, dossier.purpose)
            continue
        answer, holds, until = dossier.standing_now(now)
        # a date that passed before this fold (projector down or behind, a rebuild) is due
        # at once, so that the deadline clock still records its lapse
        due = unnoticed_lapse(standing.facts, answer)
        changes_at = due.effective_at if due else answer.changes_at
        held = msgspec.json.encode(audited(dossier, answer)) if holds else None
        rows.append(
            (
                dossier.tenant,
                dossier.purpose,
                dossier.subject_ref,
                answer.lawful,
                answer.status,
                answer.basis,
                answer.reason,
                answer.since,
                answer.until,
                changes_at,
                standing.version,
                dossier.subject.version if dossier.subject else 0,
                dossier.register.version,
                held,
                now,
                until,
            )
        )
    return rows


# (a standing in quarantine is left to its release, which folds it with these changes too)
STANDINGS_OF = f"""
SELECT st.originator_id FROM {STREAMS_TABLE} changed
JOIN {STREAMS_TABLE} st ON st.tenant = changed.tenant AND st.kind = 'standing'
 AND ((changed.kind = 'purpose' AND st.purpose = changed.purpose)
   OR (changed.kind = 'subject' AND st.subject_ref = changed.subject_ref))
WHERE changed.originator_id = ANY($1::uuid[]) AND NOT EXISTS (
    SELECT 1 FROM {QUARANTINE_TABLE} q WHERE q.projection = '{NAME}' AND q.scope = 'stream'
    AND q.key = st.originator_id::text)
"""


async def _standings_of(conn: asyncpg.Connection, streams: set[UUID]) -> set[UUID]:
    """Every standing of the given purposes and subjects (their changes reach all of them),
    but those quarantined: one unreadable standing must not hold its subject or purpose."""
    return {row["originator_id"] for row in await conn.fetch(STANDINGS_OF, list(streams))}
