"""One share of a rebuild: some of the standings folded into the fresh table.

A rebuild in K jobs gives job j the standings whose stream id is in partition j of K
(``partitions.sql_partition``, the projectors' own hash, of the id rather than the tenant):
the shares are disjoint, together are every standing, and are even whatever the tenants —
a read-model row is one standing's fold and needs no other's, so, unlike the audit log's
tree, nothing ties a tenant's standings to one job, and a store of one big tenant folds in
K jobs as well as one of many. One job (K = 1) is every standing. Each share is folded a
chunk at a time and copied into the table; several jobs copy into it side by side, each on
its connection.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

from grondslag.ledger.persistence.postgres import STREAMS_TABLE

from . import current_standing
from .partitions import sql_partition

CHUNK = 1000
EVERY_STANDING = f"SELECT originator_id FROM {STREAMS_TABLE} WHERE kind = 'standing'"
KEY = "originator_id::text"
ONE_SHARE = f"{EVERY_STANDING} AND {sql_partition(KEY, '$2::integer')} = $1"
SHARES = (
    f"SELECT {sql_partition(KEY, '$1::integer')} AS share, count(*) AS standings "
    f"FROM {STREAMS_TABLE} WHERE kind = 'standing' GROUP BY 1"
)
VERSION = current_standing.COLUMNS.index("stream_version")

OnChunk = Callable[[int, int], None]  # (standings, their events) of a chunk just copied


class RebuildFailed(Exception):
    """The fold did not finish; the half-built table was dropped, the read model is as it
    was."""


@dataclass(frozen=True)
class Share:
    """What one job folded, and what it took: wall and CPU seconds of its own process."""

    standings: int
    events: int
    seconds: float
    cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


async def sizes(conn: asyncpg.Connection, jobs: int) -> list[int]:
    """The standings of each of ``jobs`` shares, as the stream index holds them now."""
    counts = [0] * jobs
    for row in await conn.fetch(SHARES, jobs):
        counts[row["share"]] = row["standings"]
    return counts


async def fold_share(
    conn: asyncpg.Connection, table: str, job: int, jobs: int, folded: OnChunk
) -> Share:
    """Fold share ``job`` of ``jobs`` into ``table``, calling ``folded`` after each chunk."""
    started, cpu = time.perf_counter(), time.process_time()
    if jobs == 1:
        found = await conn.fetch(EVERY_STANDING)
    else:
        found = await conn.fetch(ONE_SHARE, job, jobs)
    ids = [row[0] for row in found]
    events = 0
    for start in range(0, len(ids), CHUNK):
        chunk = set(ids[start : start + CHUNK])
        rows = await current_standing.rows_for(conn, chunk)
        copied = sum(int(row[VERSION]) for row in rows)
        await conn.copy_records_to_table(
            table, records=rows, columns=current_standing.COLUMNS + current_standing.HELD
        )
        events += copied
        folded(len(chunk), copied)
    return Share(len(ids), events, time.perf_counter() - started, time.process_time() - cpu)
