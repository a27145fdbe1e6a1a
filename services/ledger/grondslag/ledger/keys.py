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
    """Who is calling: a tenant and the roles its key carries."""

    tenant: str
    roles: frozenset[str]


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


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
        principal = Principal(row["tenant"], frozenset(row["roles"])) if row else None
        if len(self._cache) >= self.size:
            self._cache.clear()
        self._cache[digest] = (now + self.ttl, principal)
        return principal
