"""Rotation of the audit signing key, announced in a statement both keys sign.

When ``grondslag audit rotate-key`` replaces the signing key, it signs this text with the
old key (the old key vouches for its successor: whoever trusts the old key may trust the
new one) and with the new key (its holder has the private key)::

    grondslag audit key rotation
    old <old key id> <old public key, base64>
    new <new key id> <new public key, base64>
    <rotated_at, RFC 3339 UTC to the second>

each line ending in a newline. From ``rotated_at`` on, the old key is *retired*: the
checkpoints it signed until then stay valid; a checkpoint it signs later is not accepted
(a retired key that leaks cannot forge new history). A verifier that pinned one key walks
the published rotations (``GET /v1/audit/keys``) forwards and backwards from it to every
key it may trust, each with the time it was retired (``trusted_keys``).
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

import msgspec

from .checkpoints import Checkpoint, checkpoint_problem, format_time
from .signing import SigningKey, key_id_of, verify_signature

HEADER = "grondslag audit key rotation"


class KeyRotation(msgspec.Struct, frozen=True, kw_only=True):
    """The statement that ``new_key_id`` replaced ``old_key_id`` at ``rotated_at``."""

    old_key_id: str
    old_public_key: str  # base64, raw 32-byte Ed25519
    new_key_id: str
    new_public_key: str
    rotated_at: str  # RFC 3339, UTC, whole seconds
    old_signature: str  # base64 Ed25519 over body(), by the old key
    new_signature: str  # base64 Ed25519 over body(), by the new key

    def body(self) -> bytes:
        return rotation_body(
            self.old_key_id,
            self.old_public_key,
            self.new_key_id,
            self.new_public_key,
            self.rotated_at,
        )


class TrustedKey(msgspec.Struct, frozen=True, kw_only=True):
    public_key: bytes
    retired_at: str | None  # None: the current key


def rotation_body(old_id: str, old_public: str, new_id: str, new_public: str, at: str) -> bytes:
    return f"{HEADER}\nold {old_id} {old_public}\nnew {new_id} {new_public}\n{at}\n".encode()


def sign_rotation(old: SigningKey, new: SigningKey, at: datetime) -> KeyRotation:
    old_public = base64.b64encode(old.public_key).decode()
    new_public = base64.b64encode(new.public_key).decode()
    rotated_at = format_time(at)
    body = rotation_body(old.key_id, old_public, new.key_id, new_public, rotated_at)
    return KeyRotation(
        old_key_id=old.key_id,
        old_public_key=old_public,
        new_key_id=new.key_id,
        new_public_key=new_public,
        rotated_at=rotated_at,
        old_signature=base64.b64encode(old.sign(body)).decode(),
        new_signature=base64.b64encode(new.sign(body)).decode(),
    )


def _raw(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not base64") from None
    return raw


def rotation_problem(rotation: KeyRotation) -> str | None:
    """None when the statement is well formed and signed by both keys; else what is wrong."""
    try:
        old = _raw(rotation.old_public_key, "old_public_key")
        new = _raw(rotation.new_public_key, "new_public_key")
        old_signature = _raw(rotation.old_signature, "old_signature")
        new_signature = _raw(rotation.new_signature, "new_signature")
    except ValueError as error:
        return f"rotation to {rotation.new_key_id}: {error}"
    if len(old) != 32 or key_id_of(old) != rotation.old_key_id:
        return f"rotation to {rotation.new_key_id}: old_key_id is not the id of old_public_key"
    if len(new) != 32 or key_id_of(new) != rotation.new_key_id:
        return f"rotation to {rotation.new_key_id}: new_key_id is not the id of new_public_key"
    try:
        at = datetime.strptime(rotation.rotated_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return f"rotation to {rotation.new_key_id}: rotated_at is not RFC 3339 UTC"
    if format_time(at) != rotation.rotated_at:
        return f"rotation to {rotation.new_key_id}: rotated_at is not in its canonical form"
    if not verify_signature(old, old_signature, rotation.body()):
        return f"rotation to {rotation.new_key_id}: the old key's signature does not verify"
    if not verify_signature(new, new_signature, rotation.body()):
        return f"rotation to {rotation.new_key_id}: the new key's signature does not verify"
    return None


def trusted_keys(pinned: bytes, rotations: list[KeyRotation]) -> dict[str, TrustedKey]:
    """Every key reachable from ``pinned`` through verified rotations (either way), by key
    id, each with the time it was retired. A statement that does not verify is passed by."""
    valid = [r for r in rotations if rotation_problem(r) is None]
    retired = {r.old_key_id: r.rotated_at for r in valid}
    publics = {r.old_key_id: r.old_public_key for r in valid}
    publics |= {r.new_key_id: r.new_public_key for r in valid}
    start = key_id_of(pinned)
    reached, frontier = {start}, [start]
    while frontier:
        key_id = frontier.pop()
        for r in valid:
            for a, b in ((r.old_key_id, r.new_key_id), (r.new_key_id, r.old_key_id)):
                if a == key_id and b not in reached:
                    reached.add(b)
                    frontier.append(b)
    keys = {start: TrustedKey(public_key=pinned, retired_at=retired.get(start))}
    for key_id in reached - {start}:
        keys[key_id] = TrustedKey(
            public_key=base64.b64decode(publics[key_id]), retired_at=retired.get(key_id)
        )
    return keys


def retired_problem(checkpoint: Checkpoint, retired_at: str | None) -> str | None:
    """A checkpoint signed by a retired key after its retirement is not accepted."""
    if retired_at is not None and checkpoint.issued_at > retired_at:
        return (
            f"checkpoint issued {checkpoint.issued_at} is signed by key {checkpoint.key_id}, "
            f"retired at {retired_at}"
        )
    return None


def trusted_checkpoint_problem(checkpoint: Checkpoint, keys: dict[str, TrustedKey]) -> str | None:
    """None when ``checkpoint`` is signed by one of ``keys`` while it was in service."""
    trusted = keys.get(checkpoint.key_id)
    if trusted is None:
        return f"checkpoint key {checkpoint.key_id} is not the pinned key nor its successor"
    return checkpoint_problem(checkpoint, trusted.public_key) or retired_problem(
        checkpoint, trusted.retired_at
    )
