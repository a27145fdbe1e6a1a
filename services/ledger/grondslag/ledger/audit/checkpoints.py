"""Signed checkpoints: "at this time, the audit log of this tenant had this size and root".

The signed message is the checkpoint's *body*, UTF-8 text in the layout of a C2SP
tlog-checkpoint (origin, tree size, base64 root hash) with the signing time as one extra
line::

    grondslag/<tenant>
    <tree size, decimal>
    <root hash, base64>
    <issued_at, RFC 3339 UTC to the second, e.g. 2026-11-22T09:30:00Z>

each line ending in a newline. ``signature`` is Ed25519 over those bytes, base64-encoded.
A verifier needs nothing but this module's ``checkpoint_problem`` and the public key.

The body is also a C2SP tlog-checkpoint (c2sp.org/tlog-checkpoint: origin, size, root, one
extension line), so the same signature makes a C2SP signed note (c2sp.org/signed-note):
the body, a blank line, and ``— <key name> base64(key ID ‖ signature)`` with the key
name the origin and key ID = SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]. Witness tools
of that ecosystem (Go's ``golang.org/x/mod/sumdb/note``, transparency-dev witnesses) verify
``signed_note`` with ``verifier_key`` (``<name>+<key ID hex>+base64(0x01 ‖ public key)``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import UTC, datetime

import msgspec

from .signing import SigningKey, key_id_of, verify_signature


class Checkpoint(msgspec.Struct, frozen=True, kw_only=True):
    """A signed tree head of one tenant's audit log."""

    tenant: str
    tree_size: int
    root_hash: str  # hex
    issued_at: str  # RFC 3339, UTC, whole seconds
    key_id: str
    signature: str  # base64 Ed25519 over body()

    def body(self) -> bytes:
        return checkpoint_body(self.tenant, self.tree_size, self.root_hash, self.issued_at)


def origin(tenant: str) -> str:
    """The checkpoint's first line, and the key name of its signed note."""
    return f"grondslag/{tenant}"


def checkpoint_body(tenant: str, tree_size: int, root_hash_hex: str, issued_at: str) -> bytes:
    root = base64.b64encode(bytes.fromhex(root_hash_hex)).decode()
    return f"{origin(tenant)}\n{tree_size}\n{root}\n{issued_at}\n".encode()


_NOTE_ED25519 = b"\x01"  # the signed-note signature type of Ed25519


def note_key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + _NOTE_ED25519 + public_key).digest()[:4]


def note_signature_line(name: str, public_key: bytes, signature: bytes) -> str:
    blob = base64.b64encode(note_key_id(name, public_key) + signature).decode()
    return f"\u2014 {name} {blob}\n"


def verifier_key(name: str, public_key: bytes) -> str:
    """The key in the notation of Go's note package: ``name+keyid+base64(0x01 ‖ key)``."""
    key = base64.b64encode(_NOTE_ED25519 + public_key).decode()
    return f"{name}+{note_key_id(name, public_key).hex()}+{key}"


def signed_note(checkpoint: Checkpoint, public_key: bytes) -> str:
    """The checkpoint as a C2SP signed note (same signature, other spelling)."""
    signature = base64.b64decode(checkpoint.signature)
    line = note_signature_line(origin(checkpoint.tenant), public_key, signature)
    return checkpoint.body().decode() + "\n" + line


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sign(key: SigningKey, tenant: str, tree_size: int, root: bytes, issued: datetime) -> Checkpoint:
    issued_at = format_time(issued)
    body = checkpoint_body(tenant, tree_size, root.hex(), issued_at)
    return Checkpoint(
        tenant=tenant,
        tree_size=tree_size,
        root_hash=root.hex(),
        issued_at=issued_at,
        key_id=key.key_id,
        signature=base64.b64encode(key.sign(body)).decode(),
    )


def checkpoint_problem(checkpoint: Checkpoint, public_key: bytes) -> str | None:
    """None when ``checkpoint`` is well formed and signed by ``public_key``; else what is
    wrong with it, in words."""
    if checkpoint.key_id != key_id_of(public_key):
        return f"checkpoint key_id {checkpoint.key_id!r} is not the id of the public key"
    if checkpoint.tree_size < 0:
        return "checkpoint tree_size is negative"
    try:
        root = bytes.fromhex(checkpoint.root_hash)
    except ValueError:
        return "checkpoint root_hash is not hex"
    if len(root) != 32 or checkpoint.root_hash != root.hex():
        return "checkpoint root_hash is not 64 lowercase hex digits"
    try:
        issued = datetime.strptime(checkpoint.issued_at, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return "checkpoint issued_at is not RFC 3339 UTC to the second"
    if format_time(issued.replace(tzinfo=UTC)) != checkpoint.issued_at:
        return "checkpoint issued_at is not in its canonical form"
    try:
        signature = base64.b64decode(checkpoint.signature, validate=True)
    except (binascii.Error, ValueError):
        return "checkpoint signature is not base64"
    if base64.b64encode(signature).decode() != checkpoint.signature:
        return "checkpoint signature is not in canonical base64"
    if not verify_signature(public_key, signature, checkpoint.body()):
        return "checkpoint signature does not verify with the public key"
    return None
