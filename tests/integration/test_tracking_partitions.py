"""The tracking rows of partitioned projections: migration 4 turns each projection's one row
into the default count's rows at its position; the count changes only while every
partition is at one position, and a follower of a count no longer stored stops rather than
move a position the others read differently."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import asyncpg
import psycopg
import pytest

from grondslag.ledger.persistence.migrations import v0001_schema, v0004_tracking_partitions
from grondslag.projector import tracking
from grondslag.projector.follower import LogFollower


@pytest.fixture
def url(new_database: Callable[[str], AbstractContextManager[str]]) -> Iterator[str]:
    with new_database("grondslag_tracking") as url:
        yield url


def test_migration_4_makes_eight_partitions_of_each_row_at_its_position(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(v0001_schema.SQL.encode())  # the tables of release 0.1.0 (and the log)
        conn.execute(
            "INSERT INTO grondslag_tracking (projection, position, failures) "
            "VALUES ('current_standing', 41, 2), ('audit_log', 7, 0)"
        )
        conn.execute(v0004_tracking_partitions.SQL.encode())
        rows = conn.execute(
            "SELECT projection, partition, partitions, position FROM grondslag_tracking "
            "ORDER BY projection, partition"
        ).fetchall()
    assert rows == [("audit_log", p, 8, 7) for p in range(8)] + [
        ("current_standing", p, 8, 41) for p in range(8)
    ]


async def _rows(conn: asyncpg.Connection, name: str) -> list[tuple[Any, ...]]:
    return [
        tuple(r)
        for r in await conn.fetch(
            "SELECT partition, partitions, position FROM grondslag_tracking "
            "WHERE projection = $1 ORDER BY partition",
            name,
        )
    ]


async def test_the_count_changes_only_with_every_partition_at_one_position(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(tracking.DDL)
        await tracking.ensure(conn, "p", 4)
        assert await _rows(conn, "p") == [(n, 4, 0) for n in range(4)]
        await conn.execute("UPDATE grondslag_tracking SET position = 9 WHERE projection = 'p'")
        await tracking.ensure(conn, "p", 2)  # all at 9: safe, made anew there
        assert await _rows(conn, "p") == [(0, 2, 9), (1, 2, 9)]

        await conn.execute("UPDATE grondslag_tracking SET position = 12 WHERE partition = 1")
        with pytest.raises(tracking.PartitionCountChanged) as refused:
            await tracking.ensure(conn, "p", 4)
        assert "split into 2 partitions, not the 4" in str(refused.value)
        assert "GRONDSLAG_PROJECTION_PARTITIONS=2" in str(refused.value)
        assert await _rows(conn, "p") == [(0, 2, 9), (1, 2, 12)]  # untouched
        await tracking.ensure(conn, "p", 2)  # the stored count itself: fine
    finally:
        await conn.close()


async def test_a_follower_of_a_count_no_longer_stored_moves_nothing(url: str) -> None:
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    try:
        await pool.execute(tracking.DDL)
        handled: list[Any] = []

        async def handler(_: Any, events: list[Any]) -> None:
            handled.extend(events)

        old = LogFollower(pool, url, "q", handler, partition=1, partitions=4, raw=True)
        await old.setup()
        async with pool.acquire() as conn:
            await tracking.ensure(conn, "q", 2)  # another process, all at 0: changed
        with pytest.raises(tracking.PartitionGone, match="restart with that count"):
            await old.step()
        assert handled == []
    finally:
        await pool.close()


async def test_a_swap_locks_every_partition_of_its_projection(url: str) -> None:
    """``lock_projection`` (what the rebuild's swap and the request index's rebuild take)
    holds every partition's row, not the first one's only, as ``fetchval … FOR UPDATE``
    did (asyncpg asks the server for one row, and only rows returned are locked): a
    follower of the last partition waits for the swap."""
    holder, other = await asyncpg.connect(url), await asyncpg.connect(url)
    try:
        await holder.execute(tracking.DDL)
        await tracking.ensure(holder, "p", 4)
        for lock in (
            lambda: holder.fetchval(
                f"SELECT position FROM {tracking.TABLE} WHERE projection = 'p' FOR UPDATE"
            ),
            lambda: tracking.lock_projection(holder, "p"),
        ):
            async with holder.transaction():
                await lock()
                last = await other.fetch(
                    f"SELECT position FROM {tracking.TABLE} "
                    "WHERE projection = 'p' AND partition = 3 FOR UPDATE SKIP LOCKED"
                )
            locked_all = last == []
        assert locked_all  # the second way; the first left partition 3 free (asserted below)
        async with holder.transaction():
            await holder.fetchval(
                f"SELECT position FROM {tracking.TABLE} WHERE projection = 'p' FOR UPDATE"
            )
            assert await other.fetch(
                f"SELECT position FROM {tracking.TABLE} "
                "WHERE projection = 'p' AND partition = 3 FOR UPDATE SKIP LOCKED"
            ), "fetchval locked every row after all: the old way was right"
    finally:
        await holder.close()
        await other.close()
