"""The audit log: every event of the store becomes a leaf of its tenant's Merkle tree, and
the tree heads are signed as checkpoints and published to NATS for witnesses to keep.

The log follower appends the leaves of a batch, in notification order, in the batch's own
transaction: a crash never leaves a leaf out or in twice. The tree row of each tenant is
locked while it grows, and the frontier (the roots of the perfect subtrees that make up
the tree so far) is read back from the stored nodes, so nothing but the database holds
state. The checkpointer signs, every ``interval`` seconds, each tenant whose tree grew
since its last checkpoint (and an unchanged one once per ``heartbeat``), then publishes
every checkpoint NATS has not acknowledged yet — also those API processes signed on
demand, which wake it with a NOTIFY.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
from grondslag.ledger.audit import merkle
from grondslag.ledger.audit.canonical import canonical_event_bytes
from grondslag.ledger.audit.checkpoints import Checkpoint, signed_note
from grondslag.ledger.audit.signing import SigningKey
from grondslag.ledger.audit.store import (
    CHECKPOINTS_SIGNED,
    checkpoint_from_row,
    register_key,
    sign_checkpoint,
    stored_nodes,
)
from grondslag.ledger.domain.ids import event_id
from grondslag.ledger.persistence.postgres import STREAMS_TABLE

from .messages import TYPE_PREFIX, AuditCheckpoint, CloudEvent, nats_subject

log = logging.getLogger("grondslag.audit")
NAME = "audit_log"
ACK_TIMEOUT_SECONDS = 10.0
_encoder = msgspec.json.Encoder()


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
    for tenant, events in sorted(per_tenant.items()):
        await _extend(conn, tenant, events)


async def _extend(conn: asyncpg.Connection, tenant: str, events: list[asyncpg.Record]) -> None:
    await conn.execute(
        "INSERT INTO grondslag_audit_trees (tenant, size, root_hash) VALUES ($1, 0, $2) "
        "ON CONFLICT (tenant) DO NOTHING",
        tenant,
        merkle.EMPTY_ROOT,
    )
    size = await conn.fetchval(
        "SELECT size FROM grondslag_audit_trees WHERE tenant = $1 FOR UPDATE", tenant
    )
    if size:
        last = await conn.fetchval(
            "SELECT notification_id FROM grondslag_audit_leaves "
            "WHERE tenant = $1 AND leaf_index = $2",
            *(tenant, size - 1),
        )
        if last is not None and last >= events[0]["notification_id"]:
            raise OutOfLogOrder(
                f"notification {events[0]['notification_id']} would follow notification "
                f"{last} in tenant {tenant}'s tree"
            )
    tree = await _frontier(conn, tenant, size)
    leaves, nodes = [], []
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
    await conn.copy_records_to_table(
        "grondslag_audit_leaves",
        records=leaves,
        columns=[
            "tenant",
            "leaf_index",
            "event_id",
            "notification_id",
            "originator_id",
            "originator_version",
        ],
    )
    await conn.copy_records_to_table(
        "grondslag_audit_nodes", records=nodes, columns=["tenant", "level", "index", "hash"]
    )
    await conn.execute(
        "UPDATE grondslag_audit_trees SET size = $2, root_hash = $3, updated_at = now() "
        "WHERE tenant = $1",
        tenant,
        tree.size,
        tree.root(),
    )


async def _frontier(conn: asyncpg.Connection, tenant: str, size: int) -> merkle.CompactTree:
    if size == 0:
        return merkle.CompactTree()
    cover = merkle.perfect_cover(0, size)
    found = await stored_nodes(conn, tenant, set(cover))
    return merkle.CompactTree.restore((level, found[level, index]) for level, index in cover)


def checkpoint_message(checkpoint: Checkpoint, public_key: bytes) -> tuple[str, CloudEvent]:
    """The witness copy of a checkpoint, on ``grondslag.<tenant>.audit.checkpoint``."""
    data = AuditCheckpoint(
        **msgspec.structs.asdict(checkpoint),
        public_key=base64.b64encode(public_key).decode(),
        note=signed_note(checkpoint, public_key),
    )
    message = CloudEvent(
        id=f"checkpoint:{checkpoint.tenant}:{checkpoint.tree_size}:{checkpoint.issued_at}",
        source=f"urn:grondslag:{checkpoint.tenant}",
        type=f"{TYPE_PREFIX}audit.checkpoint.v1",
        subject=str(checkpoint.tree_size),
        time=datetime.strptime(checkpoint.issued_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC),
        data=data,
    )
    return nats_subject(checkpoint.tenant, "audit.checkpoint"), message


class Checkpointer:
    """Signs grown trees every ``interval`` seconds and on request; publishes to NATS."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        dsn: str,
        key: SigningKey,
        interval: float,
        nats_url: str | None = None,
        heartbeat: float = 86_400.0,
    ):
        self.pool, self.dsn, self.key, self.interval = pool, dsn, key, interval
        self.heartbeat = heartbeat
        self.nats_url = nats_url
        self.js: Any = None
        self._nc: Any = None
        self._wake = asyncio.Event()

    async def setup(self) -> None:
        await register_key(self.pool, self.key)

    async def sign_due(self, now: datetime | None = None) -> list[Checkpoint]:
        """Sign every tenant whose tree grew since its last checkpoint, and every tenant
        whose last checkpoint is older than the heartbeat (so that witnesses see the log is
        alive without a row a minute per idle tenant); answers the new checkpoints."""
        moment = now or datetime.now(UTC)
        rows = await self.pool.fetch(
            "SELECT t.tenant FROM grondslag_audit_trees t "
            "LEFT JOIN LATERAL (SELECT max(c.tree_size) AS size, max(c.issued_at) AS issued "
            "FROM grondslag_audit_checkpoints c WHERE c.tenant = t.tenant) c ON true "
            "WHERE c.size IS NULL OR t.size > c.size OR c.issued < $1 ORDER BY t.tenant",
            moment - timedelta(seconds=self.heartbeat),
        )
        signed = []
        for row in rows:
            async with self.pool.acquire() as conn:
                signed.append(await sign_checkpoint(conn, self.key, row["tenant"], moment))
        return signed

    async def publish_pending(self) -> int:
        """Publish checkpoints NATS has not acknowledged; answers how many went out."""
        if self.nats_url is None:
            return 0
        if self.js is None:
            from .relay import connect, ensure_stream

            self._nc = await connect(self.nats_url)
            self.js = self._nc.jetstream()
            await ensure_stream(self.js)
        rows = await self.pool.fetch(
            "SELECT c.id, c.tenant, c.tree_size, c.root_hash, c.issued_at, c.key_id, "
            "c.signature, k.public_key FROM grondslag_audit_checkpoints c "
            "JOIN grondslag_audit_keys k USING (key_id) WHERE c.published_at IS NULL "
            "ORDER BY c.id LIMIT 500"
        )
        for row in rows:
            subject, message = checkpoint_message(
                checkpoint_from_row(row), bytes(row["public_key"])
            )
            await self.js.publish(
                subject,
                _encoder.encode(message),
                headers={"Nats-Msg-Id": message.id},
                timeout=ACK_TIMEOUT_SECONDS,
            )
            await self.pool.execute(
                "UPDATE grondslag_audit_checkpoints SET published_at = now() WHERE id = $1",
                row["id"],
            )
        return len(rows)

    async def run(self) -> None:
        listener = await self._listen()
        try:
            while True:
                try:
                    await self.sign_due()
                    await self.publish_pending()
                except asyncio.CancelledError:
                    raise
                except Exception as error:  # NATS or the database away: try again next tick
                    log.warning("checkpointer: %r; retrying", error)
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.interval)
        finally:
            if listener is not None:
                await listener.close()
            if self._nc is not None:
                with contextlib.suppress(Exception):
                    await self._nc.close()

    def wake(self) -> None:
        """Publish (and sign what grew) now: an API process signed a checkpoint."""
        self._wake.set()

    async def _listen(self) -> asyncpg.Connection | None:
        try:
            conn = await asyncpg.connect(self.dsn)
        except Exception as error:
            log.warning("checkpointer: LISTEN unavailable (%s); signing on schedule", error)
            return None
        await conn.add_listener(CHECKPOINTS_SIGNED, lambda *_: self.wake())
        return conn
