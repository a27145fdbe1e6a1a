"""Tenants' API keys: random, shown once, stored only as a keyed hash; listed, revoked and
rotated by their public id.

A key reads ``gs_<key id>_<secret>``: the key id (16 hex digits) names the key in lists,
logs and revocations without revealing it; the secret is 256 random bits. The table holds
HMAC-SHA-256(pepper, key), the pepper a server-side secret kept out of the database (a
file of mode 0600 under the data folder, or ``GRONDSLAG_KEY_PEPPER``), so that a leaked
table neither reveals a short key (no dictionary can be tried without the pepper) nor
lets anybody authenticate. Rows of older installations hold an unsalted SHA-256
(``hash_kind = 'sha256'``): such a key is accepted and re-stored as an HMAC the first
time it is presented (the bootstrap key at once, at start, since the server knows it).

A key's last use is kept in memory and written at most once a minute per key, from a
background task: no request waits for a write.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import stat
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

import asyncpg
import msgspec

from .tenants import check_tenant

log = logging.getLogger("grondslag.keys")

Role = Literal["writer", "reader", "auditor", "admin", "metrics"]
# metrics: scrape ``/metrics`` (and nothing else); see api/health.py for what it may see
ROLES: tuple[Role, ...] = ("writer", "reader", "auditor", "admin", "metrics")
KEY_PREFIX = "gs_"
PEPPER_FILE_NAME = "api-key-pepper"
LAST_USE_RESOLUTION = 60.0  # seconds: a key's last use is written at most this often
WEAK_KEY_LENGTH = 16  # an operator-chosen key shorter than this is weak

DDL = """
CREATE TABLE IF NOT EXISTS grondslag_api_keys (
    key_hash bytea PRIMARY KEY,
    tenant text NOT NULL,
    roles text[] NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
ALTER TABLE grondslag_api_keys ADD COLUMN IF NOT EXISTS key_id text;
ALTER TABLE grondslag_api_keys ADD COLUMN IF NOT EXISTS hash_kind text NOT NULL DEFAULT 'sha256';
ALTER TABLE grondslag_api_keys ADD COLUMN IF NOT EXISTS last_used_at timestamptz;
ALTER TABLE grondslag_api_keys ADD COLUMN IF NOT EXISTS bootstrap boolean NOT NULL DEFAULT false;
ALTER TABLE grondslag_api_keys ADD COLUMN IF NOT EXISTS replaced_by text;
CREATE UNIQUE INDEX IF NOT EXISTS grondslag_api_keys_id ON grondslag_api_keys (key_id);
CREATE INDEX IF NOT EXISTS grondslag_api_keys_tenant ON grondslag_api_keys (tenant);
"""

# A key of an older installation is named as events recorded with it name it: the first 12
# hex digits of its unsalted hash. Run at every start, migrated or not (``schema``): during a
# rolling upgrade a replica of the release before may still make keys without a name.
NAME_OLDER_KEYS = """
UPDATE grondslag_api_keys SET key_id = encode(substr(key_hash, 1, 6), 'hex')
    WHERE key_id IS NULL
"""

# a key is live until its revoked_at: none, or a moment still to come (a rotation's grace)
LIVE = "(revoked_at IS NULL OR revoked_at > now())"
# the row of a key given as $1 its keyed hash and $2 its unsalted one (``stored_as``)
STORED_AS = "((key_hash = $1 AND hash_kind = 'hmac') OR (key_hash = $2 AND hash_kind = 'sha256'))"


class Principal(msgspec.Struct, frozen=True):
    """Who is calling: a tenant, the roles its key carries, and the key's public id (what
    events and the access log name it by)."""

    tenant: str
    roles: frozenset[str]
    key_id: str = ""


class KeyInfo(msgspec.Struct, kw_only=True):
    """What a list shows of a key: never its secret nor its hash."""

    key_id: str
    tenant: str
    roles: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    bootstrap: bool
    replaced_by: str | None = None


class NewKey(KeyInfo, kw_only=True):
    """A key just made: the only answer that ever holds its secret."""

    key: str


class LastAdminKey(Exception):
    """Revoking this key would leave its tenant without a live admin key."""


# -- the pepper ---------------------------------------------------------------------------------
def load_pepper(path: Path, value: str | None = None) -> bytes:
    """The server-side pepper: ``value`` (``GRONDSLAG_KEY_PEPPER``) when set, else the file at
    ``path``, made on first start with 256 random bits and mode 0600."""
    if value:
        return value.encode()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(8)}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(32) + "\n")
                out.flush()
                os.fsync(out.fileno())
            with contextlib.suppress(FileExistsError):  # another process was first: use its
                os.link(temporary, path)
                log.warning(
                    "generated the API key pepper in %s: back it up with the database; "
                    "without it no stored key authenticates",
                    path,
                )
        finally:
            temporary.unlink(missing_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("%s is readable by others (mode %o); chmod 600 it", path, mode)
    pepper = path.read_text().strip().encode()
    if len(pepper) < 16:
        raise ValueError(f"{path}: the API key pepper is too short (at least 16 characters)")
    return pepper


def hash_key(pepper: bytes, key: str) -> bytes:
    return hmac.digest(pepper, key.encode(), "sha256")  # one call, no HMAC object


def legacy_hash(key: str) -> bytes:
    """How keys were stored before the pepper: a plain SHA-256."""
    return hashlib.sha256(key.encode()).digest()


def stored_as(pepper: bytes, key: str) -> tuple[bytes, bytes]:
    """The two hashes a key's row may hold, for ``STORED_AS``: keyed, and as stored before
    the pepper."""
    return hash_key(pepper, key), legacy_hash(key)


def weak_key(key: str) -> bool:
    """An operator-chosen key that a guess could find: short, or of few distinct characters."""
    return len(key) < WEAK_KEY_LENGTH or len(set(key)) < 8


def key_id_in(key: str) -> str | None:
    """The public id a key carries (``gs_<key id>_<secret>``); None for a key without one
    (an operator's bootstrap key, a key of an older installation)."""
    prefix, _, rest = key.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix + "_" != KEY_PREFIX or len(key_id) != 16 or not secret:
        return None
    return key_id if all(c in "0123456789abcdef" for c in key_id) else None


def new_key_text() -> tuple[str, str]:
    """(key id, key): 64 random bits of id, 256 of secret."""
    key_id = secrets.token_hex(8)
    return key_id, f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"


# -- making keys --------------------------------------------------------------------------------
_COLUMNS = "key_id, tenant, roles, created_at, last_used_at, revoked_at, bootstrap, replaced_by"


def _info(row: asyncpg.Record) -> KeyInfo:
    return KeyInfo(**{name: row[name] for name in _COLUMNS.split(", ")})


async def create_key(
    db: asyncpg.Pool | asyncpg.Connection, tenant: str, roles: Iterable[str], *, pepper: bytes
) -> NewKey:
    """Store a new random key; answers it, with its secret (shown this once)."""
    check_tenant(tenant)  # every key's tenant, whoever creates it (``tenants``)
    key_id, key = new_key_text()
    row = await db.fetchrow(
        "INSERT INTO grondslag_api_keys (key_hash, hash_kind, key_id, tenant, roles) "
        f"VALUES ($1, 'hmac', $2, $3, $4) RETURNING {_COLUMNS}",
        hash_key(pepper, key),
        key_id,
        tenant,
        sorted(set(roles)),
    )
    return NewKey(**msgspec.structs.asdict(_info(row)), key=key)


async def ensure_bootstrap_key(pool: asyncpg.Pool, tenant: str, key: str, *, pepper: bytes) -> None:
    """Give ``tenant`` the operator's bootstrap key with every role, once: a key stored
    already (live or revoked, under any tenant) is left as it is — a revoked bootstrap key
    stays revoked. A row of it under the unsalted hash is re-stored as an HMAC."""
    digest = hash_key(pepper, key)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "UPDATE grondslag_api_keys SET key_hash = $1, hash_kind = 'hmac', bootstrap = true "
            "WHERE key_hash = $2 AND hash_kind = 'sha256'",
            digest,
            legacy_hash(key),
        )
        created = await conn.fetchval(
            "INSERT INTO grondslag_api_keys "
            "(key_hash, hash_kind, key_id, tenant, roles, bootstrap) "
            "VALUES ($1, 'hmac', $2, $3, $4, true) ON CONFLICT (key_hash) DO NOTHING "
            "RETURNING key_id",
            digest,
            secrets.token_hex(8),
            tenant,
            sorted(ROLES),
        )
    if created:
        log.info("created the bootstrap key %s of tenant %s", created, tenant)


