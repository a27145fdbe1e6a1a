"""Who looked at which subject's personal data (NEN 7513): an append-only access log.

Every read that unseals a subject's birth date or e-mail address — the access answer
(``export.json``, ``export.html``), the audit bundle that carries the subject's key
(``audit.bundle.personal_data``), the auditor's subject page (``auditor.subject_page``) —
inserts one row before it answers: the tenant, the subject's reference, the actor (the
API key's id and roles) and the moment. The row is written on its own, not in the event
store (a read stays a read: no stream, no lock, one INSERT). If it cannot be written the
read fails (503, like any read with the database away): no personal data leaves without
its row, and nothing is queued in memory that a crash could lose.

The table refuses UPDATE and DELETE (a trigger), and an erasure (R22) keeps it: NEN 7513
asks that the log of who looked outlives what was looked at, and its rows hold no personal
data — the practice's pseudonymous reference, a key id, what and when.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import asyncpg
import msgspec

from ..domain.errors import InvalidInput, NotFound
from .actors import Actor

TABLE = "grondslag_access_log"
What = Literal["export.json", "export.html", "audit.bundle.personal_data", "auditor.subject_page"]

DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id bigserial PRIMARY KEY,
    tenant text NOT NULL,
    subject_ref text NOT NULL,
    actor_id text NOT NULL,
    actor_roles text[] NOT NULL,
    what text NOT NULL,
    read_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS {TABLE}_subject ON {TABLE} (tenant, subject_ref, id DESC);
CREATE OR REPLACE FUNCTION {TABLE}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the access log is append-only (NEN 7513)';
END $$;
CREATE OR REPLACE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION {TABLE}_append_only();
"""


class Access(msgspec.Struct, kw_only=True):
    """One read of a subject's personal data."""

    id: int
    actor: Actor
    what: str
    read_at: datetime


class AccessPage(msgspec.Struct, kw_only=True):
    """Reads of one subject, newest first; ``next`` is the cursor of the next page, if any."""

    subject_ref: str
    accesses: list[Access]
    next: str | None = None


async def record(pool: asyncpg.Pool, actor: Actor, subject_ref: str, what: What) -> None:
    """Log one read, before its answer leaves (see the module docstring)."""
    await pool.execute(
        f"INSERT INTO {TABLE} (tenant, subject_ref, actor_id, actor_roles, what) "
        "VALUES ($1, $2, $3, $4, $5)",
        actor.tenant,
        subject_ref,
        actor.id,
        list(actor.roles),
        what,
    )


async def page(
    pool: asyncpg.Pool, tenant: str, subject_ref: str, limit: int, cursor: str | None
) -> AccessPage:
    """One page of the subject's reads, newest first; 404 for a subject the tenant does not
    have (another tenant's subject included)."""
    before = _before(cursor)
    known = await pool.fetchval(
        "SELECT 1 FROM grondslag_streams WHERE tenant = $1 AND kind = 'subject' "
        "AND subject_ref = $2",
        tenant,
        subject_ref,
    )
    if known is None:
        raise NotFound(f"subject {subject_ref!r} is not registered")
    rows = await pool.fetch(
        f"SELECT id, actor_id, actor_roles, what, read_at FROM {TABLE} "
        "WHERE tenant = $1 AND subject_ref = $2 AND ($3::bigint IS NULL OR id < $3) "
        "ORDER BY id DESC LIMIT $4",
        tenant,
        subject_ref,
        before,
        limit + 1,
    )
    accesses = [
        Access(
            id=row["id"],
            actor=Actor(id=row["actor_id"], tenant=tenant, roles=tuple(row["actor_roles"])),
            what=row["what"],
            read_at=row["read_at"],
        )
        for row in rows[:limit]
    ]
    following = str(accesses[-1].id) if len(rows) > limit else None
    return AccessPage(subject_ref=subject_ref, accesses=accesses, next=following)


def _before(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not cursor.isascii() or not cursor.isdigit() or len(cursor) > 18:
        raise InvalidInput("cursor is not one this list gave", field="cursor")
    return int(cursor)
