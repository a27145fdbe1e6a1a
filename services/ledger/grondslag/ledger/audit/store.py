"""The audit log in PostgreSQL: leaves, stored tree nodes, tree heads, keys and checkpoints.

The projector appends (``grondslag.projector.audit_log``); API processes and ``grondslag audit
check`` read. Tables:

* ``grondslag_audit_leaves`` — which event is leaf ``leaf_index`` of its tenant's tree;
* ``grondslag_audit_nodes`` — the hash of every complete perfect subtree (level 0: the
  leaf hashes), written once (see ``merkle.perfect_cover``);
* ``grondslag_audit_trees`` — each tenant's current size and root;
* ``grondslag_audit_keys`` — public keys that have signed checkpoints (never private keys);
* ``grondslag_audit_checkpoints`` — signed tree heads; ``published_at`` is set once NATS
  acknowledged the witness copy.
"""

from __future__ import annotations

import base64
from datetime import datetime
from uuid import UUID

import asyncpg

from . import merkle
from .checkpoints import Checkpoint, format_time, sign
from .signing import SigningKey

AUDIT_DDL = """
CREATE TABLE IF NOT EXISTS grondslag_audit_leaves (
    tenant text NOT NULL,
    leaf_index bigint NOT NULL,
    event_id uuid NOT NULL UNIQUE,
    notification_id bigint NOT NULL,
    originator_id uuid NOT NULL,
    originator_version integer NOT NULL,
    PRIMARY KEY (tenant, leaf_index)
);
CREATE TABLE IF NOT EXISTS grondslag_audit_nodes (
    tenant text NOT NULL,
    level smallint NOT NULL,
    index bigint NOT NULL,
    hash bytea NOT NULL,
    PRIMARY KEY (tenant, level, index)
);
CREATE TABLE IF NOT EXISTS grondslag_audit_trees (
    tenant text PRIMARY KEY,
    size bigint NOT NULL,
    root_hash bytea NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS grondslag_audit_keys (
    key_id text PRIMARY KEY,
    public_key bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS grondslag_audit_checkpoints (
    id bigserial PRIMARY KEY,
    tenant text NOT NULL,
    tree_size bigint NOT NULL,
    root_hash bytea NOT NULL,
    issued_at timestamptz NOT NULL,
    key_id text NOT NULL REFERENCES grondslag_audit_keys (key_id),
    signature bytea NOT NULL,
    published_at timestamptz,
    UNIQUE (tenant, tree_size, issued_at)
);
CREATE INDEX IF NOT EXISTS grondslag_audit_checkpoints_unpublished
    ON grondslag_audit_checkpoints (id) WHERE published_at IS NULL;
"""

CHECKPOINTS_SIGNED = "grondslag_audit_checkpoints"  # NOTIFY channel: publish what was signed


async def create_tables(conn: asyncpg.Connection | asyncpg.Pool) -> None:
    await conn.execute(AUDIT_DDL)


async def register_key(conn: asyncpg.Connection | asyncpg.Pool, key: SigningKey) -> None:
    await conn.execute(
        "INSERT INTO grondslag_audit_keys (key_id, public_key) VALUES ($1, $2) "
        "ON CONFLICT (key_id) DO NOTHING",
        key.key_id,
        key.public_key,
    )


async def public_keys(conn: asyncpg.Connection | asyncpg.Pool) -> dict[str, bytes]:
    rows = await conn.fetch("SELECT key_id, public_key FROM grondslag_audit_keys")
    return {row["key_id"]: bytes(row["public_key"]) for row in rows}


async def tree_head(conn: asyncpg.Connection | asyncpg.Pool, tenant: str) -> tuple[int, bytes]:
    row = await conn.fetchrow(
        "SELECT size, root_hash FROM grondslag_audit_trees WHERE tenant = $1", tenant
    )
    return (row["size"], bytes(row["root_hash"])) if row else (0, merkle.EMPTY_ROOT)


async def stored_nodes(
    conn: asyncpg.Connection | asyncpg.Pool, tenant: str, nodes: set[merkle.Node]
) -> dict[merkle.Node, bytes]:
    if not nodes:
        return {}
    levels, indexes = zip(*sorted(nodes), strict=True)
    rows = await conn.fetch(
        "SELECT n.level, n.index, n.hash FROM grondslag_audit_nodes n "
        "JOIN unnest($2::smallint[], $3::bigint[]) AS w(level, index) "
        "ON n.level = w.level AND n.index = w.index WHERE n.tenant = $1",
        tenant,
        list(levels),
        list(indexes),
    )
    found = {(row["level"], row["index"]): bytes(row["hash"]) for row in rows}
    missing = nodes - found.keys()
    if missing:
        raise LookupError(f"the audit log of {tenant!r} lacks stored nodes {sorted(missing)[:3]}")
    return found


