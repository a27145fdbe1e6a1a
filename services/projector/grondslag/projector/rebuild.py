"""``grondslag rebuild``: the read model built anew from the log, then swapped in (and the
index of data-subject requests folded anew, ``request_index.rebuild``).

The rows are folded from the event store into a fresh table while the projector keeps
running; the swap renames the tables and sets the projection's position back to where the
rebuild started, in one transaction, so the follower re-applies whatever arrived meanwhile.
The fold runs in this process, or split by standing over ``jobs`` processes
(``rebuild_jobs``) that copy into the same table; a fold that fails drops the table it
began, and the read model stays as it was.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

from grondslag.ledger.persistence.postgres import EVENTS_TABLE
from grondslag.ledger.reads.checks import CURRENT_STANDING_TABLE
from grondslag.ledger.settings import Settings

from . import current_standing, rebuild_jobs, request_index, tracking
from .follower import TRACKING_DDL
from .rebuild_share import RebuildFailed, Share, fold_share, sizes

__all__ = [
    "REBUILD_TABLE",
    "Folded",
    "RebuildFailed",
    "Share",
    "fold_into",
    "rebuild",
    "rebuild_into",
    "swap_in",
]

REBUILD_TABLE = f"{CURRENT_STANDING_TABLE}_rebuild"

Progress = Callable[[int, int, int], None]  # (standings done, of, events read)


@dataclass(frozen=True)
class Folded:
    """A fold into a fresh table: the log position it started from, what each job did."""

    position: int
    shares: list[Share]
    seconds: float

    @property
    def events(self) -> int:
        return sum(share.events for share in self.shares)


async def rebuild_into(
    pool: asyncpg.Pool,
    table: str = REBUILD_TABLE,
    progress: Progress | None = None,
    *,
    jobs: int = 1,
    settings: Settings | None = None,
) -> tuple[int, int]:
    """Fold every standing into a fresh ``table``; answers (log position, events read)."""
    folded = await fold_into(pool, table, progress, jobs=jobs, settings=settings)
    return folded.position, folded.events


async def fold_into(
    pool: asyncpg.Pool,
    table: str = REBUILD_TABLE,
    progress: Progress | None = None,
    *,
    jobs: int = 1,
    settings: Settings | None = None,
) -> Folded:
    """Fold every standing into a fresh ``table``, in this process or in ``jobs`` processes,
    which connect to ``settings.database_url`` and open the keyring ``settings`` name. A
    failure raises ``RebuildFailed`` with the table dropped."""
    if jobs < 1:
        raise ValueError(f"a rebuild runs in at least one job, not {jobs}")
    if jobs > 1 and (settings is None or not settings.database_url):
        raise ValueError("a rebuild in several jobs needs the settings of the database")
    if table == CURRENT_STANDING_TABLE:
        raise ValueError("a rebuild folds into a table of its own, never the read model")
    started = time.perf_counter()
    async with pool.acquire() as conn:
        position = await conn.fetchval(
            f"SELECT coalesce(max(notification_id), 0) FROM {EVENTS_TABLE}"
        )
        total = sum(await sizes(conn, 1))
        await conn.execute(f"DROP TABLE IF EXISTS {table}")
        await conn.execute(current_standing.ddl(table))
    done = events = 0

    def folded(standings: int, read: int) -> None:
        nonlocal done, events
        done, events = done + standings, events + read
        if progress:
            progress(done, max(total, done), events)

    try:
        if jobs == 1:
            async with pool.acquire() as conn:
                shares = [await fold_share(conn, table, 0, 1, folded)]
        else:
            assert settings is not None
            shares = await rebuild_jobs.fold(settings, table, jobs, folded)
    except BaseException as error:
        await pool.execute(f"DROP TABLE IF EXISTS {table}")
        if isinstance(error, Exception) and not isinstance(error, RebuildFailed):
            raise RebuildFailed(f"the rebuild failed: {type(error).__name__}: {error}") from error
        raise
    return Folded(position, shares, time.perf_counter() - started)


async def swap_in(pool: asyncpg.Pool, position: int, table: str = REBUILD_TABLE) -> None:
    """Make ``table`` the read model and replay the log from ``position`` onto it."""
    target = CURRENT_STANDING_TABLE
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(TRACKING_DDL)
        await conn.execute(
            "INSERT INTO grondslag_tracking (projection) VALUES ($1) ON CONFLICT DO NOTHING",
            current_standing.NAME,
        )
        await tracking.lock_projection(conn, current_standing.NAME)
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


async def rebuild(
    pool: asyncpg.Pool,
    progress: Progress | None = None,
    *,
    jobs: int = 1,
    settings: Settings | None = None,
) -> dict[str, float]:
    """Fold the read model anew (in ``jobs`` processes), swap it in, and fold the request
    index anew."""
    started = time.perf_counter()
    position, events = await rebuild_into(pool, progress=progress, jobs=jobs, settings=settings)
    await swap_in(pool, position)
    requests = await request_index.rebuild(pool)
    elapsed = time.perf_counter() - started
    return {
        "events": events,
        "seconds": elapsed,
        "events_per_second": events / elapsed if elapsed else 0.0,
        "requests": requests,
        "jobs": jobs,
    }
