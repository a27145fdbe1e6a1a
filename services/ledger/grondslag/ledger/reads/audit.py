"""The auditor's questions to the audit log: checkpoints, inclusion and consistency proofs,
export bundles — reads only, through ``audit.store``.

A proof or bundle rests on a signed checkpoint that covers its events. When none does yet
(the projector signs on a schedule), the answer asks the projector's checkpointer to sign
the tenant's tree now and waits for it a moment (``CHECKPOINT_WAIT_SECONDS``); it never
signs or writes itself. (An explicit ``POST /v1/audit/checkpoints`` signs: ``store.sign_now``.)
"""

from __future__ import annotations

import asyncio
import base64
import time
from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from ..audit import merkle, store
from ..audit.bundle import (
    FORMAT,
    Bundle,
    BundleEvent,
    BundleQuery,
    event_actor,
    event_fields,
    in_period,
    render,
    sign_bundle,
)
from ..audit.canonical import canonical_event_bytes
from ..audit.checkpoints import Checkpoint, format_time, origin, signed_note, verifier_key
from ..audit.rotation import KeyRotation
from ..audit.signing import SigningKey, public_key_pem
from ..domain.errors import DomainError, InvalidInput, NotFound
from ..domain.ids import purpose_id, standing_id, subject_id
from .streams import stream_ids
from .subjects import subject_keys


class SignedCheckpoint(msgspec.Struct, kw_only=True):
    checkpoint: Checkpoint
    key_id: str
    public_key: str  # base64 raw Ed25519
    public_key_pem: str
    note: str  # the same checkpoint as a C2SP signed note, for witness tools
    verifier_key: str  # the key as Go's note package spells it


class PublishedKey(msgspec.Struct, kw_only=True):
    """A key that signed checkpoints: in service from ``created_at`` until ``retired_at``."""

    key_id: str
    public_key: str  # base64 raw Ed25519
    public_key_pem: str
    created_at: datetime
    retired_at: datetime | None


class KeyHistory(msgspec.Struct, kw_only=True):
    """Every signing key and every rotation statement (signed by the old and the new key):
    a verifier that pinned one key reaches the others through them (``grondslag verify
    --key-history``)."""

    current_key_id: str
    keys: list[PublishedKey]
    rotations: list[KeyRotation]


class InclusionProof(msgspec.Struct, kw_only=True):
    event_id: str
    leaf_index: int
    tree_size: int
    leaf_hash: str
    audit_path: list[str]
    canonical: str  # the RFC 8785 text of the event: leaf_hash = SHA-256(0x00 ‖ its bytes)
    checkpoint: Checkpoint
    public_key: str


class ConsistencyProof(msgspec.Struct, kw_only=True):
    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str]
    first_checkpoint: Checkpoint | None
    second_checkpoint: Checkpoint | None


class NotYetLogged(Exception):
    """The event is recorded but the audit log has not taken it in yet (a second or so)."""


class NotYetSigned(Exception):
    """No signed checkpoint covers the answer yet, and the checkpointer did not sign one in
    the time waited: the projector is away, or its checkpointer cannot hear the request."""


CHECKPOINT_WAIT_SECONDS = 5.0
ASK_AGAIN_SECONDS = 1.0


def signed(checkpoint: Checkpoint, public_key: bytes) -> SignedCheckpoint:
    return SignedCheckpoint(
        checkpoint=checkpoint,
        key_id=checkpoint.key_id,
        public_key=base64.b64encode(public_key).decode(),
        public_key_pem=public_key_pem(public_key),
        note=signed_note(checkpoint, public_key),
        verifier_key=verifier_key(origin(checkpoint.tenant), public_key),
    )


