"""The key-encryption key: wrapping bound to the row, a keyring file of mode 0600 created
once, reloaded when a rotation changes it, and the environment's keys."""

from __future__ import annotations

import base64
import os
import stat
import threading
import time
import uuid
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from grondslag.ledger import envelope
from grondslag.ledger.envelope import AesGcmKek, Keyring, KeyUnavailable
from grondslag.ledger.settings import Settings


def test_a_wrapped_key_opens_only_under_its_kek_and_for_its_own_row() -> None:
    kek, other = AesGcmKek.generate(), AesGcmKek.generate()
    sid, elsewhere = uuid.uuid4(), uuid.uuid4()
    plain = os.urandom(32)
    wrapped = kek.wrap(plain, envelope.subject_context(sid))
    assert plain not in wrapped and len(wrapped) == 12 + 32 + 16
    assert kek.unwrap(wrapped, envelope.subject_context(sid)) == plain
    with pytest.raises(InvalidTag):  # moved to another subject's row
        kek.unwrap(wrapped, envelope.subject_context(elsewhere))
    with pytest.raises(InvalidTag):  # another KEK
        other.unwrap(wrapped, envelope.subject_context(sid))
    secret = kek.wrap(plain, envelope.tenant_context("a", 1))
    with pytest.raises(InvalidTag):  # another tenant's, or another key id's, secret
        kek.unwrap(secret, envelope.tenant_context("a", 2))
    assert kek.key_id not in repr(kek.secret) and repr(kek) == f"AesGcmKek({kek.key_id})"


def test_a_keyring_reads_rows_under_any_of_its_keys_and_names_a_missing_one() -> None:
    new, old = AesGcmKek.generate(), AesGcmKek.generate()
    ring = Keyring([new, old])
    context = envelope.subject_context(uuid.uuid4())
    kek_id, wrapped = ring.wrap(b"k" * 32, context)
    assert kek_id == new.key_id
    assert ring.unwrap(old.key_id, old.wrap(b"o" * 32, context), context) == b"o" * 32
    assert ring.unwrap(None, b"c" * 32, context) == b"c" * 32  # a clear row, not migrated yet
    with pytest.raises(KeyUnavailable, match="does not hold"):
        Keyring([old]).unwrap(kek_id, wrapped, context)


def test_the_keyring_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "data" / "master-keys"
    rings: list[str] = []
    start = threading.Barrier(8)

    def load() -> None:
        start.wait()
        rings.append(envelope.load_or_create(path).current.key_id)

    threads = [threading.Thread(target=load) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(rings)) == 1 and len(rings) == 8  # one key, whoever started first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["master-keys"]  # no temporary left
    assert envelope.load_or_create(path).current.key_id == rings[0]


def test_a_running_keyring_notices_a_rotation_in_its_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(envelope, "REFRESH_SECONDS", 0.0)
    path = tmp_path / "master-keys"
    ring = envelope.load_or_create(path)
    old = ring.current
    new = AesGcmKek.generate()
    context = envelope.tenant_context("t", 1)
    time.sleep(0.01)  # a new mtime
    envelope.write_keyring(path, [new, *envelope.read_keyring(path)])
    assert ring.current.key_id == new.key_id  # new keys are wrapped under it
    assert ring.unwrap(new.key_id, new.wrap(b"x" * 32, context), context) == b"x" * 32
    envelope.write_keyring(path, [new])  # retired from the file
    assert ring.current.key_id == new.key_id and ring.find(old.key_id) is not None


def test_keys_from_the_environment_newest_first_and_bad_ones_refused() -> None:
    a, b = AesGcmKek.generate(), AesGcmKek.generate()
    text = ",".join(base64.b64encode(k.secret).decode() for k in (a, b))
    ring = envelope.from_settings(Settings(master_key=text))
    assert [k.key_id for k in ring.keys] == [a.key_id, b.key_id] and ring.path is None
    for bad in ("not base64!", base64.b64encode(b"short").decode(), " , "):
        with pytest.raises(ValueError, match="GRONDSLAG_MASTER_KEY"):
            envelope.from_settings(Settings(master_key=bad))
    assert text not in repr(Settings(master_key=text))  # never in a log line of the settings


def test_settings_name_the_keyring_and_the_link_grace() -> None:
    settings = Settings.from_env(
        {"GRONDSLAG_DATA_DIR": "/srv/g", "GRONDSLAG_LINK_KEY_GRACE": "P30D"}
    )
    assert settings.master_key_path == Path("/srv/g/master-keys")
    assert settings.link_key_grace.days == 30
    assert Settings.from_env({}).link_key_grace.days == 90
    other = Settings.from_env({"GRONDSLAG_MASTER_KEY_FILE": "/run/secrets/kek"})
    assert other.master_key_path == Path("/run/secrets/kek")
