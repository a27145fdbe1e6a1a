"""The e-mail index: which subject a newsletter address belongs to, per tenant, without the
address in the clear (a keyed hash of it; the address itself is sealed personal data)."""

from __future__ import annotations

import hashlib
import hmac

import asyncpg

from .domain.ids import subject_id
from .links import NOT_ERASED, key_secret, tenant_secret

DDL = """
CREATE TABLE IF NOT EXISTS grondslag_email_index (
    tenant text NOT NULL,
    email_hash bytea NOT NULL,
    subject_ref text NOT NULL,
    PRIMARY KEY (tenant, email_hash)
);
CREATE INDEX IF NOT EXISTS grondslag_email_index_subject
    ON grondslag_email_index (tenant, subject_ref);
"""


async def email_hash(pool: asyncpg.Pool, tenant: str, email: str) -> bytes:
    """A keyed hash of the normalised address: finds a subscriber without storing the
    address in the clear (the first key stays the index key across rotations)."""
    await tenant_secret(pool, tenant)
    secret = await key_secret(pool, tenant, 1)
    assert secret is not None  # tenant_secret made the first key, if there was none
    return hmac.new(secret, email.strip().lower().encode(), hashlib.sha256).digest()


async def subscriber(pool: asyncpg.Pool, tenant: str, digest: bytes) -> str | None:
    """The subject the hashed address was first signed up as, if any."""
    return await pool.fetchval(
        "SELECT subject_ref FROM grondslag_email_index WHERE tenant = $1 AND email_hash = $2",
        tenant,
        digest,
    )


async def remember(pool: asyncpg.Pool, tenant: str, digest: bytes, subject_ref: str) -> bool:
    """Index the hashed address under ``subject_ref``; the first subject keeps it. False
    when the subject was erased (R22), however recently: the erasure deleted its entry."""
    present = await pool.fetchval(
        "WITH subject AS (SELECT 1 " + NOT_ERASED.format(subject="$4") + "), "
        "added AS (INSERT INTO grondslag_email_index (tenant, email_hash, subject_ref) "
        "SELECT $1, $2, $3 FROM subject ON CONFLICT (tenant, email_hash) DO NOTHING) "
        "SELECT EXISTS (SELECT 1 FROM subject)",
        tenant,
        digest,
        subject_ref,
        subject_id(tenant, subject_ref),
    )
    return bool(present)
