"""``grondslag audit check``: recompute every tenant's tree from the event store and hold it
against the audit log and every signed checkpoint.

The store is read once, in notification order, through a server-side cursor (memory stays
flat however long the log). For each event: its leaf hash is recomputed from the stored
row and compared with the stored leaf; each time a tenant's recomputed tree reaches the
size of one of its checkpoints, the root is compared and the signature verified. An
edited event shows as the first leaf whose hash differs; an edit that also rewrote the
stored leaves and nodes shows as the first checkpoint whose root no longer matches, with
the range of leaves the changed event lies in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import asyncpg

from grondslag.ledger.audit import merkle, store
from grondslag.ledger.audit.canonical import canonical_event_bytes
from grondslag.ledger.audit.checkpoints import Checkpoint, checkpoint_problem
from grondslag.ledger.audit.rotation import retired_problem, rotation_problem
from grondslag.ledger.domain.ids import event_id


@dataclass
class TenantReport:
    tenant: str
    events: int = 0
    checkpoints: int = 0
    unlogged: int = 0  # recorded after the audit log's position: not yet in a tree
    problem: str | None = None
    tree: merkle.CompactTree = field(default_factory=merkle.CompactTree)
    last_matched: int = 0


@dataclass
class Report:
    tenants: dict[str, TenantReport] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


async def check(
    conn: asyncpg.Connection, progress: Callable[[int, int], None] | None = None
) -> Report:
    """``progress(done, total)``, when given, hears how many of the store's events were
    read, every thousand events and at the end."""
    report = Report()
    pending: dict[str, list[tuple[Checkpoint, bytes]]] = defaultdict(list)

    def fail(tenant: TenantReport, problem: str) -> None:
        tenant.problem = problem
        report.problems.append(f"tenant {tenant.tenant}: {problem}")

    # one snapshot for the events, the log's heads and the checkpoints: a projector logging
    # meanwhile changes nothing the check sees
    async with conn.transaction(readonly=True, isolation="repeatable_read"):
        rotations = await store.rotations(conn)
        for rotation in rotations:
            if problem := rotation_problem(rotation):
                report.problems.append(f"signing key history: {problem}")
        retired = {rotation.old_key_id: rotation.rotated_at for rotation in rotations}
        for checkpoint, public_key in await store.all_checkpoints(conn):
            pending[checkpoint.tenant].append((checkpoint, public_key))
            # a key's checkpoints stay valid after its rotation; none may be signed later
            if problem := retired_problem(checkpoint, retired.get(checkpoint.key_id)):
                tenant = report.tenants.setdefault(
                    checkpoint.tenant, TenantReport(checkpoint.tenant)
                )
                if not tenant.problem:
                    fail(tenant, f"the checkpoint of size {checkpoint.tree_size}: {problem}")
        heads = await store.tree_heads(conn)
        total = done = 0
        if progress is not None:
            total = await conn.fetchval(f"SELECT count(*) FROM {store.EVENTS_TABLE}")
            progress(0, total)
        async for row in store.whole_log(conn):
            done += 1
            if progress is not None and done % 1000 == 0:
                progress(done, max(total, done))
            name = row["tenant"]
            eid = event_id(row["originator_id"], row["originator_version"])
            where = f"event {eid} (notification {row['notification_id']})"
            if name is None:
                report.problems.append(f"{where}: its stream is in no tenant's index")
                continue
            tenant = report.tenants.setdefault(name, TenantReport(name))
            if tenant.problem:
                continue
            tenant.events += 1
            if row["leaf_index"] is None:
                tenant.unlogged += 1
                continue
            if tenant.unlogged:
                fail(tenant, f"{where} is logged, but an event before it is not")
                continue
            index = tenant.tree.size
            where += f", leaf {index}"
            if row["leaf_index"] != index:
                fail(tenant, f"{where}: the audit log has it as leaf {row['leaf_index']}")
                continue
            try:
                data = canonical_event_bytes(
                    row["originator_id"],
                    row["originator_version"],
                    row["topic"],
                    bytes(row["state"]),
                )
            except ValueError as error:
                fail(tenant, f"{where} differs: its stored state is not canonical JSON ({error})")
                continue
            leaf = merkle.leaf_hash(data)
            if row["stored_leaf"] is None or bytes(row["stored_leaf"]) != leaf:
                fail(tenant, f"{where} differs from the audit log: the stored event was changed")
                continue
            tenant.tree.append(leaf)
            _hold_against_checkpoints(tenant, pending[name], fail)
    if progress is not None:
        progress(done, max(total, done))
    for name, remaining in pending.items():
        tenant = report.tenants.setdefault(name, TenantReport(name))
        if not tenant.problem:
            _hold_against_checkpoints(tenant, remaining, fail)
        if remaining and not tenant.problem:
            checkpoint = remaining[0][0]
            fail(
                tenant,
                f"the checkpoint of size {checkpoint.tree_size} ({checkpoint.issued_at}) is "
                f"larger than the {tenant.tree.size} logged events of the store: events "
                "were removed",
            )
    for name, size, root in heads:
        tenant = report.tenants.setdefault(name, TenantReport(name))
        if tenant.problem:
            continue
        if size > tenant.tree.size:
            fail(
                tenant,
                f"the audit log holds {size} events but the store only "
                f"{tenant.tree.size} of them: events were removed (leaves "
                f"{tenant.tree.size}..{size - 1})",
            )
        elif size == tenant.tree.size and root != tenant.tree.root():
            fail(tenant, "the audit log's current root does not match the store's events")
    return report


def _hold_against_checkpoints(
    tenant: TenantReport,
    pending: list[tuple[Checkpoint, bytes]],
    fail: Callable[[TenantReport, str], None],
) -> None:
    """Check the checkpoints the recomputed tree has reached (its size; 0 for the empty)."""
    size = tenant.tree.size
    while pending and pending[0][0].tree_size <= size:
        checkpoint, public_key = pending.pop(0)
        root = tenant.tree.root() if checkpoint.tree_size else merkle.EMPTY_ROOT
        if problem := checkpoint_problem(checkpoint, public_key):
            fail(tenant, f"the checkpoint of size {checkpoint.tree_size}: {problem}")
            return
        if root.hex() != checkpoint.root_hash:
            fail(
                tenant,
                f"the checkpoint of size {checkpoint.tree_size} ({checkpoint.issued_at}) does "
                "not match the store: an event among leaves "
                f"{tenant.last_matched}..{checkpoint.tree_size - 1} was changed (and the "
                "audit log rewritten with it)",
            )
            return
        tenant.checkpoints += 1
        tenant.last_matched = checkpoint.tree_size
