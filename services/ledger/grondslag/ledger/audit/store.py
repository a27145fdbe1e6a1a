"""The audit log in PostgreSQL: every statement on its six tables is in this module.

* ``grondslag_audit_leaves`` — which event is leaf ``leaf_index`` of its tenant's tree;
* ``grondslag_audit_nodes`` — the hash of every complete perfect subtree (level 0: the
  leaf hashes), written once (see ``merkle.perfect_cover``);
* ``grondslag_audit_trees`` — each tenant's current size and root;
* ``grondslag_audit_keys`` — public keys that have signed checkpoints (never private keys);
* ``grondslag_audit_checkpoints`` — signed tree heads; ``published_at`` is set once NATS
  acknowledged the witness copy;
* ``grondslag_audit_key_rotations`` — which key replaced which, when, signed by both
  (``audit.rotation``).

Who writes: the projector's audit log follower grows the trees (``grondslag.projector.audit_log``),
its checkpointer signs and publishes checkpoints (``grondslag.projector.checkpointer``), and so does
an explicit ``POST /v1/audit/checkpoints`` (``sign_now``). Everything else only reads: an
API process that needs a checkpoint nobody has signed yet asks the checkpointer for one
(``request_checkpoint``, a NOTIFY) instead of signing it itself.

The hashing, proofs and checkpoint texts are the pure modules beside this one; here they
meet the rows.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterable, Iterable
from datetime import datetime
from typing import TypeAlias
from uuid import UUID

import asyncpg

from ..persistence import ddl
from ..persistence.postgres import EVENTS_TABLE, STREAMS_TABLE
from . import merkle
from .checkpoints import Checkpoint, format_time, sign
from .rotation import KeyRotation
from .signing import SigningKey

Db: TypeAlias = asyncpg.Connection | asyncpg.Pool

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
CREATE TABLE IF NOT EXISTS grondslag_audit_key_rotations (
    new_key_id text PRIMARY KEY REFERENCES grondslag_audit_keys (key_id),
    old_key_id text NOT NULL UNIQUE REFERENCES grondslag_audit_keys (key_id),
    rotated_at timestamptz NOT NULL,
    old_signature bytea NOT NULL,
    new_signature bytea NOT NULL
);
"""

# NOTIFY channels, payload the tenant: a checkpoint was signed, publish it (to the
# checkpointer); a reader needs a checkpoint of the tenant's current tree (to the checkpointer)
CHECKPOINTS_SIGNED = "grondslag_audit_checkpoints"
CHECKPOINT_REQUESTED = "grondslag_audit_checkpoint_requests"


async def create_tables(db: Db) -> None:
    await ddl.create(db, AUDIT_DDL)


# -- keys ---------------------------------------------------------------------------------------
async def register_key(db: Db, key: SigningKey) -> None:
    await db.execute(
        "INSERT INTO grondslag_audit_keys (key_id, public_key) VALUES ($1, $2) "
        "ON CONFLICT (key_id) DO NOTHING",
        key.key_id,
        key.public_key,
    )


async def record_rotation(conn: asyncpg.Connection, new: SigningKey, rotation: KeyRotation) -> None:
    """Register the new key and the statement retiring the old one (in one transaction)."""
    async with conn.transaction():
        await register_key(conn, new)
        await conn.execute(
            "INSERT INTO grondslag_audit_key_rotations "
            "(new_key_id, old_key_id, rotated_at, old_signature, new_signature) "
            "VALUES ($1, $2, $3::text::timestamptz, $4, $5)",
            rotation.new_key_id,
            rotation.old_key_id,
            rotation.rotated_at,
            base64.b64decode(rotation.old_signature),
            base64.b64decode(rotation.new_signature),
        )


async def rotations(db: Db) -> list[KeyRotation]:
    """Every rotation statement, oldest first."""
    rows = await db.fetch(
        "SELECT r.*, o.public_key AS old_public_key, n.public_key AS new_public_key "
        "FROM grondslag_audit_key_rotations r "
        "JOIN grondslag_audit_keys o ON o.key_id = r.old_key_id "
        "JOIN grondslag_audit_keys n ON n.key_id = r.new_key_id ORDER BY r.rotated_at"
    )
    return [
        KeyRotation(
            old_key_id=row["old_key_id"],
            old_public_key=base64.b64encode(bytes(row["old_public_key"])).decode(),
            new_key_id=row["new_key_id"],
            new_public_key=base64.b64encode(bytes(row["new_public_key"])).decode(),
            rotated_at=format_time(row["rotated_at"]),
            old_signature=base64.b64encode(bytes(row["old_signature"])).decode(),
            new_signature=base64.b64encode(bytes(row["new_signature"])).decode(),
        )
        for row in rows
    ]


