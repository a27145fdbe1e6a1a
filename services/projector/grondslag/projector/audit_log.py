"""The audit log grows: every event of the store becomes a leaf of its tenant's Merkle tree.

The log follower appends the leaves of a batch, in notification order, in the batch's own
transaction: a crash never leaves a leaf out or in twice. The tree row of each tenant is
locked while it grows, and the frontier (the roots of the perfect subtrees that make up
the tree so far) is read back from the stored nodes, so nothing but the database holds
state. The tree heads are signed by the checkpointer (``checkpointer.py``).
"""

from __future__ import annotations

from collections import defaultdict

import asyncpg

from grondslag.ledger.audit import merkle, store
from grondslag.ledger.audit.canonical import canonical_event_bytes
from grondslag.ledger.domain.ids import event_id
from grondslag.ledger.persistence.postgres import STREAMS_TABLE

NAME = "audit_log"


class StreamWithoutTenant(RuntimeError):
    """An event of a stream the stream index does not know: never skipped, never guessed."""


class OutOfLogOrder(RuntimeError):
    """An event older than the tenant's last leaf: its leaves are in notification order, so
    a quarantine holds the whole tenant, never one of its streams alone."""


async def append(conn: asyncpg.Connection, rows: list[tuple[int, asyncpg.Record]]) -> None:
    """The follower's handler: add the batch's events to their tenants' trees."""
    tenants = {
        row["originator_id"]: row["tenant"]
        for row in await conn.fetch(
            f"SELECT originator_id, tenant FROM {STREAMS_TABLE} "
            "WHERE originator_id = ANY($1::uuid[])",
            list({row["originator_id"] for _, row in rows}),
        )
    }
    per_tenant: dict[str, list[asyncpg.Record]] = defaultdict(list)
    for _, row in rows:
        tenant = tenants.get(row["originator_id"])
        if tenant is None:
            raise StreamWithoutTenant(
                f"event {row['notification_id']} belongs to stream {row['originator_id']}, "
                "which the stream index does not know"
            )
        per_tenant[tenant].append(row)
    await _extend(conn, per_tenant)


async def _extend(conn: asyncpg.Connection, per_tenant: dict[str, list[asyncpg.Record]]) -> None:
    """Grow each tenant's tree by its events: a few statements for the whole batch, however
    many tenants it holds."""
    sizes = await store.lock_trees(conn, list(per_tenant))
    grown = {tenant: size for tenant, size in sizes.items() if size}
    lasts = await store.notifications_of_leaves(conn, {t: s - 1 for t, s in grown.items()})
    for tenant, last in sorted(lasts.items()):
        first = per_tenant[tenant][0]["notification_id"]
        if last >= first:
            raise OutOfLogOrder(
                f"notification {first} would follow notification {last} in tenant {tenant}'s tree"
            )
    covers = {tenant: merkle.perfect_cover(0, size) for tenant, size in grown.items()}
    found = await store.stored_nodes_of(conn, {t: set(cover) for t, cover in covers.items()})
    leaves: list[tuple[object, ...]] = []
    nodes: list[tuple[str, int, int, bytes]] = []
    heads: dict[str, tuple[int, bytes]] = {}
    for tenant, events in sorted(per_tenant.items()):
        tree = merkle.CompactTree.restore(
            (level, found[tenant][level, index]) for level, index in covers.get(tenant, [])
        )
        for row in events:
            data = canonical_event_bytes(
                row["originator_id"], row["originator_version"], row["topic"], bytes(row["state"])
            )
            leaf = merkle.leaf_hash(data)
            index = tree.size
            nodes += [(tenant, *node) for node in merkle.completed_nodes(index, leaf, tree.state())]
            tree.append(leaf)
            eid = event_id(row["originator_id"], row["originator_version"])
            leaves.append(
                (
                    tenant,
                    index,
                    eid,
                    row["notification_id"],
                    row["originator_id"],
                    row["originator_version"],
                )
            )
        heads[tenant] = (tree.size, tree.root())
    await store.append_leaves(conn, leaves, nodes, heads)
