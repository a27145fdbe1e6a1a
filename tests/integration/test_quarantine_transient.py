"""Transient failures quarantine nothing: with NATS stopped the relay tries the same batch
again and again, nothing advances, nothing is set aside, and everything goes out once NATS
is back; a database connection lost inside a batch fails the batch whole, to be tried
again, and sets nothing aside either.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

import grondslag.embedded
from grondslag.embedded import EmbeddedNats
from grondslag.ledger.domain.ids import standing_id
from grondslag.ledger.domain.values import PersonalData
from grondslag.ledger.persistence.postgres import EVENTS_TABLE
from grondslag.ledger.reads.checks import CURRENT_STANDING_TABLE
from grondslag.ledger.reads.operations import quarantined
from grondslag.ledger.reads.pool import create_read_pool
from grondslag.projector import current_standing, quarantine, relay
from grondslag.projector.follower import LogFollower
from grondslag.projector.runner import Projector

from projector_support import HEAD, PURPOSE, Store, consume, give, new_tenant, wait_for, withdraw


async def tracking(pool: asyncpg.Pool, projection: str) -> tuple[int, int]:
    row = await pool.fetchrow(
        "SELECT min(position) AS position, sum(failures)::bigint AS failures "
        "FROM grondslag_tracking WHERE projection = $1",
        projection,
    )
    return (row["position"], row["failures"]) if row["position"] is not None else (0, 0)


async def test_a_nats_outage_quarantines_nothing_and_everything_goes_out_after_it(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger, tenant = store.ledger, new_tenant(store.ledger)
    refs = ["client-1", "client-2"]
    for ref in refs:
        ledger.put_subject(tenant, ref, PersonalData())
    monkeypatch.setattr(relay, "ACK_TIMEOUT_SECONDS", 1.0)
    server = await asyncio.to_thread(EmbeddedNats(tmp_path / "nats").start)
    url, port = server.url, server.port
    projector = Projector(store.settings(url))
    await projector.start()
    try:
        assert projector.pool is not None
        pool = projector.pool
        expected = [give(ledger, tenant, ref) for ref in refs]

        async def relayed(mark: int) -> bool:
            return (await tracking(pool, relay.NAME))[0] >= mark

        head = await pool.fetchval(HEAD)
        await wait_for(lambda: relayed(head), 15, "the relay before the outage")

        await asyncio.to_thread(server.stop)
        position, failures = await tracking(pool, relay.NAME)
        withdraw(ledger, tenant, "client-1")
        expires_at = datetime.now(UTC) + timedelta(seconds=0.5)
        ledger.put_subject(tenant, "client-3", PersonalData())
        expected.append(give(ledger, tenant, "client-3", expires_at=expires_at))

        async def lapse_recorded_and_tried_twice() -> bool:
            lapsed = await pool.fetchval(
                f"SELECT count(*) FROM {EVENTS_TABLE} WHERE originator_id = $1 "
                "AND topic LIKE '%.BasisLapsed'",
                standing_id(tenant, "client-3", PURPOSE),
            )
            return lapsed == 1 and (await tracking(pool, relay.NAME))[1] >= failures + 2

        await wait_for(lapse_recorded_and_tried_twice, 20, "the relay to try the batch again")
        assert await quarantined(pool) == [], "a NATS outage quarantined something"
        assert (await tracking(pool, relay.NAME))[0] == position, "the relay advanced"
        for projection in (current_standing.NAME, "audit_log"):  # NATS is not theirs
            assert (await tracking(pool, projection))[0] == await pool.fetchval(HEAD)

        monkeypatch.setattr(grondslag.embedded, "_free_port", lambda: port)
        await asyncio.to_thread(server.start)
        head = await pool.fetchval(HEAD)
        await wait_for(lambda: relayed(head), 30, "the relay to deliver after the outage")
        assert await quarantined(pool) == []

        nc = await relay.connect(url)
        try:
            messages = await consume(nc.jetstream(), tenant, until=9, relayed_only=True)
        finally:
            await nc.drain()
        assert sorted(m.subject.removeprefix(f"grondslag.{tenant}.") for m in messages) == [
            "basis.lapsed",  # the withdrawal's stop
            "basis.lapsed",  # the expiry's
            "basis.lawful",
            "basis.lawful",
            "basis.lawful",
            "consent.given",
            "consent.given",
            "consent.given",
            "consent.withdrawn",
        ]
        ids = {json.loads(m.data)["id"] for m in messages}
        assert {str(event) for event in expected} <= ids
    finally:
        await projector.stop()
        await asyncio.to_thread(server.stop)


async def test_a_database_connection_lost_inside_a_batch_quarantines_nothing(
    store: Store,
) -> None:
    pool = await create_read_pool(store.url, min_size=1, max_size=4)
    try:
        await current_standing.create_tables(pool)
        lost: list[BaseException] = []

        async def losing_its_connection(conn: asyncpg.Connection, events: Any) -> None:
            if not lost:  # the backend goes away in the middle of the batch
                await current_standing.project(conn, events[:1])
                try:
                    await conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")
                except Exception as error:
                    lost.append(error)
                    raise
            await current_standing.project(conn, events)

        follower = LogFollower(
            pool, store.url, f"test-{secrets.token_hex(4)}", losing_its_connection
        )
        await follower.setup()
        ledger, tenant = store.ledger, new_tenant(store.ledger)
        for ref in ("client-1", "client-2"):
            ledger.put_subject(tenant, ref, PersonalData())
            give(ledger, tenant, ref)

        with pytest.raises(Exception) as failed:
            await follower.step()
        assert lost and quarantine.transient(failed.value), repr(failed.value)
        assert await follower.position() == 0
        assert await quarantined(pool) == []

        assert await follower.catch_up() == await pool.fetchval(
            f"SELECT count(*) FROM {EVENTS_TABLE}"
        )
        assert await quarantined(pool) == []
        rows = await pool.fetch(
            f"SELECT subject_ref, status FROM {CURRENT_STANDING_TABLE} WHERE tenant = $1 "
            "ORDER BY subject_ref",
            tenant,
        )
        assert [tuple(row) for row in rows] == [("client-1", "lawful"), ("client-2", "lawful")]
    finally:
        await pool.close()
