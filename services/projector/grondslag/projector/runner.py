"""Runs the projections of the projector until stopped (in ``serve`` or ``project``).

Each projection's work is split into ``GRONDSLAG_PROJECTION_PARTITIONS`` partitions by
tenant (``partitions``); the process works on the partitions it owns (``ownership``) with
one follower of each projection, the relay's among them, that follows all of them at once
(one query and one transaction per batch): a partition claimed is added to every
follower, and one given back is removed from each, its lock given back only once no batch
that includes it is still in flight. The deadline and request
clocks and the checkpointer run in every process; the clocks handle the tenants of the
partitions this process owns, so that several processes share their work too.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from typing import Any

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
from .kept_standings import KeptStandings
from .keys import by_tenant
from .listener import Listener
from .messages import MESSAGE_TYPES, envelope_of
from .ownership import Ownership
from .partition_watch import PartitionWatch
from .relay import NAME as RELAY
from .relay import NatsLink, follow, relay_follower
from .request_clock import RequestClock

PROJECTIONS = (current_standing.NAME, audit_log.NAME, request_index.NAME)


def followers(
    pool: asyncpg.Pool,
    dsn: str,
    poll_seconds: float = 1.0,
    *,
    partition: int = 0,
    partitions: int = 1,
    owned: set[int] | None = None,
    listener: Listener | None = None,
    kept: KeptStandings | None = None,
) -> list[LogFollower]:
    """The read model (folding onto the ``kept`` standings, where given), the audit log and
    the request index (the relay follows where NATS is, ``relay.relay_follower``), of the
    ``owned`` partitions (``partition`` by default; one partition: all of the log)."""
    shared: dict[str, Any] = {
        "poll_seconds": poll_seconds,
        "partition": partition,
        "partitions": partitions,
        "owned": owned,
        "listener": listener,
    }
    return [
        LogFollower(
            pool,
            dsn,
            current_standing.NAME,
            functools.partial(current_standing.project, kept=kept),
            **shared,
        ),
        LogFollower(
            pool,
            dsn,
            audit_log.NAME,
            audit_log.append,
            raw=True,
            keys=by_tenant,  # a tenant's leaves are in log order: none overtakes a held one
            **shared,
        ),
        LogFollower(
            pool,
            dsn,
            request_index.NAME,
            request_index.project,
            topics=request_index.TOPICS,
            **shared,
        ),
    ]


class Projector:
    """Owns a pool and the followers; ``start`` in a running loop, ``stop`` to end."""

    def __init__(self, settings: Settings):
        assert settings.database_url
        self.settings = settings
        self.pool: asyncpg.Pool | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.followers: list[LogFollower] = []  # one per projection, over the owned partitions
        self.ledger: Ledger | None = None
        self.clock: DeadlineClock | None = None
        self.request_clock: RequestClock | None = None
        self.checkpointer: Checkpointer | None = None
        self.ownership: Ownership | None = None
        self.listener: Listener | None = None
        self.nats: NatsLink | None = None
        self.partition_watch: PartitionWatch | None = None
        self.kept = KeptStandings(settings.projector_kept_standings)

    @property
    def partitions(self) -> int:
        return self.settings.projection_partitions

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
        names = [*PROJECTIONS, *([RELAY] if self.settings.nats_url else [])]
        for name in names:  # the partition count checked (or changed) before any work
            await LogFollower(self.pool, dsn, name, _none, partitions=self.partitions).setup()
        self.partition_watch = PartitionWatch(self.pool, names, self.partitions)
        self._tasks.append(asyncio.create_task(self.partition_watch.run(), name="partitions"))
        self.listener = Listener(dsn)
        self._tasks.append(asyncio.create_task(self.listener.run(), name="listener"))
        poll = self.settings.projection_poll_seconds
        # the followers own no partition yet: the ownership adds them as it claims them
        self.followers = followers(
            self.pool,
            dsn,
            poll,
            partitions=self.partitions,
            owned=set(),
            listener=self.listener,
            kept=self.kept,
        )
        runs = [f.run() for f in self.followers]
        if self.settings.nats_url:
            self.nats = NatsLink(self.settings.nats_servers, StreamShape.of(self.settings))
            relaying = relay_follower(
                self.pool, dsn, self.nats, poll, partitions=self.partitions, owned=set(),
                listener=self.listener,
            )  # fmt: skip
            self.followers.append(relaying)
            runs.append(follow(self.nats, relaying))
        for follower, run in zip(self.followers, runs, strict=True):
            self._tasks.append(asyncio.create_task(run, name=follower.name))
        self.ownership = Ownership(
            dsn, self.partitions, self._start_partition, self._stop_partition
        )
        self._tasks.append(asyncio.create_task(self.ownership.run(), name="ownership"))
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
            listener=self.listener,  # the process's one LISTEN connection
        )
        await self.checkpointer.setup()
        self._tasks.append(asyncio.create_task(self.checkpointer.run(), name="checkpointer"))
        owned = self._owned
        self.clock = DeadlineClock(self.pool, self.ledger, partitions=owned)
        self._tasks.append(asyncio.create_task(self.clock.run(), name="deadline_clock"))
        self.request_clock = RequestClock(
            self.pool, self.ledger, self.settings.request_due_soon, partitions=owned
        )
        self._tasks.append(asyncio.create_task(self.request_clock.run(), name="request_clock"))

    def _owned(self) -> tuple[list[int], int]:
        """The partitions this process owns now, of how many (the clocks' share)."""
        owned = sorted(self.ownership.owned) if self.ownership else []
        return owned, self.partitions

    def _start_partition(self, partition: int) -> None:
        for follower in self.followers:
            follower.add(partition)

    async def _stop_partition(self, partition: int) -> None:
        for follower in self.followers:
            await follower.remove(partition)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.nats is not None:
            await self.nats.close()
        if self.pool is not None:
            await self.pool.close()
        if self.ledger is not None:
            self.ledger.close()


async def _none(_: asyncpg.Connection, __: list[tuple[int, Any]]) -> None:
    """The handler of a follower made only to set up its projection's tracking rows."""
