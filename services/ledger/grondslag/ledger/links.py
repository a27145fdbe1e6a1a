"""Signed, opaque links for people who have no API key: one-click unsubscribe (RFC 8058)
and double opt-in confirmation.

A token is ``<key id>.<token id>.<mac>``: a random 128-bit id naming a stored binding
(tenant, subject, purpose, kind) and an HMAC-SHA-256 of it under the tenant's secret with
that key id. It reveals nothing (the id is random; nothing is encoded in it), cannot be
moved (the binding is stored, not carried) and cannot be altered into another valid token
(the MAC, compared in constant time). Secrets rotate by adding a key id; old links keep
verifying with the key they were made with until the replaced key retires
(``retires_at``, set by ``rotate``: ``GRONDSLAG_LINK_KEY_GRACE`` after the rotation), then
are refused. The secrets are stored wrapped by the key-encryption key (``envelope``), bound
to their tenant and key id: a dump of the database mints no link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import asyncpg

from .domain.ids import subject_id
from .envelope import active, tenant_context

Kind = Literal["unsubscribe", "confirm"]
MAX_TOKEN_LENGTH = 100
_SHAPE = re.compile(r"^(\d{1,4})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{22})$")

DDL = """
CREATE TABLE IF NOT EXISTS grondslag_tenant_secrets (
    tenant text NOT NULL,
    key_id int NOT NULL,
    secret bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, key_id)
);
ALTER TABLE grondslag_tenant_secrets ADD COLUMN IF NOT EXISTS kek_id text;
ALTER TABLE grondslag_tenant_secrets ADD COLUMN IF NOT EXISTS retires_at timestamptz;
CREATE TABLE IF NOT EXISTS grondslag_link_tokens (
    token_id bytea PRIMARY KEY,
    kind text NOT NULL,
    tenant text NOT NULL,
    subject_ref text NOT NULL,
    purpose text NOT NULL,
    key_id int NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    used_at timestamptz
);
CREATE INDEX IF NOT EXISTS grondslag_link_tokens_subject
    ON grondslag_link_tokens (tenant, subject_ref);
DROP INDEX IF EXISTS grondslag_link_tokens_unsubscribe;
CREATE UNIQUE INDEX IF NOT EXISTS grondslag_link_tokens_unsubscribe_per_key
    ON grondslag_link_tokens (tenant, subject_ref, purpose, key_id) WHERE kind = 'unsubscribe';
"""


@dataclass(frozen=True, slots=True)
class Binding:
    """What a valid token stands for."""

    token_id: bytes
    kind: Kind
    tenant: str
    subject_ref: str
    purpose: str
    expires_at: datetime | None
    used_at: datetime | None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, kind: str, token_id: bytes) -> bytes:
    return hmac.new(secret, kind.encode() + b"\x1f" + token_id, hashlib.sha256).digest()[:16]


async def tenant_secret(conn: asyncpg.Connection | asyncpg.Pool, tenant: str) -> tuple[int, bytes]:
    """The tenant's current signing key (created on first use)."""
    row = await conn.fetchrow(
        "SELECT key_id, secret, kek_id FROM grondslag_tenant_secrets WHERE tenant = $1 "
        "ORDER BY key_id DESC LIMIT 1",
        tenant,
    )
    if row is None:
        kek_id, wrapped = active().wrap(secrets.token_bytes(32), tenant_context(tenant, 1))
        await conn.execute(
            "INSERT INTO grondslag_tenant_secrets (tenant, key_id, secret, kek_id) "
            "VALUES ($1, 1, $2, $3) ON CONFLICT DO NOTHING",
            tenant,
            wrapped,
            kek_id,
        )
        return await tenant_secret(conn, tenant)
    return row["key_id"], _unwrapped(tenant, row)


def _unwrapped(tenant: str, row: asyncpg.Record) -> bytes:
    context = tenant_context(tenant, row["key_id"])
    return active().unwrap(row["kek_id"], bytes(row["secret"]), context)


async def rotate(pool: asyncpg.Pool, tenant: str, grace: timedelta) -> tuple[int, datetime]:
    """A new secret for the tenant's links (new links use it); the links under the ones it
    replaces keep working for ``grace``, then are refused. The new key id, and when the
    replaced ones retire (the first key stays the e-mail index's key: it is never deleted)."""
    await tenant_secret(pool, tenant)  # a tenant with no secret yet gets its first
    async with pool.acquire() as conn, conn.transaction():
        newest = await conn.fetchval(
            "SELECT key_id FROM grondslag_tenant_secrets WHERE tenant = $1 "
            "ORDER BY key_id DESC LIMIT 1 FOR UPDATE",
            tenant,
        )
        key_id = newest + 1
        kek_id, wrapped = active().wrap(secrets.token_bytes(32), tenant_context(tenant, key_id))
        retires_at = await conn.fetchval(
            "UPDATE grondslag_tenant_secrets SET retires_at = now() + $2::interval "
            "WHERE tenant = $1 AND retires_at IS NULL RETURNING retires_at",
            tenant,
            grace,
        )
        await conn.execute(
            "INSERT INTO grondslag_tenant_secrets (tenant, key_id, secret, kek_id) "
            "VALUES ($1, $2, $3, $4)",
            tenant,
            key_id,
            wrapped,
            kek_id,
        )
    return key_id, retires_at


