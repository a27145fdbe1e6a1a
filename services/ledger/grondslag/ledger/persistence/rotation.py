"""Rotating the key-encryption key with no downtime (``grondslag keys rotate-master``).

1. A new KEK is put first in the keyring file; the old one stays in it. Running processes
   see the file change within a second (``envelope.REFRESH_SECONDS``): they wrap new keys
   under the new KEK and read rows under either.
2. After a pause for them to notice (``settle``), every stored key not under the new KEK is
   re-wrapped, in batches of short transactions (``rewrap``).
3. The old KEK is retired: taken out of the keyring file and appended to
   ``<keyring>.retired`` (a backup of the database taken before the rotation needs it, so
   it is kept aside, not destroyed), and after another pause the tables are swept once more
   for a key a process wrapped under the old KEK just before it noticed.

A keyring file that already holds several keys is a rotation that was interrupted: the
command finishes it (no new key). Keys from ``GRONDSLAG_MASTER_KEY`` cannot be rewritten
by the command: the operator puts the new key first (``NEW,OLD``), restarts the processes,
runs the command (it re-wraps under ``NEW``), then drops ``OLD``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..envelope import (
    AesGcmKek,
    Keyring,
    parse_keys,
    read_keyring,
    render_keyring,
    write_keyring,
    write_private,
)
from .rewrap import Rewrapped, kek_ids_in_use, rewrap_all

SETTLE_SECONDS = 3.0


class RotationRefused(Exception):
    pass


@dataclass(frozen=True)
class Rotated:
    new: str
    retired: tuple[str, ...]
    rewrapped: Rewrapped


def rotate_master(
    settings: Any,
    conn: Any,
    *,
    settle: float = SETTLE_SECONDS,
    say: Callable[[str], None] = print,
) -> Rotated:
    """Rotate to a new KEK (or finish a rotation); ``conn``: psycopg, autocommit."""
    if settings.master_key:
        keys = parse_keys(settings.master_key, "GRONDSLAG_MASTER_KEY")
        if len(keys) == 1:
            raise RotationRefused(
                "the key-encryption key comes from GRONDSLAG_MASTER_KEY: put a new base64 key "
                "first (NEW,OLD), restart every process, run this again, then drop OLD"
            )
        keyring = Keyring(keys)
        done = rewrap_all(conn, keyring)
        _check(conn, keys[0].key_id)
        say(f"re-wrapped under {keys[0].key_id}; now drop the older keys from GRONDSLAG_MASTER_KEY")
        return Rotated(keys[0].key_id, tuple(k.key_id for k in keys[1:]), done)
    path: Path = settings.master_key_path
    if not path.exists():
        raise RotationRefused(f"{path} does not exist: nothing to rotate")
    keys = read_keyring(path)
    if len(keys) == 1:
        keys = [AesGcmKek.generate(), *keys]
        write_keyring(path, keys)
        say(f"new key-encryption key {keys[0].key_id} added to {path} (back it up)")
        time.sleep(settle)  # running processes notice the new key
    else:
        say(f"{path} holds {len(keys)} keys: finishing the rotation to {keys[0].key_id}")
    keyring = Keyring(keys)  # this command's own copy: it keeps reading the old keys
    done = rewrap_all(conn, keyring)
    say(f"re-wrapped {done.subject_keys} subject keys, {done.tenant_secrets} link secrets")
    _retire(path, keys)
    time.sleep(settle)  # running processes stop wrapping under the old key
    done += rewrap_all(conn, keyring)
    _check(conn, keys[0].key_id)
    retired = tuple(k.key_id for k in keys[1:])
    say(f"retired {', '.join(retired)} (kept in {path}.retired for older backups)")
    return Rotated(keys[0].key_id, retired, done)


def _retire(path: Path, keys: list[AesGcmKek]) -> None:
    aside = path.with_name(path.name + ".retired")
    kept = read_keyring(aside) if aside.exists() else []
    known = {k.key_id for k in kept}
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    text = render_keyring([*kept, *(k for k in keys[1:] if k.key_id not in known)])
    text = text.replace("\n", f"\n# retired by {keys[0].key_id} at {stamp}\n", 1)
    write_private(aside, text)
    write_keyring(path, keys[:1])


def _check(conn: Any, newest: str) -> None:
    left = {kek: n for kek, n in kek_ids_in_use(conn).items() if kek != newest}
    if left:
        raise RotationRefused(f"stored keys still under other key-encryption keys: {left}")
