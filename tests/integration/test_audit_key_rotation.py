"""`grondslag audit rotate-key`: a new audit signing key, announced in a statement the old
key signs; a running checkpointer signs with the new key from its next checkpoint; the old
checkpoints stay verifiable (`grondslag audit check`, the published key history), and a
checkpoint the retired key signs after its retirement is caught."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from grondslag.ledger.application import Ledger
from grondslag.ledger.audit import store as audit_store
from grondslag.ledger.audit.checkpoints import checkpoint_problem
from grondslag.ledger.audit.rotation import (
    rotation_problem,
    trusted_checkpoint_problem,
    trusted_keys,
)
from grondslag.ledger.audit.signing import KeyFile, load_or_create
from grondslag.ledger.domain.values import Notice, PersonalData, PurposeTerms
from grondslag.projector import audit_log
from grondslag.projector.audit_check import check
from grondslag.projector.checkpointer import Checkpointer
from grondslag.projector.follower import LogFollower

NOTICE = Notice(version="2025-01", url="https://praktijk.example/privacy/2025-01", sha256="a" * 64)
TERMS = PurposeTerms(title="Foto", basis="consent", notice=NOTICE)


def _rotate(database_url: str, key_file: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "GRONDSLAG_AUDIT_KEY_FILE": str(key_file)}
    return subprocess.run(
        [sys.executable, "-m", "grondslag.cli", "audit", "rotate-key"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def _check(url: str) -> object:
    conn = await asyncpg.connect(url)
    try:
        return await check(conn)
    finally:
        await conn.close()


async def test_checkpoints_across_a_signing_key_rotation_verify(
    ledger: Ledger, pool: asyncpg.Pool, own_database_url: str, tmp_path: Path
) -> None:
    await audit_store.create_tables(pool)
    key_file = tmp_path / "audit-signing-key.pem"
    checkpointer = Checkpointer(pool, own_database_url, KeyFile(key_file), interval=60)
    await checkpointer.setup()
    old = checkpointer.key
    follower = LogFollower(pool, own_database_url, audit_log.NAME, audit_log.append, raw=True)
    await follower.setup()
    tenant = f"rot-{secrets.token_hex(4)}"
    ledger.register_purpose(tenant, "photo", TERMS, datetime(2025, 1, 1, tzinfo=UTC))
    await follower.catch_up()
    [before] = [c for c in await checkpointer.sign_due() if c.tenant == tenant]
    assert before.key_id == old.key_id

    done = await asyncio.to_thread(_rotate, own_database_url, key_file)
    assert done.returncode == 0, done.stderr
    assert f"{old.key_id} retired" in done.stdout
    new = load_or_create(key_file)
    assert new.key_id != old.key_id and new.key_id in done.stdout

    # the running checkpointer signs with the new key, read again from the file
    await asyncio.sleep(2.5)  # past the old key's moment of grace
    ledger.put_subject(tenant, "client-1", PersonalData())
    await follower.catch_up()
    [after] = [c for c in await checkpointer.sign_due() if c.tenant == tenant]
    assert after.key_id == new.key_id and after.tree_size == 2
    assert checkpoint_problem(after, new.public_key) is None

    # the published history: both keys, the old one retired, one statement signed by both
    [rotation] = await audit_store.rotations(pool)
    assert (rotation.old_key_id, rotation.new_key_id) == (old.key_id, new.key_id)
    assert rotation_problem(rotation) is None
    keys = {row["key_id"]: row for row in await audit_store.signing_keys(pool)}
    assert keys[old.key_id]["retired_at"] is not None and keys[new.key_id]["retired_at"] is None
    # whoever pinned the old key trusts the new one, and the old checkpoint still verifies
    trusted = trusted_keys(old.public_key, [rotation])
    assert trusted_checkpoint_problem(after, trusted) is None
    assert trusted_checkpoint_problem(before, trusted) is None

    report = await _check(own_database_url)
    assert report.ok, report.problems  # type: ignore[attr-defined]

    # a second rotation of the same (now retired) key is refused: the file holds the new one
    # and a retired key signing after its retirement is caught by the audit check
    later = datetime.now(UTC) + timedelta(minutes=5)
    ledger.put_subject(tenant, "client-2", PersonalData())
    await follower.catch_up()
    await audit_store.sign_checkpoint(pool, old, tenant, later)
    report = await _check(own_database_url)
    assert not report.ok  # type: ignore[attr-defined]
    assert any(f"retired at {rotation.rotated_at}" in p for p in report.problems)  # type: ignore[attr-defined]
