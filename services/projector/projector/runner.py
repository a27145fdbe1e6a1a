"""Runs the projections of the projector until stopped (in ``serve`` or ``project``)."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
from ledger.reads.pool import create_read_pool
from ledger.settings import Settings

from . import current_standing
from .follower import LogFollower


class Projector:
    """Owns a pool and the followers; ``start`` in a running loop, ``stop`` to end."""

    def __init__(self, settings: Settings):
        assert settings.database_url
        self.settings = settings
        self.pool: asyncpg.Pool | None = None
        self.followers: list[LogFollower] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        dsn = self.settings.database_url
        assert dsn
        self.pool = await create_read_pool(dsn, min_size=1, max_size=4)
        await current_standing.create_tables(self.pool)
        self.followers = [
            LogFollower(
                self.pool,
                dsn,
                current_standing.NAME,
                current_standing.project,
                poll_seconds=self.settings.projection_poll_seconds,
            ),
        ]
        for follower in self.followers:
            await follower.setup()
            self._tasks.append(asyncio.create_task(follower.run(), name=follower.name))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.pool is not None:
            await self.pool.close()
