"""``grondslag rebuild``: the read model built anew from the log, then swapped in (and the
index of data-subject requests folded anew, ``request_index.rebuild``).

The rows are folded from the event store into a fresh table while the projector keeps
running; the swap renames the tables and sets the projection's position back to where the
rebuild started, in one transaction, so the follower re-applies whatever arrived meanwhile.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import asyncpg

from grondslag.ledger.persistence.postgres import EVENTS_TABLE, STREAMS_TABLE
from grondslag.ledger.reads.checks import CURRENT_STANDING_TABLE

from . import current_standing, request_index
from .follower import TRACKING_DDL

REBUILD_TABLE = f"{CURRENT_STANDING_TABLE}_rebuild"
CHUNK = 1000

Progress = Callable[[int, int, int], None]  # (standings done, of, events read)


async def rebuild_into(
    pool: asyncpg.Pool, table: str = REBUILD_TABLE, progress: Progress | None = None
) -> tuple[int, int]:
    """Fold every standing into a fresh ``table``; answers (log position, events read)."""
    async with pool.acquire() as conn:
        position = await conn.fetchval(
            f"SELECT coalesce(max(notification_id), 0) FROM {EVENTS_TABLE}"
        )
        ids = [
            row[0]
            for row in await conn.fetch(
                f"SELECT originator_id FROM {STREAMS_TABLE} WHERE kind = 'standing'"
            )
        ]
        await conn.execute(f"DROP TABLE IF EXISTS {table}")
        await conn.execute(current_standing.ddl(table))
        events = 0
        for start in range(0, len(ids), CHUNK):
            chunk = set(ids[start : start + CHUNK])
            rows = await current_standing.rows_for(conn, chunk)
            version = current_standing.COLUMNS.index("stream_version")
            events += sum(int(row[version]) for row in rows)
            await conn.copy_records_to_table(
                table, records=rows, columns=current_standing.COLUMNS + current_standing.HELD
            )
            if progress:
                progress(min(start + CHUNK, len(ids)), len(ids), events)
    return position, events


async def swap_in(pool: asyncpg.Pool, position: int, table: str = REBUILD_TABLE) -> None:
    """Make ``table`` the read model and replay the log from ``position`` onto it."""
    target = CURRENT_STANDING_TABLE
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(TRACKING_DDL)
        await conn.execute(
            "INSERT INTO grondslag_tracking (projection) VALUES ($1) ON CONFLICT DO NOTHING",
            current_standing.NAME,
        )
        await conn.fetchval(
            "SELECT position FROM grondslag_tracking WHERE projection = $1 FOR UPDATE",
            current_standing.NAME,
        )
        await conn.execute(f"DROP TABLE IF EXISTS {target}")
        await conn.execute(f"ALTER TABLE {table} RENAME TO {target}")
        indexes = await conn.fetch("SELECT indexname FROM pg_indexes WHERE tablename = $1", target)
        for (name,) in indexes:  # index names are global: give them the table's name back
            if name.startswith(table):
                await conn.execute(f'ALTER INDEX "{name}" RENAME TO "{target}{name[len(table) :]}"')
        await conn.execute(
            "UPDATE grondslag_tracking SET position = $2 WHERE projection = $1",
            current_standing.NAME,
            position,
        )


async def rebuild(pool: asyncpg.Pool, progress: Progress | None = None) -> dict[str, float]:
    started = time.perf_counter()
    position, events = await rebuild_into(pool, progress=progress)
    await swap_in(pool, position)
    requests = await request_index.rebuild(pool)
    elapsed = time.perf_counter() - started
    return {
        "events": events,
        "seconds": elapsed,
        "events_per_second": events / elapsed if elapsed else 0.0,
        "requests": requests,
    }