# R22: the subject's key row, which an erasure updates before it deletes the rows naming the
# subject, locked while a row naming it is inserted: an erasure committed meanwhile (or
# waiting to commit) leaves nothing to insert from, and one that comes after deletes the row.
# A complete erasure's key is NULL (``persistence.erasure.ERASED_MEANWHILE`` reads it so too).
NOT_ERASED = (
    "FROM grondslag_subject_keys WHERE subject_id = {subject} "
    "AND NOT (key IS NULL AND destroyed_at IS NOT NULL) FOR SHARE"
)


async def issue(
    pool: asyncpg.Pool,
    kind: Kind,
    tenant: str,
    subject_ref: str,
    purpose: str,
    expires_at: datetime | None = None,
) -> str | None:
    """A token for the binding; unsubscribe links are stable per subject and purpose. None
    when the subject was erased (R22), however recently: the erasure deleted its links."""
    key_id, secret = await tenant_secret(pool, tenant)
    token_id = secrets.token_bytes(16)
    subject = subject_id(tenant, subject_ref)
    if kind == "unsubscribe":
        row = await pool.fetchrow(
            "INSERT INTO grondslag_link_tokens (token_id, kind, tenant, subject_ref, purpose, "
            "key_id) SELECT $1, 'unsubscribe', $2, $3, $4, $5 "
            + NOT_ERASED.format(subject="$6")
            + " ON CONFLICT (tenant, subject_ref, purpose, key_id) WHERE kind = 'unsubscribe' "
            "DO UPDATE SET kind = EXCLUDED.kind RETURNING token_id, key_id",
            token_id,
            tenant,
            subject_ref,
            purpose,
            key_id,
            subject,
        )
        if row is None:
            return None
        token_id, key_id = bytes(row["token_id"]), row["key_id"]
        known = await key_secret(pool, tenant, key_id)
        assert known is not None  # the token's row names a key of this tenant
        secret = known
    else:
        row = await pool.fetchrow(
            "INSERT INTO grondslag_link_tokens (token_id, kind, tenant, subject_ref, purpose, "
            "key_id, expires_at) SELECT $1, $2, $3, $4, $5, $6, $7 "
            + NOT_ERASED.format(subject="$8")
            + " RETURNING token_id",
            token_id,
            kind,
            tenant,
            subject_ref,
            purpose,
            key_id,
            expires_at,
            subject,
        )
        if row is None:
            return None
    return f"{key_id}.{_b64(token_id)}.{_b64(_mac(secret, kind, token_id))}"


async def verify(pool: asyncpg.Pool, kind: Kind, token: str) -> Binding | None:
    """The binding of a genuine token of this kind, or None (forged, altered, unknown)."""
    if len(token) > MAX_TOKEN_LENGTH or not (shape := _SHAPE.match(token)):
        return None
    key_id, token_id, mac = int(shape[1]), _unb64(shape[2]), _unb64(shape[3])
    if token != f"{key_id}.{_b64(token_id)}.{_b64(mac)}":  # one spelling per token only
        return None
    row = await pool.fetchrow(
        "SELECT kind, tenant, subject_ref, purpose, key_id, expires_at, used_at "
        "FROM grondslag_link_tokens WHERE token_id = $1",
        token_id,
    )
    if row is None or row["kind"] != kind or row["key_id"] != key_id:
        return None
    secret = await key_secret(pool, row["tenant"], key_id, current=True)
    if secret is None or not hmac.compare_digest(_mac(secret, kind, token_id), mac):
        return None
    return Binding(
        token_id,
        kind,
        row["tenant"],
        row["subject_ref"],
        row["purpose"],
        row["expires_at"],
        row["used_at"],
    )


async def claim(pool: asyncpg.Pool, binding: Binding) -> bool:
    """Mark a link used, once: whether this call did (a double click acts once, not twice)."""
    claimed = await pool.fetchval(
        "UPDATE grondslag_link_tokens SET used_at = now() WHERE token_id = $1 "
        "AND used_at IS NULL RETURNING true",
        binding.token_id,
    )
    return bool(claimed)


async def release(pool: asyncpg.Pool, binding: Binding) -> None:
    """Unmark a claimed link whose action failed, so that it can be used again."""
    await pool.execute(
        "UPDATE grondslag_link_tokens SET used_at = NULL WHERE token_id = $1", binding.token_id
    )


async def key_secret(
    pool: asyncpg.Connection | asyncpg.Pool, tenant: str, key_id: int, *, current: bool = False
) -> bytes | None:
    """The tenant's secret with ``key_id``; with ``current``, None once it retired."""
    row = await pool.fetchrow(
        "SELECT key_id, secret, kek_id, retires_at <= now() AS retired "
        "FROM grondslag_tenant_secrets WHERE tenant = $1 AND key_id = $2",
        tenant,
        key_id,
    )
    if row is None or (current and row["retired"]):
        return None
    return _unwrapped(tenant, row)