async def latest(
    pool: asyncpg.Pool,
    tenant: str,
    covering: int = 0,
    key_id: str | None = None,
    *,
    ask: asyncpg.Pool | None = None,
) -> tuple[Checkpoint, bytes]:
    """The latest checkpoint holding at least ``covering`` leaves (signed by ``key_id``
    when given); when there is none, the checkpointer is asked to sign one, and waited for.
    ``ask`` is the primary when ``pool`` is a replica (which cannot notify)."""
    if found := await _covering(pool, tenant, covering, key_id):
        return found
    deadline, asked, pause = time.monotonic() + CHECKPOINT_WAIT_SECONDS, 0.0, 0.01
    while time.monotonic() < deadline:
        if time.monotonic() - asked >= ASK_AGAIN_SECONDS:
            # again each second: a request made while the checkpointer was not listening is
            # lost, and another key's checkpoint of the same size may have taken its second
            await store.request_checkpoint(ask or pool, tenant)
            asked, pause = time.monotonic(), 0.01
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.1)
        if found := await _covering(pool, tenant, covering, key_id):
            return found
    by = f" signed by key {key_id}" if key_id else ""
    raise NotYetSigned(
        f"no checkpoint of this tenant's audit log covers {covering} events{by} yet, and the "
        f"projector's checkpointer, asked for one, signed none within "
        f"{CHECKPOINT_WAIT_SECONDS:g} s"
    )


async def _covering(
    pool: asyncpg.Pool, tenant: str, covering: int, key_id: str | None
) -> tuple[Checkpoint, bytes] | None:
    found = await store.latest_checkpoint(pool, tenant, key_id)
    return found if found is not None and found[0].tree_size >= covering else None


async def key_history(pool: asyncpg.Pool, current: SigningKey) -> KeyHistory:
    rows = await store.signing_keys(pool)
    return KeyHistory(
        current_key_id=current.key_id,
        keys=[
            PublishedKey(
                key_id=row["key_id"],
                public_key=base64.b64encode(bytes(row["public_key"])).decode(),
                public_key_pem=public_key_pem(bytes(row["public_key"])),
                created_at=row["created_at"],
                retired_at=row["retired_at"],
            )
            for row in rows
        ],
        rotations=await store.rotations(pool),
    )


async def inclusion(
    pool: asyncpg.Pool,
    tenant: str,
    eid: UUID,
    tree_size: int | None = None,
    *,
    ask: asyncpg.Pool | None = None,
) -> InclusionProof:
    row = await store.logged_event(pool, tenant, eid)
    if row is None:
        raise NotFound(
            f"no event {eid} in this tenant's audit log (a new event is logged within seconds)"
        )
    index = row["leaf_index"]
    if tree_size is None:
        checkpoint, public_key = await latest(pool, tenant, covering=index + 1, ask=ask)
    else:
        found = await store.checkpoint_of_size(pool, tenant, tree_size)
        if found is None:
            raise NotFound(f"no signed checkpoint of tree size {tree_size}")
        checkpoint, public_key = found
        if index >= tree_size:
            raise DomainError(
                f"event {eid} is leaf {index}, after the checkpoint of size {tree_size}",
                field="tree_size",
            )
    canonical = canonical_event_bytes(
        row["originator_id"], row["originator_version"], row["topic"], bytes(row["state"])
    )
    size = checkpoint.tree_size
    path = await store.range_hashes(pool, tenant, merkle.inclusion_ranges(index, size))
    return InclusionProof(
        event_id=str(eid),
        leaf_index=index,
        tree_size=size,
        leaf_hash=merkle.leaf_hash(canonical).hex(),
        audit_path=[p.hex() for p in path],
        canonical=canonical.decode(),
        checkpoint=checkpoint,
        public_key=base64.b64encode(public_key).decode(),
    )


async def consistency(pool: asyncpg.Pool, tenant: str, first: int, second: int) -> ConsistencyProof:
    if first > second:
        raise InvalidInput(f"first ({first}) must not exceed second ({second})", field="first")
    size, _ = await store.tree_head(pool, tenant)
    if second > size:
        raise DomainError(
            f"this tenant's audit log holds {size} events; second={second} is beyond it",
            field="second",
        )
    ranges = merkle.consistency_ranges(first, second)
    roots = [(0, n) for n in (first, second) if n]  # the empty tree's root is a constant
    hashes = await store.range_hashes(pool, tenant, ranges + roots)
    proof, root_of = hashes[: len(ranges)], dict(zip(roots, hashes[len(ranges) :], strict=True))
    first_root = root_of.get((0, first), merkle.EMPTY_ROOT)
    second_root = root_of.get((0, second), merkle.EMPTY_ROOT)
    first_signed = await store.checkpoint_of_size(pool, tenant, first)
    second_signed = await store.checkpoint_of_size(pool, tenant, second)
    return ConsistencyProof(
        first=first,
        second=second,
        first_root=first_root.hex(),
        second_root=second_root.hex(),
        proof=[p.hex() for p in proof],
        first_checkpoint=first_signed[0] if first_signed else None,
        second_checkpoint=second_signed[0] if second_signed else None,
    )