async def signing_keys(db: Db) -> list[asyncpg.Record]:
    """Every key that ever signed (``key_id``, ``public_key``, ``created_at``, ``retired_at``)."""
    return await db.fetch(
        "SELECT k.key_id, k.public_key, k.created_at, r.rotated_at AS retired_at "
        "FROM grondslag_audit_keys k "
        "LEFT JOIN grondslag_audit_key_rotations r ON r.old_key_id = k.key_id "
        "ORDER BY k.created_at, k.key_id"
    )


# -- the trees growing (the follower's batch transaction) ---------------------------------------
async def lock_trees(conn: asyncpg.Connection, tenants: list[str]) -> dict[str, int]:
    """The tenants' tree sizes, their rows locked until the transaction ends (made if new),
    in tenant order: two batches locking tenants they share wait, never deadlock."""
    ordered = sorted(set(tenants))
    await conn.execute(
        "INSERT INTO grondslag_audit_trees (tenant, size, root_hash) "
        "SELECT t, 0, $2 FROM unnest($1::text[]) AS t ORDER BY t ON CONFLICT (tenant) DO NOTHING",
        ordered,
        merkle.EMPTY_ROOT,
    )
    rows = await conn.fetch(
        "SELECT tenant, size FROM grondslag_audit_trees WHERE tenant = ANY($1::text[]) "
        "ORDER BY tenant FOR UPDATE",
        ordered,
    )
    return {row["tenant"]: row["size"] for row in rows}


async def notifications_of_leaves(
    conn: asyncpg.Connection, leaves: dict[str, int]
) -> dict[str, int]:
    """The notification id of each tenant's leaf ``leaves[tenant]`` (those stored)."""
    rows = await conn.fetch(
        "SELECT l.tenant, l.notification_id FROM unnest($1::text[], $2::bigint[]) AS w(t, i) "
        "JOIN grondslag_audit_leaves l ON l.tenant = w.t AND l.leaf_index = w.i",
        list(leaves),
        list(leaves.values()),
    )
    return {row["tenant"]: row["notification_id"] for row in rows}


LEAF_COLUMNS = [
    "tenant",
    "leaf_index",
    "event_id",
    "notification_id",
    "originator_id",
    "originator_version",
]


async def append_leaves(
    conn: asyncpg.Connection,
    leaves: list[tuple[object, ...]],
    nodes: list[tuple[str, int, int, bytes]],
    heads: dict[str, tuple[int, bytes]],
) -> None:
    """Add leaves (rows of ``LEAF_COLUMNS``) and the subtrees they complete, of any number
    of tenants; each tenant's new head (size, root)."""
    await conn.copy_records_to_table("grondslag_audit_leaves", records=leaves, columns=LEAF_COLUMNS)
    await conn.copy_records_to_table(
        "grondslag_audit_nodes", records=nodes, columns=["tenant", "level", "index", "hash"]
    )
    await conn.execute(
        "UPDATE grondslag_audit_trees t SET size = h.size, root_hash = h.root, updated_at = now() "
        "FROM unnest($1::text[], $2::bigint[], $3::bytea[]) AS h(tenant, size, root) "
        "WHERE t.tenant = h.tenant",
        list(heads),
        [size for size, _ in heads.values()],
        [root for _, root in heads.values()],
    )


# -- reading the trees --------------------------------------------------------------------------
async def tree_head(db: Db, tenant: str) -> tuple[int, bytes]:
    row = await db.fetchrow(
        "SELECT size, root_hash FROM grondslag_audit_trees WHERE tenant = $1", tenant
    )
    return (row["size"], bytes(row["root_hash"])) if row else (0, merkle.EMPTY_ROOT)


async def tree_heads(db: Db) -> list[tuple[str, int, bytes]]:
    """(tenant, size, root) of every tree."""
    rows = await db.fetch("SELECT tenant, size, root_hash FROM grondslag_audit_trees")
    return [(row["tenant"], row["size"], bytes(row["root_hash"])) for row in rows]


async def stored_nodes(db: Db, tenant: str, nodes: set[merkle.Node]) -> dict[merkle.Node, bytes]:
    """The hashes of the tenant's stored ``nodes``; ``LookupError`` when one is missing."""
    return (await stored_nodes_of(db, {tenant: nodes}))[tenant]


