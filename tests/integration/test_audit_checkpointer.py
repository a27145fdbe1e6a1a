"""The projector's checkpointer: it signs a tree that grew, leaves an unchanged one alone
until the heartbeat comes round, and every checkpoint it signs verifies (R7: the proof lies
with the practice, and a witness must be able to see the log is alive)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from grondslag.ledger.application import Ledger
from grondslag.ledger.audit import merkle
from grondslag.ledger.audit import store as audit_store
from grondslag.ledger.audit.checkpoints import checkpoint_problem
from grondslag.ledger.audit.signing import SigningKey
from grondslag.ledger.domain.values import Notice, PersonalData, PurposeTerms
from grondslag.projector import audit_log
from grondslag.projector.checkpointer import Checkpointer
from grondslag.projector.follower import LogFollower

NOTICE = Notice(version="2025-01", url="https://praktijk.example/privacy/2025-01", sha256="a" * 64)
TERMS = PurposeTerms(title="Foto", basis="consent", notice=NOTICE)


async def test_signs_grown_trees_and_idle_ones_only_at_the_heartbeat(
    ledger: Ledger, pool: asyncpg.Pool, own_database_url: str
) -> None:
    await audit_store.create_tables(pool)
    key = SigningKey(Ed25519PrivateKey.generate())
    checkpointer = Checkpointer(pool, own_database_url, key, interval=60, heartbeat=3600)
    await checkpointer.setup()
    follower = LogFollower(pool, own_database_url, audit_log.NAME, audit_log.append, raw=True)
    await follower.setup()
    tenant = f"hb-{secrets.token_hex(4)}"
    ledger.register_purpose(tenant, "photo", TERMS, datetime(2025, 1, 1, tzinfo=UTC))
    ledger.put_subject(tenant, "client-1", PersonalData())
    await follower.catch_up()

    now = datetime.now(UTC).replace(microsecond=0)
    first = [c for c in await checkpointer.sign_due(now) if c.tenant == tenant]
    assert [c.tree_size for c in first] == [2]
    size, root = await audit_store.tree_head(pool, tenant)
    assert (first[0].tree_size, first[0].root_hash) == (size, root.hex())
    assert checkpoint_problem(first[0], key.public_key) is None

    # nothing new, within the heartbeat: nothing signed
    later = now + timedelta(minutes=30)
    assert [c for c in await checkpointer.sign_due(later) if c.tenant == tenant] == []

    # past the heartbeat: the same tree is signed again, with a newer time
    idle = now + timedelta(hours=2)
    again = [c for c in await checkpointer.sign_due(idle) if c.tenant == tenant]
    assert [(c.tree_size, c.root_hash) for c in again] == [(2, root.hex())]
    assert again[0].issued_at > first[0].issued_at

    # the tree grows: signed at the next tick, whatever the heartbeat
    ledger.put_subject(tenant, "client-2", PersonalData())
    await follower.catch_up()
    grown = [
        c for c in await checkpointer.sign_due(idle + timedelta(seconds=1)) if c.tenant == tenant
    ]
    assert [c.tree_size for c in grown] == [3]
    size, root = await audit_store.tree_head(pool, tenant)
    assert grown[0].root_hash == root.hex() != merkle.EMPTY_ROOT.hex()