async def export(
    pool: asyncpg.Pool,
    key: SigningKey,
    tenant: str,
    subject_ref: str,
    now: datetime,
    purpose: str | None = None,
    recorded_from: datetime | None = None,
    recorded_to: datetime | None = None,
    personal_data: bool = False,
    *,
    ask: asyncpg.Pool | None = None,
) -> bytes:
    """The bundle of one subject (see ``audit.bundle``), rendered and signed; with
    ``personal_data`` it carries the subject's sealing key (birth date: the age rules)."""
    sid = subject_id(tenant, subject_ref)
    standings = [
        (stream, code)
        for stream, code in await stream_ids(pool, tenant, "standing", subject_ref)
        if purpose is None or code == purpose
    ]
    kinds: dict[UUID, tuple[str, str | None]] = {sid: ("subject", None)}
    for stream, code in standings:
        kinds[stream] = ("standing", code)
        kinds[purpose_id(tenant, code)] = ("purpose", code)
    if purpose is not None:
        kinds[purpose_id(tenant, purpose)] = ("purpose", purpose)
        kinds.setdefault(standing_id(tenant, subject_ref, purpose), ("standing", purpose))
    rows = await store.events_with_leaves(pool, kinds)
    if not any(row["originator_id"] == sid for row in rows):
        raise NotFound(f"subject {subject_ref!r} is not registered")
    if purpose is not None and not any(
        row["originator_id"] == purpose_id(tenant, purpose) for row in rows
    ):
        raise NotFound(f"purpose {purpose!r} is not in the register")
    if any(row["leaf_index"] is None for row in rows):
        raise NotYetLogged(subject_ref)
    entries = []
    for row in rows:
        kind, code = kinds[row["originator_id"]]
        canonical = canonical_event_bytes(
            row["originator_id"], row["originator_version"], row["topic"], bytes(row["state"])
        )
        eid, type_, recorded_at = event_fields(canonical)
        period = (recorded_from, recorded_to)
        if kind == "standing" and not in_period(datetime.fromisoformat(recorded_at), period):
            continue
        entries.append((row["leaf_index"], eid, kind, code, type_, recorded_at, canonical))
    entries.sort(key=lambda entry: entry[0])
    covering = entries[-1][0] + 1 if entries else 0
    checkpoint, public_key = await latest(pool, tenant, covering, key.key_id, ask=ask)
    size = checkpoint.tree_size
    all_ranges = [merkle.inclusion_ranges(entry[0], size) for entry in entries]
    nodes = await store.stored_nodes(
        pool, tenant, merkle.nodes_for(r for rs in all_ranges for r in rs)
    )
    events = [
        BundleEvent(
            event_id=str(eid),
            stream=kind,  # type: ignore[arg-type]
            purpose=code,
            type=type_,
            recorded_at=recorded_at,
            leaf_index=index,
            leaf_hash=merkle.leaf_hash(canonical).hex(),
            audit_path=[
                merkle.range_hash(lo, hi, lambda level, i: nodes[level, i]).hex()
                for lo, hi in ranges
            ],
            canonical=canonical.decode(),
            actor=event_actor(canonical),
        )
        for (index, eid, kind, code, type_, recorded_at, canonical), ranges in zip(
            entries, all_ranges, strict=True
        )
    ]
    bundle = Bundle(
        format=FORMAT,
        tenant=tenant,
        query=BundleQuery(
            subject_ref=subject_ref,
            purpose=purpose,
            recorded_from=recorded_from.isoformat() if recorded_from else None,
            recorded_to=recorded_to.isoformat() if recorded_to else None,
        ),
        exported_at=format_time(now),
        key_id=checkpoint.key_id,
        public_key=base64.b64encode(public_key).decode(),
        checkpoint=checkpoint,
        events=events,
        subject_key=await _subject_key(pool, sid) if personal_data else None,
    )
    return render(sign_bundle(bundle, key))


async def _subject_key(pool: asyncpg.Pool, sid: UUID) -> str | None:
    """None when the subject was erased (its key destroyed)."""
    key = (await subject_keys(pool, [sid])).get(sid)
    return base64.b64encode(key).decode() if key else None
