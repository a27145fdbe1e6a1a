"""A projector process keeps one LISTEN connection: its followers and its checkpointer are
woken through the process's Listener, and a checkpoint asked for (a NOTIFY, as an API
process asks) is signed through it at once, long before the checkpointer's schedule; a
checkpointer run alone listens on a connection of its own."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import replace

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from grondslag.ledger.audit import store as audit_store
from grondslag.ledger.audit.signing import SigningKey
from grondslag.ledger.domain.values import PersonalData
from grondslag.projector import audit_log
from grondslag.projector.checkpointer import Checkpointer
from grondslag.projector.runner import Projector

from projector_support import HEAD, Store, give, new_tenant, wait_for

LISTENING = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    "AND query LIKE 'LISTEN %'"
)
AN_HOUR = 3600.0  # no round of the schedule comes during a test


async def _logged(pool: asyncpg.Pool, tenant: str) -> int:
    size, _ = await audit_store.tree_head(pool, tenant)
    return size


async def _signed(pool: asyncpg.Pool, tenant: str) -> int:
    return await pool.fetchval(
        "SELECT count(*) FROM grondslag_audit_checkpoints WHERE tenant = $1", tenant
    )


async def test_a_projector_listens_on_one_connection_and_its_checkpointer_wakes_through_it(
    store: Store,
) -> None:
    settings = replace(
        store.settings(None), checkpoint_seconds=AN_HOUR, checkpoint_heartbeat_seconds=AN_HOUR
    )
    projector = Projector(settings)
    await projector.start()
    try:
        assert projector.pool is not None and projector.listener is not None
        assert projector.checkpointer is not None
        assert projector.checkpointer.listener is projector.listener
        pool = projector.pool

        async def listening() -> bool:
            return bool(await pool.fetchval(f"{LISTENING} AND query LIKE '%checkpoint_requests%'"))

        await wait_for(listening, 10, "a LISTEN for checkpoint requests")
        await asyncio.sleep(0.3)  # the checkpointer's first round, before this tenant
        tenant = new_tenant(store.ledger)
        store.ledger.put_subject(tenant, "client-1", PersonalData())
        give(store.ledger, tenant, "client-1")

        async def logged() -> bool:  # the followers, woken through the same connection
            head = await pool.fetchval(HEAD)
            positions = await pool.fetch(
                "SELECT DISTINCT position FROM grondslag_tracking WHERE projection = $1",
                audit_log.NAME,
            )
            return [row["position"] for row in positions] == [head]

        await wait_for(logged, 10, f"the tenant's events in the {audit_log.NAME}")
        assert await _logged(pool, tenant) > 0
        assert await _signed(pool, tenant) == 0

        await audit_store.request_checkpoint(pool, tenant)  # as an API process asks

        async def signed() -> bool:
            return await _signed(pool, tenant) == 1

        await wait_for(signed, 5, "the checkpoint asked for, signed through the Listener")
        latest = await audit_store.latest_checkpoint(pool, tenant)
        assert latest is not None and latest[0].tree_size == await _logged(pool, tenant)

        # one LISTEN connection for the whole process (it had two: the checkpointer's own)
        assert await pool.fetchval(LISTENING) == 1
    finally:
        await projector.stop()


async def test_a_checkpointer_run_alone_listens_on_its_own_and_answers_a_request(
    store: Store,
) -> None:
    pool = await asyncpg.create_pool(store.url, min_size=1, max_size=2)
    try:
        await audit_store.create_tables(pool)
        key = SigningKey(Ed25519PrivateKey.generate())
        checkpointer = Checkpointer(pool, store.url, key, interval=AN_HOUR, heartbeat=AN_HOUR)
        await checkpointer.setup()
        running = asyncio.create_task(checkpointer.run())
        try:

            async def listening() -> bool:
                return await pool.fetchval(LISTENING) == 1

            await wait_for(listening, 10, "the checkpointer's own LISTEN connection")
            tenant = f"alone-{secrets.token_hex(4)}"
            await audit_store.request_checkpoint(pool, tenant)

            async def signed() -> bool:  # an empty tree's head, signed when asked for
                return await _signed(pool, tenant) == 1

            await wait_for(signed, 5, "the checkpoint asked for")
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
    finally:
        await pool.close()
