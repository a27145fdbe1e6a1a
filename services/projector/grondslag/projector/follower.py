"""Follow the event store's notification log from a tracking position.

Each batch is handled and its position committed in one transaction, under a row lock on
the tracking row: a crash never skips or repeats an event, and a second projector process
simply waits its turn. Notification ids can have gaps, so we always ask for "greater than
my position". Woken by LISTEN/NOTIFY (the recorder notifies on every insert), with a
polling fallback.

The log may be split into partitions (``partitions``: the events of the tenants that hash
to each), each with a tracking row of its own. One follower follows the partitions its
process owns (``owned``, by default ``{partition}``; ``add`` and ``remove`` change it as
the process claims and gives back partitions), all in one query and one transaction per
batch: it locks their rows (in partition order), reads their events after the lowest of
their positions, handles each event beyond its own partition's position, and moves every
position as far as the batch went — to the batch's last event when it was full, else to
the head of the log as the same statement saw it: the events between belong to other
partitions, and the recorder's table lock makes notification ids commit in order, so none
below that head can appear later.

A batch that fails for a reason of its own (an event that cannot be decoded, a handler
that crashes on it) is handled again key by key (stream, or tenant), each in a savepoint:
the keys that fail are quarantined, the others' work stays, and the position moves on.
Later events of a quarantined key are passed over and held in the log until a retry
handles them in order (``release.release_key``). Transient errors (the database or NATS
away) fail the batch, to be tried again whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import asyncpg

from grondslag.ledger.persistence.mapper import decode_event
from grondslag.ledger.persistence.postgres import EVENTS_TABLE, STREAMS_TABLE

from . import quarantine, tracking
from .keys import Key, by_stream
from .listener import Listener, woken
from .partitions import SQL_KEY, sql_partition

log = logging.getLogger("grondslag.projector")

TRACKING_DDL = tracking.DDL
COLUMNS = "e.notification_id, e.originator_id, e.originator_version, e.topic, e.state"
WHOLE_LOG = (
    f"SELECT {COLUMNS} FROM {EVENTS_TABLE} e WHERE e.notification_id > $1 "
    "ORDER BY e.notification_id LIMIT $2"
)
# one statement, one snapshot: the partitions' next events (each with its partition) and
# the head they were read at
SOME_PARTITIONS = f"""
SELECT h.head, p.* FROM (SELECT coalesce(max(notification_id), 0) AS head FROM {EVENTS_TABLE}) h
LEFT JOIN LATERAL (
    SELECT {COLUMNS}, {sql_partition(SQL_KEY, "$4")} AS of_partition FROM {EVENTS_TABLE} e
    LEFT JOIN {STREAMS_TABLE} s ON s.originator_id = e.originator_id
    WHERE e.notification_id > $1 AND {sql_partition(SQL_KEY, "$4")} = ANY($3::integer[])
    ORDER BY e.notification_id LIMIT $2
) p ON true
ORDER BY p.notification_id
"""

Handler = Callable[[asyncpg.Connection, list[tuple[int, Any]]], Awaitable[None]]
Keys = Callable[[asyncpg.Connection, list[asyncpg.Record]], Awaitable[list[Key]]]


class UndecodableEvent(ValueError):
    """A stored event whose bytes no longer make the event its topic names."""


class LogFollower:
    """Feeds batches of decoded events to ``handler`` inside the position's transaction."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        dsn: str,
        name: str,
        handler: Handler,
        *,
        batch_size: int = 500,
        poll_seconds: float = 1.0,
        coalesce_seconds: float = 0.02,
        raw: bool = False,
        keys: Keys = by_stream,
        topics: tuple[str, ...] = (),
        partition: int = 0,
        partitions: int = 1,
        owned: Iterable[int] | None = None,
        listener: Listener | None = None,
    ):
        self.pool, self.dsn, self.name, self.handler = pool, dsn, name, handler
        self.batch_size, self.poll_seconds = batch_size, poll_seconds
        self.coalesce_seconds = coalesce_seconds
        self.raw = raw  # hand over the stored rows themselves (the audit log hashes them)
        self.keys = keys  # what is set aside when an event cannot be handled
        # the topic prefixes the projection reads (none: every event); the others are passed
        # by unread, so an event it never needed cannot set anything of it aside
        self.topics = topics
        self.partition, self.partitions = partition, partitions
        # the partitions followed: one by default, the process's owned ones in the projector
        self.owned: set[int] = {partition} if owned is None else set(owned)
        self.listener = listener  # the process's one LISTEN connection, else one of its own
        self._wake = asyncio.Event()
        # the batches in flight: the partitions each locked, and an event set when it ended
        self._batches: dict[int, tuple[frozenset[int], asyncio.Event]] = {}
        self._failing: list[int] = []  # the partitions a failing batch counts its failure on
        self._at_head = False  # the last batch was short: it reached the head it saw

    def add(self, partition: int) -> None:
        """Follow ``partition`` too, from its own position, from the next batch on."""
        self.owned.add(partition)
        self._wake.set()

    async def remove(self, partition: int) -> None:
        """Follow ``partition`` no more; returns once no batch that includes it is in
        flight, so that its work has stopped before its ownership is given back."""
        self.owned.discard(partition)
        for partitions, ended in list(self._batches.values()):
            if partition in partitions:
                await ended.wait()

    async def setup(self) -> None:
        """The tracking rows of the projection under this follower's partition count
        (``tracking.PartitionCountChanged`` when another count is stored and cannot change)."""
        async with self.pool.acquire() as conn:
            await conn.execute(TRACKING_DDL)
            await conn.execute(quarantine.DDL)
            await tracking.ensure(conn, self.name, self.partitions)

    async def position(self) -> int:
        """The position of ``partition`` (the one followed by default)."""
        return (
            await self.pool.fetchval(
                f"SELECT position FROM {tracking.TABLE} WHERE projection = $1 AND partition = $2",
                self.name,
                self.partition,
            )
            or 0
        )

    async def step(self) -> int:
        """Handle one batch; answers how many events it handled or held (or 1 when it only
        moved past other partitions' events)."""
        partitions = sorted(self.owned)
        if not partitions:
            return 0
        ended = asyncio.Event()
        self._batches[id(ended)] = (frozenset(partitions), ended)
        self._failing = partitions
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                positions = await tracking.lock_all(conn, self.name, partitions, self.partitions)
                rows, moved, self._at_head = await self._next(conn, positions)
                moved = {p: n for p, n in moved.items() if n != positions[p]}
                if not moved:
                    return 0
                self._failing = sorted({self._partition_of(row) for row in rows}) or partitions
                wanted = [row for row in rows if self._wants(row["topic"])]
                if wanted:
                    await self._handle(conn, wanted)
                await tracking.move(conn, self.name, moved)
                return max(len(rows), 1)
        finally:
            del self._batches[id(ended)]
            ended.set()

    async def _next(
        self, conn: asyncpg.Connection, positions: dict[int, int]
    ) -> tuple[list[asyncpg.Record], dict[int, int], bool]:
        """The next batch of events beyond their partitions' positions, the position each
        partition takes it to, and whether that is the head of the log (a short batch)."""
        low = min(positions.values())
        if self.partitions == 1:
            rows = await conn.fetch(WHOLE_LOG, low, self.batch_size)
            short = len(rows) < self.batch_size
            return rows, {0: rows[-1]["notification_id"] if rows else low}, short
        found = await conn.fetch(
            SOME_PARTITIONS, low, self.batch_size, list(positions), self.partitions
        )
        read = [row for row in found if row["notification_id"] is not None]
        # a full batch: more may follow, so only as far as this batch; else to the head
        short = len(read) < self.batch_size
        to = found[0]["head"] if short else read[-1]["notification_id"]
        rows = [row for row in read if row["notification_id"] > positions[row["of_partition"]]]
        return rows, {p: max(n, to) for p, n in positions.items()}, short

    def _partition_of(self, row: asyncpg.Record) -> int:
        return 0 if self.partitions == 1 else int(row["of_partition"])

    def _wants(self, topic: str) -> bool:
        return not self.topics or topic.startswith(self.topics)

    async def _handle(self, conn: asyncpg.Connection, rows: list[asyncpg.Record]) -> None:
        """The batch at once; if it fails, key by key, quarantining the keys that fail."""
        keyed = None
        if held := await quarantine.held_keys(conn, self.name):
            keyed = [
                (row, key)
                for row, key in zip(rows, await self.keys(conn, rows), strict=True)
                if (key.scope, key.key) not in held
            ]
            rows = [row for row, _ in keyed]
        error = await quarantine.attempt(conn, functools.partial(self.apply, conn, rows))
        if error is None:
            return
        log.warning("projection %s: a batch failed (%r); handling it key by key", self.name, error)
        groups: dict[Key, list[asyncpg.Record]] = {}
        for row, key in keyed or zip(rows, await self.keys(conn, rows), strict=True):
            groups.setdefault(key, []).append(row)
        for key, group in groups.items():
            error = await quarantine.attempt(conn, functools.partial(self.apply, conn, group))
            if error is not None:
                await quarantine.hold(conn, self.name, key, group[0]["notification_id"], error)

    async def apply(self, conn: asyncpg.Connection, rows: list[asyncpg.Record]) -> None:
        """Hand stored rows (decoded, unless ``raw``) to the projection's handler."""
        if rows:
            await self.handler(conn, [(row["notification_id"], self._event(row)) for row in rows])

    def _event(self, row: asyncpg.Record) -> Any:
        if self.raw:
            return row
        try:
            return decode_event(
                row["topic"], row["state"], row["originator_id"], row["originator_version"]
            )
        except Exception as error:
            raise UndecodableEvent(
                f"notification {row['notification_id']} ({row['topic']}, stream "
                f"{row['originator_id']} version {row['originator_version']}) cannot be "
                f"decoded: {type(error).__name__}: {error}"
            ) from error

    async def catch_up(self) -> int:
        """Handle batches up to the head of the log as the last one saw it: a short batch
        ends it, without a transaction more to find nothing (what was written since wakes
        ``run`` again)."""
        total = 0
        while handled := await self.step():
            total += handled
            if self._at_head:
                break
        return total

    async def run(self) -> None:
        """Follow the log until cancelled."""
        listener = None
        if self.listener is not None:
            self.listener.add(self._wake)
        else:
            listener = await self._listen()
        gone = False  # the partition count changed under this process (told once)
        try:
            while True:
                # cleared before catching up, so that a write (or a partition added) while
                # it runs wakes the next round at once
                self._wake.clear()
                try:
                    await self.catch_up()
                    gone = False
                except tracking.PartitionGone as error:  # told once: the watch says what to do
                    if not gone:
                        log.warning("projection %s: %s; projecting nothing", self.name, error)
                    gone = True
                    await self._count_failure(error)
                except (asyncpg.PostgresError, OSError) as error:
                    log.warning("projection %s: %r; retrying", self.name, error)
                    await self._count_failure(error)
                except Exception as error:  # a bug must not stop the projector silently
                    log.exception(
                        "projection %s failed; retrying after %ss", self.name, self.poll_seconds
                    )
                    await self._count_failure(error)
                if await woken(self._wake, self.poll_seconds):
                    # let a burst of writes gather into one batch (one transaction, one fold
                    # per touched standing) instead of one batch per event
                    await asyncio.sleep(self.coalesce_seconds)
        finally:
            if self.listener is not None:
                self.listener.discard(self._wake)
            if listener is not None:
                await listener.close()

    async def _count_failure(self, error: BaseException) -> None:
        """Failed batches show in /metrics (e.g. publish failures while NATS is down), on
        each partition whose events the batch held (every partition of it, failing before
        it read any).

        Counting is best effort and never ends the loop: with the database going away, the
        pool may hand out a connection the server just dropped, on which asyncpg raises its
        own InterfaceError or InternalClientError rather than a PostgresError."""
        with contextlib.suppress(Exception):
            await self.pool.execute(
                f"UPDATE {tracking.TABLE} SET failures = failures + 1, last_error = $3 "
                "WHERE projection = $1 AND partition = ANY($2::integer[])",
                self.name,
                self._failing,
                f"{type(error).__name__}: {error}"[:500],
            )

    async def _listen(self) -> asyncpg.Connection | None:
        try:
            conn = await asyncpg.connect(self.dsn)
        except Exception as error:  # polling still works without it
            log.warning("projection %s: LISTEN unavailable (%s); polling", self.name, error)
            return None
        await conn.add_listener(EVENTS_TABLE, lambda *_: self._wake.set())
        return conn
