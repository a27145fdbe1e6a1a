"""Per-subject keys and sealing of personal fields (crypto-shredding).

The library's cipher uses one key for the whole application, so it cannot forget one
subject. Each subject gets its own AES-256-GCM key instead; the sealed bytes are bound
to the subject's stream id, so they cannot be moved to another subject. Erasure
destroys the key: the sealed bytes stay in the log and can never be opened again.
"""

from __future__ import annotations

import os
from typing import Protocol
from uuid import UUID

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..domain.values import PersonalData

_VERSION = b"\x01"


class KeyStore(Protocol):
    def key_for(self, subject_id: UUID) -> bytes | None: ...
    def create_key(self, subject_id: UUID) -> bytes: ...


class InMemoryKeyStore:
    """For the in-memory event store used by unit tests."""

    def __init__(self) -> None:
        self._keys: dict[UUID, bytes] = {}

    def key_for(self, subject_id: UUID) -> bytes | None:
        return self._keys.get(subject_id)

    def create_key(self, subject_id: UUID) -> bytes:
        return self._keys.setdefault(subject_id, AESGCM.generate_key(bit_length=256))

    def destroy(self, subject_id: UUID, fresh: bytes | None = None) -> None:
        """R22: forget the subject's key; ``fresh`` replaces it (what the holds keep)."""
        self._keys.pop(subject_id, None)
        if fresh is not None:
            self._keys[subject_id] = fresh


def new_key() -> bytes:
    """A fresh AES-256 key (R22: what the holds keep is sealed anew under one)."""
    return AESGCM.generate_key(bit_length=256)


def seal(key: bytes, subject_id: UUID, data: PersonalData) -> bytes:
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, msgspec.json.encode(data), subject_id.bytes)
    return _VERSION + nonce + sealed


def unseal(
    key: bytes | None, subject_id: UUID, sealed: bytes, *, shredded: bool = False
) -> PersonalData | None:
    """The personal data, or ``None`` when the key was destroyed (the subject was erased).

    With ``shredded`` (the subject was erased, R22), bytes the current key does not open
    were sealed under the destroyed key: ``None`` too, not an error (what the holds kept is
    sealed anew under a fresh key; everything before it can never be opened again)."""
    if key is None or not sealed:
        return None
    if sealed[:1] != _VERSION:
        raise ValueError("unknown sealing version")
    try:
        plain = AESGCM(key).decrypt(sealed[1:13], sealed[13:], subject_id.bytes)
    except InvalidTag:
        if shredded:
            return None
        raise
    return msgspec.json.decode(plain, type=PersonalData)