# -- listing, revoking, rotating ----------------------------------------------------------------
async def list_keys(db: asyncpg.Pool, tenant: str | None = None) -> list[KeyInfo]:
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM grondslag_api_keys "
        "WHERE $1::text IS NULL OR tenant = $1 ORDER BY tenant, created_at, key_id",
        tenant,
    )
    return [_info(row) for row in rows]


async def key_info(db: asyncpg.Pool, key_id: str, tenant: str | None = None) -> KeyInfo | None:
    row = await db.fetchrow(
        f"SELECT {_COLUMNS} FROM grondslag_api_keys "
        "WHERE key_id = $1 AND ($2::text IS NULL OR tenant = $2)",
        key_id,
        tenant,
    )
    return _info(row) if row else None


async def revoke_key(
    pool: asyncpg.Pool,
    key_id: str,
    *,
    tenant: str | None = None,
    force: bool = False,
    after: timedelta = timedelta(0),
    replaced_by: str | None = None,
) -> KeyInfo | None:
    """Revoke a key (now, or ``after`` a grace period); None when there is no such key (of
    ``tenant``, when given). Refuses (``LastAdminKey``) to leave a tenant without a live
    admin key unless ``force``. A key revoked already keeps its first revocation time."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "SELECT tenant, roles, revoked_at FROM grondslag_api_keys "
            "WHERE key_id = $1 AND ($2::text IS NULL OR tenant = $2)",
            key_id,
            tenant,
        )
        if row is None:
            return None
        # one revocation at a time per tenant: two admins revoking each other's key
        # concurrently must not both pass the check below
        lock = "api-keys:" + row["tenant"]
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", lock)
        if not force and after == timedelta(0) and "admin" in row["roles"]:
            others = await conn.fetchval(
                "SELECT count(*) FROM grondslag_api_keys WHERE tenant = $1 AND key_id <> $2 "
                f"AND 'admin' = ANY(roles) AND {LIVE}",
                row["tenant"],
                key_id,
            )
            if others == 0:
                raise LastAdminKey(row["tenant"])
        updated = await conn.fetchrow(
            "UPDATE grondslag_api_keys SET revoked_at = CASE "
            "WHEN revoked_at IS NOT NULL AND revoked_at <= now() THEN revoked_at "
            "ELSE now() + $2::interval END, replaced_by = coalesce($3, replaced_by) "
            f"WHERE key_id = $1 RETURNING {_COLUMNS}",
            key_id,
            after,
            replaced_by,
        )
    return _info(updated)


async def rotate_key(
    pool: asyncpg.Pool,
    key_id: str,
    *,
    pepper: bytes,
    tenant: str | None = None,
    grace: timedelta = timedelta(0),
) -> tuple[NewKey, KeyInfo] | None:
    """A new key with the same tenant and roles; the old one revoked (after ``grace``).
    Answers (new key with its secret, the old key), or None when there is no such live key."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "SELECT tenant, roles FROM grondslag_api_keys "
            f"WHERE key_id = $1 AND ($2::text IS NULL OR tenant = $2) AND {LIVE} FOR UPDATE",
            key_id,
            tenant,
        )
        if row is None:
            return None
        new = await create_key(conn, row["tenant"], row["roles"], pepper=pepper)
        old = await conn.fetchrow(
            "UPDATE grondslag_api_keys SET revoked_at = now() + $2::interval, replaced_by = $3 "
            f"WHERE key_id = $1 RETURNING {_COLUMNS}",
            key_id,
            grace,
            new.key_id,
        )
    return new, _info(old)