async def stored_nodes_of(
    db: Db, wanted: dict[str, set[merkle.Node]]
) -> dict[str, dict[merkle.Node, bytes]]:
    """The hashes of each tenant's stored nodes, of any number of tenants in one query;
    ``LookupError`` when one is missing."""
    keys = [(tenant, *node) for tenant, nodes in wanted.items() for node in sorted(nodes)]
    found: dict[str, dict[merkle.Node, bytes]] = {tenant: {} for tenant in wanted}
    if keys:
        tenants, levels, indexes = zip(*keys, strict=True)
        rows = await db.fetch(
            "SELECT n.tenant, n.level, n.index, n.hash FROM grondslag_audit_nodes n "
            "JOIN unnest($1::text[], $2::smallint[], $3::bigint[]) AS w(tenant, level, index) "
            "ON n.tenant = w.tenant AND n.level = w.level AND n.index = w.index",
            list(tenants),
            list(levels),
            list(indexes),
        )
        for row in rows:
            found[row["tenant"]][row["level"], row["index"]] = bytes(row["hash"])
    for tenant, nodes in wanted.items():
        if missing := nodes - found[tenant].keys():
            raise LookupError(
                f"the audit log of {tenant!r} lacks stored nodes {sorted(missing)[:3]}"
            )
    return found


async def range_hashes(db: Db, tenant: str, ranges: list[tuple[int, int]]) -> list[bytes]:
    """The subtree hash of each leaf range, from stored nodes, in one round trip."""
    nodes = await stored_nodes(db, tenant, merkle.nodes_for(ranges))
    return [merkle.range_hash(lo, hi, lambda level, i: nodes[level, i]) for lo, hi in ranges]


async def leaf_of(db: Db, tenant: str, event_id: UUID) -> tuple[int, bytes] | None:
    """The leaf index and leaf hash of an event of this tenant, once the log holds it."""
    row = await db.fetchrow(
        "SELECT l.leaf_index, n.hash FROM grondslag_audit_leaves l "
        "JOIN grondslag_audit_nodes n ON n.tenant = l.tenant AND n.level = 0 "
        "AND n.index = l.leaf_index WHERE l.tenant = $1 AND l.event_id = $2",
        tenant,
        event_id,
    )
    return (row["leaf_index"], bytes(row["hash"])) if row else None


async def logged_event(db: Db, tenant: str, event_id: UUID) -> asyncpg.Record | None:
    """The stored event (``originator_id``, ``originator_version``, ``topic``, ``state``)
    with its ``leaf_index``, once the tenant's log holds it."""
    return await db.fetchrow(
        "SELECT l.leaf_index, l.originator_id, l.originator_version, e.topic, e.state "
        f"FROM grondslag_audit_leaves l JOIN {EVENTS_TABLE} e "
        "ON e.originator_id = l.originator_id AND e.originator_version = l.originator_version "
        "WHERE l.tenant = $1 AND l.event_id = $2",
        tenant,
        event_id,
    )


async def events_with_leaves(db: Db, streams: Iterable[UUID]) -> list[asyncpg.Record]:
    """Every stored event of these streams in log order, with its ``leaf_index`` (None while
    the log has not taken it in)."""
    return await db.fetch(
        "SELECT e.originator_id, e.originator_version, e.topic, e.state, l.leaf_index "
        f"FROM {EVENTS_TABLE} e LEFT JOIN grondslag_audit_leaves l "
        "ON l.originator_id = e.originator_id AND l.originator_version = e.originator_version "
        "WHERE e.originator_id = ANY($1::uuid[]) ORDER BY e.notification_id",
        list(streams),
    )


WHOLE_LOG = f"""
SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, e.state,
       s.tenant, l.leaf_index, n.hash AS stored_leaf
FROM {EVENTS_TABLE} e
LEFT JOIN {STREAMS_TABLE} s ON s.originator_id = e.originator_id
LEFT JOIN grondslag_audit_leaves l
       ON l.originator_id = e.originator_id AND l.originator_version = e.originator_version
LEFT JOIN grondslag_audit_nodes n
       ON n.tenant = l.tenant AND n.level = 0 AND n.index = l.leaf_index
ORDER BY e.notification_id
"""


def whole_log(conn: asyncpg.Connection) -> AsyncIterable[asyncpg.Record]:
    """Every stored event in log order with its tenant, ``leaf_index`` and ``stored_leaf``
    (None where the log lacks it), through a server-side cursor (in a transaction)."""
    return conn.cursor(WHOLE_LOG, prefetch=2000)


# -- checkpoints --------------------------------------------------------------------------------
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
    db: Db, tenant: str, key_id: str | None = None
) -> tuple[Checkpoint, bytes] | None:
    """The tenant's latest signed checkpoint (by ``key_id`` when given) and its public key."""
    if key_id is None:
        return await _newest(db, "c.tenant = $1", tenant)
    return await _newest(db, "c.tenant = $1 AND c.key_id = $2", tenant, key_id)


async def checkpoint_of_size(
    db: Db, tenant: str, tree_size: int
) -> tuple[Checkpoint, bytes] | None:
    """The latest checkpoint signed over exactly ``tree_size`` leaves."""
    return await _newest(db, "c.tenant = $1 AND c.tree_size = $2", tenant, tree_size)


