"""Which partitions this projector process works on: owned through PostgreSQL advisory
locks, on one connection the process holds for as long as it runs.

Every process holds a shared *member* lock, so that the live projector processes of the
database are the holders of that lock (``pg_locks``; no heartbeat table, and a process
that dies leaves it the moment its connection drops, SIGKILL included). Each process owns
at most its fair share of the partitions, ceil(partitions / live processes), each by an
exclusive session lock; every ``interval`` it gives back what lies beyond its share (a
process joined) and claims free partitions up to it (a process left). A dead owner's
partitions are free as soon as PostgreSQL sees its connection close, and taken within one
interval. Owning is how the work is shared, not what keeps it right: the follower's row
lock on its tracking position still lets only one transaction at a time handle a
partition's batch, so two processes that both believe they own one take turns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable

import asyncpg

from .partitions import fair_share, to_claim, to_release

log = logging.getLogger("grondslag.projector")
APPLICATION = "grondslag-projector"
# the two-number advisory lock ids of the projector: (MEMBERS, 0) and (PARTITIONS, n)
MEMBERS, PARTITIONS = 0x4752_0001, 0x4752_0002
_HELD = """
SELECT l.objid::bigint AS key, l.pid FROM pg_locks l
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 AND l.classid = $1::bigint::oid
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


class Ownership:
    """Claims and gives back partitions; ``start(p)`` begins the work of a partition
    claimed, ``stop(p)`` ends it (before its lock is given back)."""

    def __init__(
        self,
        dsn: str,
        count: int,
        start: Callable[[int], None],
        stop: Callable[[int], Awaitable[None]],
        *,
        interval: float = 0.5,
    ):
        self.dsn, self.count, self.interval = dsn, count, interval
        self._start, self._stop = start, stop
        self.owned: set[int] = set()
        self.alive = 0
        self.owners: dict[int, int] = {}  # partition → the owner's backend pid, last seen
        self.pid: int | None = None  # this process's backend pid on the owning connection
        self.connected = asyncio.Event()

    async def run(self) -> None:
        """Own partitions until cancelled; a lost connection ends the work on every
        partition (its locks are gone with it) and is opened again."""
        while True:
            conn = None
            try:
                # the process's own pid in pg_stat_activity: which process owns what
                name = f"{APPLICATION}:{os.getpid()}"
                conn = await asyncpg.connect(self.dsn, server_settings={"application_name": name})
                self.pid = conn.get_server_pid()
                await conn.execute("SELECT pg_advisory_lock_shared($1, 0)", MEMBERS)
                self.connected.set()
                while True:
                    await self.balance(conn)
                    await asyncio.sleep(self.interval)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("projector: partition ownership lost (%r); claiming again", error)
            finally:
                self.connected.clear()
                await self._give_up_all()
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close(timeout=1)
            await asyncio.sleep(self.interval)

    async def balance(self, conn: asyncpg.Connection) -> None:
        """Give back what lies beyond the fair share, then claim free partitions up to it."""
        members = await conn.fetch(_HELD, MEMBERS)
        self.alive = len({row["pid"] for row in members})
        share = fair_share(self.count, self.alive)
        given_back = []
        for partition in to_release(self.owned, share):
            await self._stop(partition)
            await conn.execute("SELECT pg_advisory_unlock($1, $2)", PARTITIONS, partition)
            self.owned.discard(partition)
            given_back.append(partition)
        if given_back:
            log.info("projector: %s given back (%s)", _partitions(given_back), _alive(self.alive))
        held = {row["key"]: row["pid"] for row in await conn.fetch(_HELD, PARTITIONS)}
        start = (self.pid or os.getpid()) % self.count
        claimed = []
        for partition in to_claim(self.count, self.owned, set(held), share, start):
            if await conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", PARTITIONS, partition):
                self.owned.add(partition)
                held[partition] = self.pid or 0
                claimed.append(partition)
                self._start(partition)
        if claimed:  # one line for what one round took, not one per partition
            log.info("projector: %s claimed (%s)", _partitions(claimed), _alive(self.alive))
        self.owners = held

    async def _give_up_all(self) -> None:
        for partition in sorted(self.owned):
            with contextlib.suppress(Exception):
                await self._stop(partition)
        self.owned.clear()


def _partitions(numbers: list[int]) -> str:
    listed = ", ".join(str(n) for n in sorted(numbers))
    return f"partition {listed}" if len(numbers) == 1 else f"partitions {listed}"


def _alive(count: int) -> str:
    return "1 process" if count == 1 else f"{count} processes"
