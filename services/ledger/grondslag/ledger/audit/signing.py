"""The ledger's Ed25519 signing key: generated on first start, kept in a file of mode 0600.

The private key never enters the database: whoever can edit the database must not be able
to sign a checkpoint over what they wrote. Every process that signs (the projector, and API
processes answering "sign now") reads the same file — one data folder on one host, or a
volume or secret shared by the containers. The public key is registered in the database
(``grondslag_audit_keys``) so that any process can serve it and old checkpoints stay
verifiable after a key is replaced.

``key_id`` is the first 16 hex digits of SHA-256 over the raw 32-byte public key.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

log = logging.getLogger("grondslag.audit")

KEY_FILE_NAME = "audit-signing-key.pem"


def key_id_of(public_key: bytes) -> str:
    """The id of a raw 32-byte Ed25519 public key."""
    return hashlib.sha256(public_key).hexdigest()[:16]


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte public key."""
        return self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def public_key_pem(self) -> str:
        return (
            self.private.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    @property
    def key_id(self) -> str:
        return key_id_of(self.public_key)

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message)


def public_key_pem(public_key: bytes) -> str:
    """A raw Ed25519 public key as a PEM SubjectPublicKeyInfo block."""
    return (
        Ed25519PublicKey.from_public_bytes(public_key)
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def verify_signature(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """Whether ``signature`` is the Ed25519 signature of ``message`` by ``public_key``."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def public_key_from_text(text: str) -> bytes:
    """A raw public key from base64 (32 bytes) or a PEM SubjectPublicKeyInfo block."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(text.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("the PEM block is not an Ed25519 public key")
        return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    raw = base64.b64decode(text, validate=True)
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key has 32 bytes")
    return raw


def load_or_create(path: Path) -> SigningKey:
    """The key in ``path``; on first start a new key, written so that no other process can
    read it (0600) and no two processes can each write their own (create-exclusive link)."""
    if not path.exists():
        try:
            _create(path)
        except OSError as error:
            raise RuntimeError(
                f"cannot create the audit signing key {path}: {error.strerror}; make its folder "
                "writable or point GRONDSLAG_AUDIT_KEY_FILE elsewhere"
            ) from error
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("%s is readable by others (mode %o); chmod 600 it", path, mode)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return SigningKey(key)


def _public_of(pem: bytes) -> bytes:
    key = serialization.load_pem_private_key(pem, password=None)
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # unique per call: threads of one process may start together, too
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):  # another process was first: use its key
            os.link(temporary, path)
            log.warning(
                "generated a new audit signing key in %s (key id %s): back it up, apart from "
                "the database",
                path,
                key_id_of(_public_of(pem)),
            )
    finally:
        temporary.unlink(missing_ok=True)


class KeyFile:
    """The signing key in ``path``, read again whenever the file changes (``grondslag audit
    rotate-key`` replaced it): a running process signs with the new key from then on."""

    def __init__(self, path: Path):
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._key: SigningKey | None = None

    def current(self) -> SigningKey:
        try:
            status = self.path.stat()
            stamp = (status.st_ino, status.st_mtime_ns)
        except FileNotFoundError:
            stamp = None
        if self._key is None or stamp != self._stamp:
            self._key = load_or_create(self.path)
            status = self.path.stat()
            self._stamp = (status.st_ino, status.st_mtime_ns)
        return self._key


def generate() -> SigningKey:
    """A new key, in memory only (``install`` writes it)."""
    return SigningKey(Ed25519PrivateKey.generate())


def install(path: Path, key: SigningKey) -> Path:
    """Put ``key`` in ``path`` in place of the key there, which is kept beside it (mode 0600)
    as ``<name>.retired-<key id>``; answers where the old key went."""
    old = load_or_create(path)
    pem = key.private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    retired = path.with_name(f"{path.name}.retired-{old.key_id}")
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(path, retired)
        os.replace(temporary, path)  # atomic: a reader sees the old key or the new one
    finally:
        temporary.unlink(missing_ok=True)
    log.warning(
        "replaced the audit signing key %s by %s in %s; the old key is kept in %s",
        old.key_id,
        key.key_id,
        path,
        retired,
    )
    return retired