async def _newest(db: Db, condition: str, *args: object) -> tuple[Checkpoint, bytes] | None:
    row = await db.fetchrow(
        f"SELECT {_CHECKPOINT_COLUMNS} FROM grondslag_audit_checkpoints c "
        f"JOIN grondslag_audit_keys k USING (key_id) WHERE {condition} "
        "ORDER BY c.tree_size DESC, c.issued_at DESC LIMIT 1",
        *args,
    )
    return (checkpoint_from_row(row), bytes(row["public_key"])) if row else None


async def all_checkpoints(db: Db) -> list[tuple[Checkpoint, bytes]]:
    """Every signed checkpoint, per tenant by size (for ``grondslag audit check``)."""
    rows = await db.fetch(
        f"SELECT {_CHECKPOINT_COLUMNS} FROM grondslag_audit_checkpoints c "
        "JOIN grondslag_audit_keys k USING (key_id) ORDER BY c.tenant, c.tree_size, c.issued_at"
    )
    return [(checkpoint_from_row(row), bytes(row["public_key"])) for row in rows]


async def sign_checkpoint(db: Db, key: SigningKey, tenant: str, now: datetime) -> Checkpoint:
    """Sign the tenant's current tree head and store the checkpoint (a second signature
    over the same size in the same second is the same checkpoint)."""
    size, root = await tree_head(db, tenant)
    checkpoint = sign(key, tenant, size, root, now)
    await db.execute(
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
    stored = await checkpoint_of_size(db, tenant, size)
    assert stored is not None
    return stored[0]


async def sign_now(pool: asyncpg.Pool, key: SigningKey, tenant: str, now: datetime) -> Checkpoint:
    """An explicit "sign now": sign the head and wake the checkpointer to publish it."""
    async with pool.acquire() as conn:
        checkpoint = await sign_checkpoint(conn, key, tenant, now)
        await conn.execute("SELECT pg_notify($1, $2)", CHECKPOINTS_SIGNED, tenant)
    return checkpoint


async def request_checkpoint(db: Db, tenant: str) -> None:
    """Ask the checkpointer to sign the tenant's current tree (it answers in the table)."""
    await db.execute("SELECT pg_notify($1, $2)", CHECKPOINT_REQUESTED, tenant)


async def tenants_due(db: Db, signed_before: datetime) -> list[str]:
    """Tenants whose tree grew since their last checkpoint, or whose last checkpoint was
    signed before ``signed_before`` (or that have none)."""
    rows = await db.fetch(
        "SELECT t.tenant FROM grondslag_audit_trees t "
        "LEFT JOIN LATERAL (SELECT max(c.tree_size) AS size, max(c.issued_at) AS issued "
        "FROM grondslag_audit_checkpoints c WHERE c.tenant = t.tenant) c ON true "
        "WHERE c.size IS NULL OR t.size > c.size OR c.issued < $1 ORDER BY t.tenant",
        signed_before,
    )
    return [row["tenant"] for row in rows]


async def unpublished(db: Db, limit: int = 500) -> list[tuple[int, Checkpoint, bytes]]:
    """(row id, checkpoint, public key) of checkpoints NATS has not acknowledged, oldest first."""
    rows = await db.fetch(
        f"SELECT c.id, {_CHECKPOINT_COLUMNS} FROM grondslag_audit_checkpoints c "
        "JOIN grondslag_audit_keys k USING (key_id) WHERE c.published_at IS NULL "
        "ORDER BY c.id LIMIT $1",
        limit,
    )
    return [(row["id"], checkpoint_from_row(row), bytes(row["public_key"])) for row in rows]


async def mark_published(db: Db, checkpoint_id: int) -> None:
    await db.execute(
        "UPDATE grondslag_audit_checkpoints SET published_at = now() WHERE id = $1",
        checkpoint_id,
    )


# -- what /metrics shows ------------------------------------------------------------------------
async def unsigned_events(db: Db) -> dict[str, int]:
    """Per tenant, the logged events no signed checkpoint covers yet."""
    rows = await db.fetch(
        "SELECT t.tenant, t.size - coalesce((SELECT max(c.tree_size) "
        "FROM grondslag_audit_checkpoints c WHERE c.tenant = t.tenant), 0) AS unsigned "
        "FROM grondslag_audit_trees t ORDER BY t.tenant"
    )
    return {row["tenant"]: row["unsigned"] for row in rows}


async def unpublished_count(db: Db) -> int:
    return await db.fetchval(
        "SELECT count(*) FROM grondslag_audit_checkpoints WHERE published_at IS NULL"
    )
