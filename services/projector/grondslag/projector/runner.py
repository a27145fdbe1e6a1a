"""Runs the projections of the projector until stopped (in ``serve`` or ``project``)."""

from __future__ import annotations

import asyncio
import contextlib

import anyio.to_thread
import asyncpg

from grondslag.ledger.application import Ledger
from grondslag.ledger.audit import signing
from grondslag.ledger.audit import store as audit_store
from grondslag.ledger.bootstrap import build_ledger
from grondslag.ledger.persistence.warm_up import warm_up
from grondslag.ledger.reads.pool import create_read_pool
from grondslag.ledger.settings import Settings

from . import audit_log, current_standing, request_index
from .checkpointer import Checkpointer
from .deadline_clock import DeadlineClock
from .follower import LogFollower
from .jetstream import StreamShape
from .keys import by_tenant
from .messages import MESSAGE_TYPES, envelope_of
from .relay import run_relay
from .request_clock import RequestClock


def followers(pool: asyncpg.Pool, dsn: str, poll_seconds: float = 1.0) -> list[LogFollower]:
    """The read model and the audit log (the relay follows where NATS is, ``run_relay``)."""
    return [
        LogFollower(
            pool, dsn, current_standing.NAME, current_standing.project, poll_seconds=poll_seconds
        ),
        LogFollower(
            pool,
            dsn,
            audit_log.NAME,
            audit_log.append,
            poll_seconds=poll_seconds,
            raw=True,
            keys=by_tenant,  # a tenant's leaves are in log order: none overtakes a held one
        ),
        LogFollower(
            pool,
            dsn,
            request_index.NAME,
            request_index.project,
            poll_seconds=poll_seconds,
            topics=request_index.TOPICS,
        ),
    ]


class Projector:
    """Owns a pool and the followers; ``start`` in a running loop, ``stop`` to end."""

    def __init__(self, settings: Settings):
        assert settings.database_url
        self.settings = settings
        self.pool: asyncpg.Pool | None = None
        self.followers: list[LogFollower] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.ledger: Ledger | None = None
        self.clock: DeadlineClock | None = None
        self.request_clock: RequestClock | None = None
        self.checkpointer: Checkpointer | None = None

    async def start(self) -> None:
        # on this thread, before a follower decodes here and the deadline clock in a thread
        warm_up(envelope_of(data) for _, data, _ in MESSAGE_TYPES.values())
        dsn = self.settings.database_url
        assert dsn
        # the ledger first: it creates the event store that the followers read
        self.ledger = await anyio.to_thread.run_sync(build_ledger, self.settings, 4)
        self.pool = await create_read_pool(dsn, min_size=1, max_size=6)
        await current_standing.create_tables(self.pool)
        await audit_store.create_tables(self.pool)
        await request_index.create_tables(self.pool)
        self.followers = followers(self.pool, dsn, self.settings.projection_poll_seconds)
        for follower in self.followers:
            await follower.setup()
            self._tasks.append(asyncio.create_task(follower.run(), name=follower.name))
        key = signing.KeyFile(self.settings.signing_key_path)
        await anyio.to_thread.run_sync(key.current)  # made on first start
        self.checkpointer = Checkpointer(
            self.pool,
            dsn,
            key,
            self.settings.checkpoint_seconds,
            self.settings.nats_url,
            self.settings.checkpoint_heartbeat_seconds,
            StreamShape.of(self.settings),
        )
        await self.checkpointer.setup()
        self._tasks.append(asyncio.create_task(self.checkpointer.run(), name="checkpointer"))
        self.clock = DeadlineClock(self.pool, self.ledger)
        self._tasks.append(asyncio.create_task(self.clock.run(), name="deadline_clock"))
        self.request_clock = RequestClock(self.pool, self.ledger, self.settings.request_due_soon)
        self._tasks.append(asyncio.create_task(self.request_clock.run(), name="request_clock"))
        if self.settings.nats_url:
            relay = run_relay(
                self.pool,
                dsn,
                self.settings.nats_servers,
                self.settings.projection_poll_seconds,
                StreamShape.of(self.settings),
            )
            self._tasks.append(asyncio.create_task(relay, name="nats_relay"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.pool is not None:
            await self.pool.close()
        if self.ledger is not None:
            self.ledger.close()
