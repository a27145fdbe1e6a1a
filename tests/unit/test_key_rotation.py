"""Rotation of the audit signing key (audit/rotation.py): the statement both keys sign, the
keys a pinned key leads to, and bundles verified across a rotation; a retired key's
signatures count only for what it signed while in service."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import msgspec
import pytest

from grondslag.ledger.audit import checkpoints
from grondslag.ledger.audit.bundle import BundleError, render, verify
from grondslag.ledger.audit.rotation import (
    retired_problem,
    rotation_problem,
    sign_rotation,
    trusted_checkpoint_problem,
    trusted_keys,
)
from grondslag.ledger.audit.signing import KeyFile, generate, install, load_or_create

from bundle_support import FULL, ISSUED, KEY, ROOT, TENANT, TREE_SIZE, make_bundle

NEW = generate()
LATER = generate()
ROTATED = datetime(2026, 4, 1, 12, 30, tzinfo=UTC)  # after the bundle_support export
ROTATION = sign_rotation(KEY, NEW, ROTATED)


def test_a_rotation_statement_is_signed_by_both_keys_and_names_them() -> None:
    assert rotation_problem(ROTATION) is None
    body = ROTATION.body().decode()
    assert body.startswith("grondslag audit key rotation\n") and body.endswith("\n")
    assert f"old {KEY.key_id} " in body and f"new {NEW.key_id} " in body
    assert "2026-04-01T12:30:00Z\n" in body


@pytest.mark.parametrize(
    "change, needle",
    [
        ({"rotated_at": "2026-04-01T12:30:01Z"}, "old key's signature"),
        ({"new_key_id": LATER.key_id}, "new_key_id is not the id"),
        (
            {
                "new_key_id": LATER.key_id,
                "new_public_key": base64.b64encode(LATER.public_key).decode(),
            },
            "old key's signature",
        ),
        ({"old_signature": "not base64!"}, "not base64"),
        ({"rotated_at": "2026-04-01 12:30:00"}, "RFC 3339"),
    ],
)
def test_a_changed_rotation_statement_does_not_verify(change: dict, needle: str) -> None:
    problem = rotation_problem(msgspec.structs.replace(ROTATION, **change))
    assert problem is not None and needle in problem


def test_a_statement_the_new_key_did_not_sign_does_not_verify() -> None:
    forged = sign_rotation(KEY, LATER, ROTATED)  # signed by LATER, claims NEW
    stitched = msgspec.structs.replace(ROTATION, new_signature=forged.new_signature)
    assert "new key's signature" in (rotation_problem(stitched) or "")


def test_a_pinned_key_leads_forwards_and_backwards_through_verified_rotations() -> None:
    second = sign_rotation(NEW, LATER, datetime(2026, 6, 1, tzinfo=UTC))
    keys = trusted_keys(KEY.public_key, [ROTATION, second])
    assert set(keys) == {KEY.key_id, NEW.key_id, LATER.key_id}
    assert keys[KEY.key_id].retired_at == "2026-04-01T12:30:00Z"
    assert keys[LATER.key_id].retired_at is None
    assert set(trusted_keys(LATER.public_key, [ROTATION, second])) == set(keys)
    # a statement that does not verify leads nowhere
    broken = msgspec.structs.replace(second, old_signature=ROTATION.old_signature)
    assert set(trusted_keys(KEY.public_key, [ROTATION, broken])) == {KEY.key_id, NEW.key_id}
    assert set(trusted_keys(LATER.public_key, [])) == {LATER.key_id}


def test_checkpoints_of_a_retired_key_count_until_its_retirement_only() -> None:
    keys = trusted_keys(NEW.public_key, [ROTATION])
    before = checkpoints.sign(KEY, TENANT, TREE_SIZE, ROOT, ISSUED)
    assert trusted_checkpoint_problem(before, keys) is None
    after = checkpoints.sign(KEY, TENANT, TREE_SIZE, ROOT, datetime(2026, 4, 2, tzinfo=UTC))
    assert "retired at 2026-04-01T12:30:00Z" in (trusted_checkpoint_problem(after, keys) or "")
    by_new = checkpoints.sign(NEW, TENANT, TREE_SIZE, ROOT, datetime(2026, 4, 2, tzinfo=UTC))
    assert trusted_checkpoint_problem(by_new, keys) is None
    stranger = checkpoints.sign(LATER, TENANT, TREE_SIZE, ROOT, ISSUED)
    assert "not the pinned key" in (trusted_checkpoint_problem(stranger, keys) or "")
    assert retired_problem(after, None) is None


def test_a_bundle_of_the_new_key_verifies_against_the_old_pinned_key_with_the_history() -> None:
    data = render(make_bundle(FULL, key=NEW))
    with pytest.raises(BundleError, match="is not the pinned key"):
        verify(data, pinned_key=KEY.public_key)
    assert verify(data, KEY.public_key, [ROTATION]).events > 0


def test_an_old_bundle_of_the_retired_key_verifies_against_the_new_pinned_key() -> None:
    data = render(make_bundle(FULL, key=KEY))  # exported 12:00, before the 12:30 rotation
    assert verify(data, NEW.public_key, [ROTATION]).checkpoint.key_id == KEY.key_id


def test_a_bundle_the_retired_key_signed_after_its_retirement_is_refused() -> None:
    early = sign_rotation(KEY, NEW, datetime(2026, 4, 1, 11, 0, tzinfo=UTC))
    data = render(make_bundle(FULL, key=KEY))  # checkpoint 11:59:30, after 11:00
    with pytest.raises(BundleError, match="retired at 2026-04-01T11:00:00Z"):
        verify(data, NEW.public_key, [early])
    # a checkpoint from before retirement in a bundle exported after it: refused too
    boundary = sign_rotation(KEY, NEW, datetime(2026, 4, 1, 11, 59, 45, tzinfo=UTC))
    with pytest.raises(BundleError, match="exported 2026-04-01T12:00:00Z"):
        verify(data, NEW.public_key, [boundary])


def test_the_key_file_is_replaced_atomically_and_read_again_by_running_processes(
    tmp_path,
) -> None:
    path = tmp_path / "audit-signing-key.pem"
    keys = KeyFile(path)
    old = keys.current()
    assert keys.current() is old  # not read again while unchanged
    new = generate()
    retired = install(path, new)
    assert keys.current().key_id == new.key_id
    assert load_or_create(retired).key_id == old.key_id
    assert path.stat().st_mode & 0o777 == 0o600 and retired.stat().st_mode & 0o777 == 0o600
    assert retired.name == f"audit-signing-key.pem.retired-{old.key_id}"