async def range_hashes(
    conn: asyncpg.Connection | asyncpg.Pool, tenant: str, ranges: list[tuple[int, int]]
) -> list[bytes]:
    """The subtree hash of each leaf range, from stored nodes, in one round trip."""
    nodes = await stored_nodes(conn, tenant, merkle.nodes_for(ranges))
    return [merkle.range_hash(lo, hi, lambda level, i: nodes[level, i]) for lo, hi in ranges]


async def leaf_of(
    conn: asyncpg.Connection | asyncpg.Pool, tenant: str, event_id: UUID
) -> tuple[int, bytes] | None:
    """The leaf index and leaf hash of an event of this tenant, once the log holds it."""
    row = await conn.fetchrow(
        "SELECT l.leaf_index, n.hash FROM grondslag_audit_leaves l "
        "JOIN grondslag_audit_nodes n ON n.tenant = l.tenant AND n.level = 0 "
        "AND n.index = l.leaf_index WHERE l.tenant = $1 AND l.event_id = $2",
        tenant,
        event_id,
    )
    return (row["leaf_index"], bytes(row["hash"])) if row else None


_CHECKPOINT_COLUMNS = (
    "c.tenant, c.tree_size, c.root_hash, c.issued_at, c.key_id, c.signature, k.public_key"
)


def checkpoint_from_row(row: asyncpg.Record) -> Checkpoint:
    return Checkpoint(
        tenant=row["tenant"],
        tree_size=row["tree_size"],
        root_hash=bytes(row["root_hash"]).hex(),
        issued_at=format_time(row["issued_at"]),
        key_id=row["key_id"],
        signature=base64.b64encode(bytes(row["signature"])).decode(),
    )


async def latest_checkpoint(
    conn: asyncpg.Connection | asyncpg.Pool, tenant: str
) -> tuple[Checkpoint, bytes] | None:
    """The tenant's latest signed checkpoint and the public key that signed it."""
    return await _newest(conn, "c.tenant = $1", tenant)


async def checkpoint_of_size(
    conn: asyncpg.Connection | asyncpg.Pool, tenant: str, tree_size: int
) -> tuple[Checkpoint, bytes] | None:
    """The latest checkpoint signed over exactly ``tree_size`` leaves."""
    return await _newest(conn, "c.tenant = $1 AND c.tree_size = $2", tenant, tree_size)


async def _newest(
    conn: asyncpg.Connection | asyncpg.Pool, condition: str, *args: object
) -> tuple[Checkpoint, bytes] | None:
    row = await conn.fetchrow(
        f"SELECT {_CHECKPOINT_COLUMNS} FROM grondslag_audit_checkpoints c "
        f"JOIN grondslag_audit_keys k USING (key_id) WHERE {condition} "
        "ORDER BY c.tree_size DESC, c.issued_at DESC LIMIT 1",
        *args,
    )
    return (checkpoint_from_row(row), bytes(row["public_key"])) if row else None


async def all_checkpoints(
    conn: asyncpg.Connection | asyncpg.Pool,
) -> list[tuple[Checkpoint, bytes]]:
    """Every signed checkpoint, per tenant by size (for ``grondslag audit check``)."""
    rows = await conn.fetch(
        f"SELECT {_CHECKPOINT_COLUMNS} FROM grondslag_audit_checkpoints c "
        "JOIN grondslag_audit_keys k USING (key_id) ORDER BY c.tenant, c.tree_size, c.issued_at"
    )
    return [(checkpoint_from_row(row), bytes(row["public_key"])) for row in rows]


async def sign_checkpoint(
    conn: asyncpg.Connection | asyncpg.Pool, key: SigningKey, tenant: str, now: datetime
) -> Checkpoint:
    """Sign the tenant's current tree head and store the checkpoint (a second signature
    over the same size in the same second is the same checkpoint)."""
    size, root = await tree_head(conn, tenant)
    checkpoint = sign(key, tenant, size, root, now)
    await conn.execute(
        "INSERT INTO grondslag_audit_checkpoints "
        "(tenant, tree_size, root_hash, issued_at, key_id, signature) "
        "VALUES ($1, $2, $3, $4::text::timestamptz, $5, $6) "
        "ON CONFLICT (tenant, tree_size, issued_at) DO NOTHING",
        tenant,
        size,
        root,
        checkpoint.issued_at,
        checkpoint.key_id,
        base64.b64decode(checkpoint.signature),
    )
    stored = await checkpoint_of_size(conn, tenant, size)
    assert stored is not None
    return stored[0]