# -- looking keys up ----------------------------------------------------------------------------
class KeyCache:
    """Looks keys up, remembering answers briefly, and notes each key's last use, written by
    ``flush`` (see ``run_flusher``).

    An answer is remembered ``ttl`` seconds, and a key's no longer than until its
    revocation time (a rotation's grace ends on time). A revocation or rotation made
    through this process's API is ``forget``-ten at once; one made elsewhere (another
    worker, ``grondslag keys revoke``) takes effect here within ``ttl``."""

    def __init__(self, pool: asyncpg.Pool, pepper: bytes, ttl: float = 10.0, size: int = 10_000):
        self.pool, self.pepper, self.ttl, self.size = pool, pepper, ttl, size
        self._cache: dict[bytes, tuple[float, Principal | None]] = {}
        self._noted: dict[str, float] = {}  # key id → when its use was last queued
        self._used: set[str] = set()  # key ids used since the last flush

    async def principal(self, key: str) -> Principal | None:
        digest = hash_key(self.pepper, key)
        hit = self._cache.get(digest)
        now = time.monotonic()
        if hit and hit[0] > now:
            principal = hit[1]
        else:
            principal, lasts = await self._look_up(key, digest)
            if len(self._cache) >= self.size:
                self._cache.clear()
            self._cache[digest] = (now + min(self.ttl, lasts), principal)
        if principal is not None and principal.key_id:
            self._note_use(principal.key_id, now)
        return principal

    def forget(self, key_id: str) -> None:
        """Drop what is remembered of key ``key_id`` (revoked or rotated just now)."""
        self._cache = {
            digest: entry
            for digest, entry in self._cache.items()
            if entry[1] is None or entry[1].key_id != key_id
        }

    async def _look_up(self, key: str, digest: bytes) -> tuple[Principal | None, float]:
        """The key's principal (None: unknown or revoked) and how long it may be remembered."""
        row = await self.pool.fetchrow(
            "SELECT key_id, tenant, roles, hash_kind, "
            "extract(epoch FROM revoked_at - now())::float8 AS revoked_in "
            f"FROM grondslag_api_keys WHERE {STORED_AS} AND {LIVE}",
            digest,
            legacy_hash(key),
        )
        if row is None:
            return None, self.ttl
        if row["hash_kind"] == "sha256":  # a key of an older installation: re-store it
            await self.pool.execute(
                "UPDATE grondslag_api_keys SET key_hash = $1, hash_kind = 'hmac' "
                "WHERE key_id = $2 AND hash_kind = 'sha256'",
                digest,
                row["key_id"],
            )
            log.info("re-stored API key %s under the keyed hash", row["key_id"])
        principal = Principal(row["tenant"], frozenset(row["roles"]), row["key_id"])
        return principal, self.ttl if row["revoked_in"] is None else row["revoked_in"]

    def _note_use(self, key_id: str, now: float) -> None:
        if now - self._noted.get(key_id, -LAST_USE_RESOLUTION) >= LAST_USE_RESOLUTION:
            self._noted[key_id] = now
            self._used.add(key_id)
            if len(self._noted) > self.size:
                self._noted.clear()

    async def flush(self) -> int:
        """Write the last use of the keys used since the last flush; answers how many."""
        used, self._used = self._used, set()
        if used:
            await self.pool.execute(
                "UPDATE grondslag_api_keys SET last_used_at = now() WHERE key_id = ANY($1)",
                sorted(used),
            )
        return len(used)

    async def run_flusher(self, interval: float = 10.0) -> None:
        """Flush every ``interval`` seconds until cancelled (and once more then)."""
        try:
            while True:
                await asyncio.sleep(interval)
                try:
                    await self.flush()
                except (OSError, asyncpg.PostgresError) as error:  # the database away: later
                    log.warning("could not note the keys' last use: %r", error)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.flush(), 2)
