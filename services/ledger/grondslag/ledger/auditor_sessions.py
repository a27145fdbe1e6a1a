"""The auditor's sessions: a random id (256 bits) in the cookie, only its SHA-256 in the
database, beside the public id of the key it was opened with (``keys.py``: a key's stored
hash may be re-stored, its id never changes).

A session ends at the first of: sign-out (``revoked_at``), its absolute expiry (set at
sign-in), an idle spell longer than the idle limit (``last_seen_at``), the key's
revocation (each look-up joins the key's row: no cache, so at once). Like the keys, the id
has so much randomness that a plain hash is as good as a slow one.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import asyncpg

from .keys import Principal

TABLE = "grondslag_auditor_sessions"
DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    session_hash bytea PRIMARY KEY,
    tenant text NOT NULL,
    key_id text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
-- sessions of the first layout named the key by its hash, which a re-hash changes: they end
ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS key_id text;
ALTER TABLE {TABLE} DROP COLUMN IF EXISTS key_hash;
CREATE INDEX IF NOT EXISTS {TABLE}_key ON {TABLE} (key_id);
"""
SESSION_ID_BYTES = 32
KEPT_AFTER_EXPIRY = timedelta(days=30)  # ended sessions stay this long, then go


def _digest(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()


async def open_session(pool: asyncpg.Pool, principal: Principal, lasts: timedelta) -> str:
    """A new session of the principal's key for ``lasts`` at most; answers its id (for the cookie
    alone: it is stored only hashed). Sessions ended long ago are cleared on the way."""
    session_id = secrets.token_urlsafe(SESSION_ID_BYTES)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            f"DELETE FROM {TABLE} WHERE expires_at < now() - $1::interval", KEPT_AFTER_EXPIRY
        )
        await conn.execute(
            f"INSERT INTO {TABLE} (session_hash, tenant, key_id, expires_at) "
            "VALUES ($1, $2, $3, now() + $4::interval)",
            _digest(session_id),
            principal.tenant,
            principal.key_id,
            lasts,
        )
    return session_id


async def session_principal(
    pool: asyncpg.Pool, session_id: str, idle: timedelta
) -> Principal | None:
    """The principal of a live session (its key's tenant and roles as they are now, and the
    key's id: the access log names the key an auditor signed in with), and the session seen
    now; None for an unknown, ended, expired or idle one, or one whose key
    was revoked."""
    if not session_id or len(session_id) > 100:
        return None
    row = await pool.fetchrow(
        f"UPDATE {TABLE} s SET last_seen_at = now() FROM grondslag_api_keys k "
        "WHERE s.session_hash = $1 AND k.key_id = s.key_id AND k.tenant = s.tenant "
        "AND s.revoked_at IS NULL AND k.revoked_at IS NULL AND s.expires_at > now() "
        "AND s.last_seen_at > now() - $2::interval "
        "RETURNING s.tenant, k.roles, s.key_id",
        _digest(session_id),
        idle,
    )
    if row is None:
        return None
    return Principal(row["tenant"], frozenset(row["roles"]), row["key_id"])


async def end_session(pool: asyncpg.Pool, session_id: str) -> bool:
    """Sign-out: the session is revoked (a replayed cookie is refused); False if there was
    no live session of that id."""
    if not session_id or len(session_id) > 100:
        return False
    ended = await pool.fetchval(
        f"UPDATE {TABLE} SET revoked_at = now() WHERE session_hash = $1 AND revoked_at IS NULL "
        "RETURNING 1",
        _digest(session_id),
    )
    return ended is not None


async def end_sessions_of_key(pool: asyncpg.Pool, key_id: str) -> int:
    """Every live session opened with the key (for a revocation that wants them marked,
    though a revoked key's sessions are refused already by the look-up's join)."""
    done = await pool.execute(
        f"UPDATE {TABLE} SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL",
        key_id,
    )
    return int(done.split()[-1])
