"""Envelope encryption: the keys kept in the database are wrapped by a key that is not.

Two kinds of secrets live beside the data they protect: each subject's sealing key
(``grondslag_subject_keys``) and each tenant's link secrets (``grondslag_tenant_secrets``).
Both are stored wrapped by a key-encryption key (KEK) that never enters the database: a
keyring file of mode 0600 under the data folder (created on first start, like the audit
signing key; ``GRONDSLAG_MASTER_KEY_FILE``) or the environment (``GRONDSLAG_MASTER_KEY``,
base64, several keys comma-separated, newest first). A dump of the database alone opens no
sealed personal data and mints no link.

A wrapped key is AES-256-GCM (``cryptography``) of the plain key under the KEK, a random
96-bit nonce first, with the row's identity (the subject's stream id; the tenant and the
secret's key id) as associated data: a wrapped key moved to another row does not open.
Each row names the id of the KEK that wrapped it (``kek_id``; NULL for a destroyed key, or
a clear key of an installation not migrated yet), so that during a rotation rows under the
old and the new KEK are read side by side.

``KeyEncryptionKey`` is the whole interface the stores use: a KMS or an HSM can implement
it later (``wrap``/``unwrap`` as remote calls, ``key_id`` naming the key version).

A process loads its keyring once (``use``); a keyring from a file looks at the file again
at most once a second, so that the processes running while ``grondslag keys
rotate-master`` adds a new KEK start wrapping with it, and read rows the command re-wrapped
under it, within a second, with no restart.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import logging
import os
import secrets
import stat
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

log = logging.getLogger("grondslag.envelope")

KEYRING_FILE_NAME = "master-keys"
REFRESH_SECONDS = 1.0
_AAD = b"grondslag kek v1\x1f"


class KeyEncryptionKey(Protocol):
    """What wraps the keys stored in the database (a file's key today; a KMS later)."""

    @property
    def key_id(self) -> str: ...

    def wrap(self, plain: bytes, context: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes: ...


class KeyUnavailable(RuntimeError):
    """A row is wrapped under a KEK this process does not hold."""


def key_id_of(secret: bytes) -> str:
    """The id of a raw KEK: 16 hex digits of a hash of it (names it, reveals nothing)."""
    return hashlib.sha256(b"grondslag kek id\x1f" + secret).hexdigest()[:16]


class AesGcmKek:
    """A 256-bit KEK held in memory; AES-256-GCM with the row's identity bound in."""

    def __init__(self, secret: bytes):
        if len(secret) != 32:
            raise ValueError("a key-encryption key has 32 bytes (AES-256)")
        self._aead = AESGCM(secret)
        self._id = key_id_of(secret)
        self.secret = secret

    @classmethod
    def generate(cls) -> AesGcmKek:
        return cls(AESGCM.generate_key(bit_length=256))

    @property
    def key_id(self) -> str:
        return self._id

    def wrap(self, plain: bytes, context: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, plain, _AAD + context)

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        return self._aead.decrypt(wrapped[:12], wrapped[12:], _AAD + context)

    def __repr__(self) -> str:  # never the secret
        return f"AesGcmKek({self._id})"


def subject_context(subject_id: UUID) -> bytes:
    return b"subject key\x1f" + subject_id.bytes


def tenant_context(tenant: str, key_id: int) -> bytes:
    return b"tenant secret\x1f" + tenant.encode() + b"\x1f" + str(key_id).encode()


class Keyring:
    """KEKs newest first: the newest wraps, any of them unwraps the rows naming it."""

    def __init__(self, keys: Sequence[KeyEncryptionKey], path: Path | None = None):
        if not keys:
            raise ValueError("a keyring holds at least one key-encryption key")
        self.keys: list[KeyEncryptionKey] = list(keys)
        self.path = path
        self._known: dict[str, KeyEncryptionKey] = {k.key_id: k for k in keys}
        self._seen = _signature(path) if path else None
        self._checked = time.monotonic()
        self._lock = threading.Lock()

    @property
    def source(self) -> str:
        return str(self.path) if self.path else "GRONDSLAG_MASTER_KEY"

    @property
    def current(self) -> KeyEncryptionKey:
        self._refresh()
        return self.keys[0]

    def find(self, kek_id: str) -> KeyEncryptionKey | None:
        if kek_id not in self._known:
            self._refresh(force=True)
        return self._known.get(kek_id)

    def remember(self, other: Keyring) -> None:
        """Keep reading rows under ``other``'s keys too (a process that loaded several)."""
        for key in other._known.values():
            self._known.setdefault(key.key_id, key)

    def wrap(self, plain: bytes, context: bytes) -> tuple[str, bytes]:
        kek = self.current
        return kek.key_id, kek.wrap(plain, context)

    def unwrap(self, kek_id: str | None, stored: bytes, context: bytes) -> bytes:
        """The plain key of a row; a row with no KEK id is a clear key (not migrated yet)."""
        if kek_id is None:
            return stored
        kek = self.find(kek_id)
        if kek is None:
            raise KeyUnavailable(
                f"a stored key is wrapped under key-encryption key {kek_id}, which "
                f"{self.source} does not hold"
            )
        return kek.unwrap(stored, context)

    def _refresh(self, *, force: bool = False) -> None:
        if self.path is None:
            return
        now = time.monotonic()
        if not force and now - self._checked < REFRESH_SECONDS:
            return
        with self._lock:
            self._checked = now
            seen = _signature(self.path)
            if seen == self._seen:
                return
            try:
                keys = read_keyring(self.path)
            except (OSError, ValueError) as error:  # keep the keys held; say it, once
                log.error("cannot reload the key-encryption keys from %s: %s", self.path, error)
                self._seen = seen
                return
            self.keys, self._seen = list(keys), seen
            for key in keys:
                self._known.setdefault(key.key_id, key)
            log.info("key-encryption keys reloaded from %s: %s", self.path, _ids(keys))


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _ids(keys: Sequence[KeyEncryptionKey]) -> str:
    return ", ".join(k.key_id for k in keys)


# -- the keyring on disk or in the environment --------------------------------------------


def parse_keys(text: str, where: str) -> list[AesGcmKek]:
    """Base64 KEKs, newest first, one a line (``<id> <base64>``) or comma-separated."""
    keys = []
    entries = [
        entry.strip()
        for line in text.splitlines()
        if not line.strip().startswith("#")
        for entry in line.split(",")
    ]
    for line in entries:
        if not line:
            continue
        encoded = line.split()[-1]
        try:
            key = AesGcmKek(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            raise ValueError(f"{where}: not a base64 256-bit key-encryption key") from None
        if len(line.split()) == 2 and line.split()[0] != key.key_id:
            raise ValueError(f"{where}: the key named {line.split()[0]} has id {key.key_id}")
        keys.append(key)
    if not keys:
        raise ValueError(f"{where}: holds no key-encryption key")
    return keys


def read_keyring(path: Path) -> list[AesGcmKek]:
    return parse_keys(path.read_text(), str(path))


def render_keyring(keys: Sequence[AesGcmKek]) -> str:
    lines = ["# grondslag key-encryption keys, newest first (<key id> <base64 key>)"]
    lines += [f"{k.key_id} {base64.b64encode(k.secret).decode()}" for k in keys]
    return "\n".join(lines) + "\n"


def write_keyring(path: Path, keys: Sequence[AesGcmKek]) -> None:
    """Replace the keyring file at once (readers see the old or the new one, whole)."""
    write_private(path, render_keyring(keys))


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` at once, readable by this user alone (0600)."""
    os.replace(_temporary(path, text), path)


def _temporary(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    return temporary


def load_or_create(path: Path) -> Keyring:
    """The keyring in ``path``; on first start a new KEK, written so that no other process
    can read it (0600) and no two processes can each write their own (create-exclusive)."""
    if not path.exists():
        key = AesGcmKek.generate()
        try:
            temporary = _temporary(path, render_keyring([key]))
        except OSError as error:
            raise RuntimeError(
                f"cannot create the key-encryption key {path}: {error.strerror}; make its "
                "folder writable or point GRONDSLAG_MASTER_KEY_FILE elsewhere"
            ) from error
        try:
            with contextlib.suppress(FileExistsError):  # another process was first: use its
                os.link(temporary, path)
                log.warning(
                    "generated a new key-encryption key in %s (key id %s): back it up, apart "
                    "from the database — without it no sealed personal data can be opened",
                    path,
                    key.key_id,
                )
        finally:
            temporary.unlink(missing_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("%s is readable by others (mode %o); chmod 600 it", path, mode)
    return Keyring(read_keyring(path), path)


def from_settings(settings: Any) -> Keyring:
    if settings.master_key:
        return Keyring(parse_keys(settings.master_key, "GRONDSLAG_MASTER_KEY"))
    return load_or_create(settings.master_key_path)


# -- the process's keyring ------------------------------------------------------------------

_installed: Keyring | None = None
_install_lock = threading.Lock()


def use(settings: Any) -> Keyring:
    """Load the keyring the settings name, once per process, and make it the active one."""
    global _installed
    with _install_lock:
        wanted = None if settings.master_key else settings.master_key_path
        if _installed is not None and _installed.path == wanted and wanted is not None:
            return _installed
        keyring = from_settings(settings)
        if _installed is not None:
            keyring.remember(_installed)
        _installed = keyring
        log.info("key-encryption keys from %s: %s", keyring.source, _ids(keyring.keys))
        return keyring


def install(keyring: Keyring | None) -> Keyring | None:
    """Make ``keyring`` the active one; the one it replaces (tests put it back)."""
    global _installed
    with _install_lock:
        previous, _installed = _installed, keyring
        return previous


def installed() -> Keyring | None:
    return _installed


def active() -> Keyring:
    if _installed is None:
        raise KeyUnavailable("no key-encryption key is loaded (``envelope.use(settings)``)")
    return _installed


def wrap_subject_key(subject_id: UUID, key: bytes) -> tuple[str, bytes]:
    return active().wrap(key, subject_context(subject_id))


def unwrap_subject_key(subject_id: UUID, kek_id: str | None, stored: bytes) -> bytes:
    return active().unwrap(kek_id, stored, subject_context(subject_id))
