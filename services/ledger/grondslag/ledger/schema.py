"""Tables of the ledger beside the event store: API keys, idempotency records, link tokens
with the tenants' secrets, the e-mail index, and the access log.

(The event store and its stream index are created by the event store's recorder.)
"""

from __future__ import annotations

import asyncpg

from . import auditor_sessions, email_index, keys, links
from .persistence import access_log, ddl

DDL = """
CREATE TABLE IF NOT EXISTS grondslag_idempotency (
    tenant text NOT NULL,
    key text NOT NULL,
    request_hash bytea NOT NULL,
    status int,
    content_type text,
    body bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, key)
);
ALTER TABLE grondslag_idempotency ADD COLUMN IF NOT EXISTS subject_ref text;
ALTER TABLE grondslag_idempotency ADD COLUMN IF NOT EXISTS location text;
CREATE INDEX IF NOT EXISTS grondslag_idempotency_subject
    ON grondslag_idempotency (tenant, subject_ref);
"""


async def ensure_schema(pool: asyncpg.Pool) -> None:
    """Create the tables if missing, taking turns with other processes (``persistence.ddl``)."""
    await ddl.create(
        pool, keys.DDL, DDL, links.DDL, email_index.DDL, access_log.DDL, auditor_sessions.DDL
    )
    await pool.execute(keys.NAME_OLDER_KEYS)  # data, not schema: whether migrated or not
