"""The tracking rows: one position per partition of each projection.

Every row names the partition count it belongs to (``partitions``), and a follower locks
its row only under the count it was started with, so that a process started with another
count can never advance a position the others read differently. The count is changed here
only at a moment when it is safe to change: when every partition of the projection is at
the same position (each event up to it handled by its partition, none after it), which is
so whenever the projectors caught up with the log and no one wrote since. At any other
moment ``ensure`` refuses, naming the count stored.
"""

from __future__ import annotations

import asyncpg

TABLE = "grondslag_tracking"
DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    projection text NOT NULL,
    position bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    failures bigint NOT NULL DEFAULT 0,
    last_error text,
    partition integer NOT NULL DEFAULT 0,
    partitions integer NOT NULL DEFAULT 1,
    PRIMARY KEY (projection, partition)
);
"""
LOCK_POSITION = (
    f"SELECT position FROM {TABLE} WHERE projection = $1 AND partition = $2 AND partitions = $3 "
    "FOR UPDATE"
)
# in partition order, so that two processes locking overlapping sets never deadlock
LOCK_POSITIONS = (
    f"SELECT partition, position FROM {TABLE} WHERE projection = $1 "
    "AND partition = ANY($2::integer[]) AND partitions = $3 ORDER BY partition FOR UPDATE"
)
MOVE = (
    f"UPDATE {TABLE} t SET position = m.position, updated_at = now() "
    "FROM unnest($2::integer[], $3::bigint[]) AS m(partition, position) "
    "WHERE t.projection = $1 AND t.partition = m.partition"
)
# several processes setting up the same projection at once take turns (any 64-bit number
# of our own: the schema lock is another)
PLAN_LOCK = 0x4752_5452_4B00_0001


class PartitionCountChanged(RuntimeError):
    """The projection's partitions are stored under another count, at different positions."""

    def __init__(self, projection: str, stored: int, wanted: int):
        super().__init__(
            f"projection {projection} is split into {stored} partitions, not the "
            f"{wanted} of GRONDSLAG_PROJECTION_PARTITIONS, and they are at different "
            f"positions: start with GRONDSLAG_PROJECTION_PARTITIONS={stored}, and change it "
            "once the projectors have caught up with no writes meanwhile"
        )
        self.projection, self.stored, self.wanted = projection, stored, wanted


class PartitionGone(RuntimeError):
    """A follower's tracking row is no longer there under its count: another process
    repartitioned the projection, and this one must restart with the new count."""


async def ensure(conn: asyncpg.Connection, projection: str, count: int) -> None:
    """The projection's ``count`` rows: made at position 0 for a new projection, made anew
    at the common position when the count changed safely; ``PartitionCountChanged`` else."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", PLAN_LOCK)
        rows = await conn.fetch(
            f"SELECT partition, partitions, position FROM {TABLE} WHERE projection = $1 "
            "ORDER BY partition FOR UPDATE",
            projection,
        )
        if sorted(r["partition"] for r in rows) == list(range(count)) and all(
            r["partitions"] == count for r in rows
        ):
            return
        positions = {r["position"] for r in rows}
        if len(positions) > 1:
            raise PartitionCountChanged(projection, stored_count(rows), count)
        position = positions.pop() if positions else 0
        await conn.execute(f"DELETE FROM {TABLE} WHERE projection = $1", projection)
        await conn.executemany(
            f"INSERT INTO {TABLE} (projection, partition, partitions, position) "
            "VALUES ($1, $2, $3, $4)",
            [(projection, p, count, position) for p in range(count)],
        )


def stored_count(rows: list[asyncpg.Record]) -> int:
    return max((r["partitions"] for r in rows), default=len(rows))


async def count_of(conn: asyncpg.Connection | asyncpg.Pool, projection: str) -> int:
    """The partition count the projection's rows are stored under (1 when there are none)."""
    return (
        await conn.fetchval(
            f"SELECT max(partitions) FROM {TABLE} WHERE projection = $1", projection
        )
        or 1
    )


async def lock_all(
    conn: asyncpg.Connection, projection: str, partitions: list[int], count: int
) -> dict[int, int]:
    """The positions of ``partitions``, their rows locked (in partition order) until the
    transaction ends: the safety net under the ownership (two processes that both think
    they own a partition take turns); ``PartitionGone`` when one is not stored under
    ``count``."""
    rows = await conn.fetch(LOCK_POSITIONS, projection, partitions, count)
    positions = {row["partition"]: int(row["position"]) for row in rows}
    for partition in partitions:
        if partition not in positions:
            raise PartitionGone(
                f"projection {projection} has no partition {partition} of {count} any more "
                f"(now {await count_of(conn, projection)}): restart with that count"
            )
    return positions


async def move(conn: asyncpg.Connection, projection: str, positions: dict[int, int]) -> None:
    """Set the partitions' positions (their rows locked by ``lock_all``), in one statement."""
    if positions:
        await conn.execute(MOVE, projection, list(positions), list(positions.values()))


async def lock_projection(conn: asyncpg.Connection, projection: str) -> None:
    """Every tracking row of the projection locked until the transaction ends, in partition
    order as the followers lock theirs: a swap or a rebuild that moves the positions waits
    for the batches in flight, and none starts until it commits. (``fetchval`` would lock
    the first row only: asyncpg asks the server for one row, and only rows returned are
    locked.)"""
    await conn.fetch(
        f"SELECT position FROM {TABLE} WHERE projection = $1 ORDER BY partition FOR UPDATE",
        projection,
    )
