"""Tenants' API keys: random, shown once, stored only as a SHA-256 hash.

Keys carry 256 bits of randomness, so a plain hash is as good as a slow one and keeps the
per-request lookup cheap.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Literal

import asyncpg
import msgspec

Role = Literal["writer", "reader", "auditor", "admin", "metrics"]
# metrics: scrape ``/metrics`` (and nothing else); see api/health.py for what it may see
ROLES: tuple[Role, ...] = ("writer", "reader", "auditor", "admin", "metrics")
KEY_PREFIX = "gs_"
TENANT_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"


class Principal(msgspec.Struct, frozen=True):
    """Who is calling: a tenant, the roles its key carries, and the key's id (what events
    and the access log name it by; see ``key_id_of``)."""

    tenant: str
    roles: frozenset[str]
    key_id: str = ""


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def key_id_of(key_hash: bytes) -> str:
    """A key's public id: the first 12 hex digits of its stored row's identity (the hash).

    Until keys carry an id of their own, this names the row without revealing the key
    (48 bits of a SHA-256 of 256 random bits)."""
    return key_hash[:6].hex()


async def create_key(
    pool: asyncpg.Pool, tenant: str, roles: list[str], key: str | None = None
) -> str:
    """Store a new key (or the given one, for bootstrap) and return it in the clear."""
    key = key or KEY_PREFIX + secrets.token_urlsafe(32)
    await pool.execute(
        "INSERT INTO grondslag_api_keys (key_hash, tenant, roles) VALUES ($1, $2, $3) "
        "ON CONFLICT (key_hash) DO UPDATE SET tenant = EXCLUDED.tenant, roles = EXCLUDED.roles, "
        "revoked_at = NULL",
        hash_key(key),
        tenant,
        sorted(set(roles)),
    )
    return key


class KeyCache:
    """Looks keys up, remembering answers briefly (a revoked key stops within ``ttl``)."""

    def __init__(self, pool: asyncpg.Pool, ttl: float = 30.0, size: int = 10_000):
        self.pool, self.ttl, self.size = pool, ttl, size
        self._cache: dict[bytes, tuple[float, Principal | None]] = {}

    async def principal(self, key: str) -> Principal | None:
        digest = hash_key(key)
        hit = self._cache.get(digest)
        now = time.monotonic()
        if hit and hit[0] > now:
            return hit[1]
        row = await self.pool.fetchrow(
            "SELECT tenant, roles FROM grondslag_api_keys "
            "WHERE key_hash = $1 AND revoked_at IS NULL",
            digest,
        )
        principal = (
            Principal(row["tenant"], frozenset(row["roles"]), key_id_of(digest)) if row else None
        )
        if len(self._cache) >= self.size:
            self._cache.clear()
        self._cache[digest] = (now + self.ttl, principal)
        return principal
