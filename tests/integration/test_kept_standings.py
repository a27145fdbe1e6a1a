"""The read model folds each batch's new events onto the standings it kept from the last
(``projector.kept_standings``) — and gives, row for row, what folding each stream whole
gives: after more events, after a stored event was rewritten under it (a log restored under
a running projector), after an event that did not decode, and past its capacity."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
import pytest

from grondslag.ledger.domain.ids import standing_id
from grondslag.ledger.domain.values import PersonalData
from grondslag.ledger.persistence.dossiers import StreamUnreadable
from grondslag.ledger.reads.pool import create_read_pool
from grondslag.projector import current_standing
from grondslag.projector.kept_standings import KeptStandings

from projector_support import Store, give, new_tenant, set_state, withdraw

# what a row says, but for when it was folded (answer_from, and the rendered answer's "now")
SAID = slice(0, len(current_standing.COLUMNS) + 2)  # to the subject and register versions


async def rows(
    conn: asyncpg.Connection, standings: set[Any], kept: KeptStandings | None
) -> list[tuple[Any, ...]]:
    return sorted(row[SAID] for row in await current_standing.rows_for(conn, standings, kept))


@contextlib.asynccontextmanager
async def one_client(store: Store) -> AsyncIterator[tuple[str, UUID, asyncpg.Connection]]:
    """A tenant of its own whose one client consented: the tenant, the standing, and a
    connection."""
    tenant = new_tenant(store.ledger)
    store.ledger.put_subject(tenant, "client-1", PersonalData())
    give(store.ledger, tenant, "client-1")
    pool = await create_read_pool(store.url, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            yield tenant, standing_id(tenant, "client-1", "photo"), conn
    finally:
        await pool.close()


async def last_version(conn: asyncpg.Connection, stream: Any) -> int:
    return await conn.fetchval(
        "SELECT max(originator_version) FROM grondslag_events WHERE originator_id = $1", stream
    )


async def test_folding_onto_kept_standings_gives_what_folding_whole_gives(store: Store) -> None:
    ledger, tenant = store.ledger, new_tenant(store.ledger)
    refs = [f"client-{i}" for i in range(4)]
    standings = {standing_id(tenant, ref, "photo") for ref in refs}
    kept = KeptStandings(capacity=100)
    pool = await create_read_pool(store.url, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            for ref in refs:
                ledger.put_subject(tenant, ref, PersonalData())
                give(ledger, tenant, ref)
            assert await rows(conn, standings, kept) == await rows(conn, standings, None)
            assert (kept.hits, len(kept)) == (0, 4)
            consented = set(refs)
            for round_ in range(3):  # each round a new event on every other standing
                for ref in refs[round_ % 2 :: 2]:
                    (withdraw if ref in consented else give)(ledger, tenant, ref)
                    consented ^= {ref}
                assert await rows(conn, standings, kept) == await rows(conn, standings, None)
            assert kept.hits == 12  # every later fold was onto a kept standing
    finally:
        await pool.close()


async def test_a_stored_event_rewritten_under_a_kept_standing_folds_its_stream_whole(
    store: Store,
) -> None:
    """The row at the kept version is read again: bytes other than those folded (a restore
    under a running projector) fold the stream from its first event."""
    kept = KeptStandings(capacity=100)
    async with one_client(store) as (_, standing, conn):
        [before] = await rows(conn, {standing}, kept)
        assert before[current_standing.COLUMNS.index("status")] == "lawful"
        version = await last_version(conn, standing)
        stored = await conn.fetchval(
            "SELECT state FROM grondslag_events WHERE originator_id = $1 "
            "AND originator_version = $2",
            standing,
            version,
        )
        state = msgspec.json.decode(stored)
        past = datetime.now(UTC) - timedelta(days=1)
        state["consent"]["expires_at"] = past.isoformat().replace("+00:00", "Z")
        await set_state(store.url, standing, version, msgspec.json.encode(state))

        [after] = await rows(conn, {standing}, kept)
        assert after == (await rows(conn, {standing}, None))[0]
        assert after[current_standing.COLUMNS.index("status")] == "lapsed"
        assert after[current_standing.COLUMNS.index("reason")] == "expired"
        assert kept.hits == 0


async def test_an_event_that_does_not_decode_leaves_nothing_half_folded_kept(
    store: Store,
) -> None:
    kept = KeptStandings(capacity=100)
    async with one_client(store) as (tenant, standing, conn):
        await rows(conn, {standing}, kept)
        withdraw(store.ledger, tenant, "client-1")
        give(store.ledger, tenant, "client-1")
        version = await last_version(conn, standing)
        good = await set_state(store.url, standing, version, b'{"consent": 7}')
        with pytest.raises(StreamUnreadable):
            await rows(conn, {standing}, kept)  # the withdrawal folded, then this failed
        assert len(kept) == 0
        await set_state(store.url, standing, version, good)
        assert await rows(conn, {standing}, kept) == await rows(conn, {standing}, None)
        [row] = await rows(conn, {standing}, kept)
        assert row[current_standing.COLUMNS.index("status")] == "lawful"


async def test_past_its_capacity_the_least_recently_folded_are_forgotten(store: Store) -> None:
    ledger, tenant = store.ledger, new_tenant(store.ledger)
    refs = [f"client-{i}" for i in range(3)]
    for ref in refs:
        ledger.put_subject(tenant, ref, PersonalData())
        give(ledger, tenant, ref)
    ids = [standing_id(tenant, ref, "photo") for ref in refs]
    kept = KeptStandings(capacity=2)
    pool = await create_read_pool(store.url, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            for standing in ids:
                await rows(conn, {standing}, kept)
            assert len(kept) == 2
            withdraw(ledger, tenant, refs[0])  # the first one folded: forgotten, folded whole
            assert await rows(conn, set(ids), kept) == await rows(conn, set(ids), None)
            assert kept.hits == 2 and len(kept) == 2
            none = KeptStandings(capacity=0)
            assert await rows(conn, set(ids), none) == await rows(conn, set(ids), None)
            assert len(none) == 0
    finally:
        await pool.close()
