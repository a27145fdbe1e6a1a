"""One follower over several partitions of the log, as a projector process runs one per
projection over the partitions it owns: it handles exactly their events, once, and moves
each partition's position by itself; a partition removed is no longer handled once the
removal returned (and the removal waits for the batch in flight that includes it); a
partition added behind the others catches up without the others' events coming again."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from typing import Any

import asyncpg

from grondslag.ledger.domain.values import PersonalData
from grondslag.ledger.persistence.postgres import EVENTS_TABLE, STREAMS_TABLE
from grondslag.projector.follower import LogFollower
from grondslag.projector.partitions import partition_of

from projector_support import HEAD, wait_for

COUNT = 4


def tenants_by_partition() -> dict[int, str]:
    """A tenant of its own in each of the ``COUNT`` partitions."""
    found: dict[int, str] = {}
    while len(found) < COUNT:
        tenant = f"t-{secrets.token_hex(4)}"
        found.setdefault(partition_of(tenant, COUNT), tenant)
    return found


def write(ledger: Any, tenants: dict[int, str], partitions: list[int], n: int = 2) -> None:
    """``n`` subjects registered in the tenant of each of ``partitions``, alternating."""
    for i in range(n):
        for partition in partitions:
            ledger.put_subject(
                tenants[partition], f"client-{secrets.token_hex(3)}-{i}", PersonalData()
            )


async def events_after(
    pool: asyncpg.Pool, position: int, tenants: dict[int, str], partitions: set[int]
) -> list[int]:
    """The notification ids after ``position`` of the tenants of ``partitions``, in order."""
    rows = await pool.fetch(
        f"SELECT e.notification_id FROM {EVENTS_TABLE} e JOIN {STREAMS_TABLE} s "
        "USING (originator_id) WHERE e.notification_id > $1 AND s.tenant = ANY($2::text[]) "
        "ORDER BY e.notification_id",
        position,
        [tenants[p] for p in partitions],
    )
    return [row[0] for row in rows]


async def positions(pool: asyncpg.Pool, name: str) -> dict[int, int]:
    rows = await pool.fetch(
        "SELECT partition, position FROM grondslag_tracking WHERE projection = $1", name
    )
    return {row["partition"]: row["position"] for row in rows}


async def follower_of(
    pool: asyncpg.Pool, url: str, handled: list[tuple[int, int]], **options: Any
) -> LogFollower:
    """A follower of ``COUNT`` partitions at the log's head, recording (id, partition)."""

    async def handler(_: asyncpg.Connection, rows: list[tuple[int, Any]]) -> None:
        handled.extend((notification_id, row["of_partition"]) for notification_id, row in rows)

    name = f"test-{secrets.token_hex(4)}"
    follower = LogFollower(pool, url, name, handler, raw=True, partitions=COUNT, **options)
    await follower.setup()
    await pool.execute(
        f"UPDATE grondslag_tracking SET position = ({HEAD}) WHERE projection = $1", name
    )
    return follower


async def test_a_follower_of_partitions_0_and_2_handles_exactly_theirs_once(
    ledger: Any, pool: asyncpg.Pool, own_database_url: str
) -> None:
    tenants = tenants_by_partition()
    handled: list[tuple[int, int]] = []
    # batches of 3: full batches (each position to the batch's end) and a last short one
    follower = await follower_of(pool, own_database_url, handled, owned={0, 2}, batch_size=3)
    start = await pool.fetchval(HEAD)
    write(ledger, tenants, [0, 1, 2, 3], n=3)

    assert await follower.catch_up() > 0
    head = await pool.fetchval(HEAD)
    expected = await events_after(pool, start, tenants, {0, 2})
    assert len(expected) >= 6
    assert [i for i, _ in handled] == expected  # each once, in log order, none of 1 or 3
    assert {p for _, p in handled} == {0, 2}
    assert await positions(pool, follower.name) == {0: head, 1: start, 2: head, 3: start}
    assert await follower.catch_up() == 0  # nothing again
    assert len(handled) == len(expected)


async def test_a_partition_removed_mid_run_is_no_longer_handled_after_removal(
    ledger: Any, pool: asyncpg.Pool, own_database_url: str
) -> None:
    tenants = tenants_by_partition()
    handled: list[tuple[int, int]] = []
    gate, in_batch = asyncio.Event(), asyncio.Event()

    async def handler(_: asyncpg.Connection, rows: list[tuple[int, Any]]) -> None:
        in_batch.set()
        await gate.wait()  # the first batch stays in flight until the test lets it end
        handled.extend((notification_id, row["of_partition"]) for notification_id, row in rows)

    name = f"test-{secrets.token_hex(4)}"
    follower = LogFollower(
        pool, own_database_url, name, handler, raw=True, partitions=COUNT, owned={0, 1},
        poll_seconds=0.1,
    )  # fmt: skip
    await follower.setup()
    await pool.execute(
        f"UPDATE grondslag_tracking SET position = ({HEAD}) WHERE projection = $1", name
    )
    start = await pool.fetchval(HEAD)
    write(ledger, tenants, [0, 1])
    task = asyncio.create_task(follower.run())
    try:
        await asyncio.wait_for(in_batch.wait(), 10)
        removal = asyncio.create_task(follower.remove(1))
        await asyncio.sleep(0.3)
        assert not removal.done()  # the batch in flight includes partition 1: it waits
        gate.set()
        await asyncio.wait_for(removal, 10)
        removed_at = (await positions(pool, name))[1]
        first = await events_after(pool, start, tenants, {0, 1})
        assert [i for i, _ in handled] == first  # the batch in flight ended whole

        later = await pool.fetchval(HEAD)
        write(ledger, tenants, [1, 0])
        wanted = await events_after(pool, later, tenants, {0})

        async def partition_0_handled() -> bool:
            return [i for i, p in handled if i > later] == wanted

        await wait_for(partition_0_handled, 10, "partition 0's later events handled")
        assert [p for i, p in handled if i > later] == [0] * len(wanted)
        assert (await positions(pool, name))[1] == removed_at  # partition 1 left alone
    finally:
        gate.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_partition_added_behind_catches_up_without_repeating_the_others(
    ledger: Any, pool: asyncpg.Pool, own_database_url: str
) -> None:
    tenants = tenants_by_partition()
    handled: list[tuple[int, int]] = []
    follower = await follower_of(pool, own_database_url, handled, owned={0}, batch_size=2)
    behind = await pool.fetchval(HEAD)  # where partition 1 stays, not followed
    write(ledger, tenants, [0, 1, 2])
    await follower.catch_up()
    ahead = await pool.fetchval(HEAD)
    assert await positions(pool, follower.name) == {0: ahead, 1: behind, 2: behind, 3: behind}
    assert [i for i, _ in handled] == await events_after(pool, behind, tenants, {0})

    write(ledger, tenants, [1, 0])
    handled.clear()
    follower.add(1)
    await follower.catch_up()
    head = await pool.fetchval(HEAD)
    # partition 1 from where it was, partition 0 only after where it had got to: in log order
    expected = sorted(
        await events_after(pool, behind, tenants, {1})
        + await events_after(pool, ahead, tenants, {0})
    )
    assert [i for i, _ in handled] == expected
    assert len(set(handled)) == len(handled)
    assert await positions(pool, follower.name) == {0: head, 1: head, 2: behind, 3: behind}
