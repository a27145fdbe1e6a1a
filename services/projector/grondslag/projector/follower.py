"""Follow the event store's notification log from a tracking position.

Each batch is handled and its position committed in one transaction, under a row lock on
the tracking row: a crash never skips or repeats an event, and a second projector process
simply waits its turn. Notification ids can have gaps, so we always ask for "greater than
my position". Woken by LISTEN/NOTIFY (the recorder notifies on every insert), with a
polling fallback.

A follower may follow one partition of the log (``partitions``: the events of the tenants
that hash to it), with a tracking row of its own. It asks for its partition's events only
and, when fewer than a batch are left, moves its position to the head of the log as the
same statement saw it: the events between belong to other partitions, and the recorder's
table lock makes notification ids commit in order, so none below that head can appear
later.

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
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from grondslag.ledger.persistence.mapper import decode_event
from grondslag.ledger.persistence.postgres import EVENTS_TABLE, STREAMS_TABLE

from . import quarantine, tracking
from .keys import Key, by_stream
from .listener import Listener
from .partitions import SQL_KEY, sql_partition

log = logging.getLogger("grondslag.projector")

TRACKING_DDL = tracking.DDL
COLUMNS = "e.notification_id, e.originator_id, e.originator_version, e.topic, e.state"
WHOLE_LOG = (
    f"SELECT {COLUMNS} FROM {EVENTS_TABLE} e WHERE e.notification_id > $1 "
    "ORDER BY e.notification_id LIMIT $2"
)
# one statement, one snapshot: the partition's next events and the head they were read at
ONE_PARTITION = f"""
SELECT h.head, p.* FROM (SELECT coalesce(max(notification_id), 0) AS head FROM {EVENTS_TABLE}) h
LEFT JOIN LATERAL (
    SELECT {COLUMNS} FROM {EVENTS_TABLE} e
    LEFT JOIN {STREAMS_TABLE} s ON s.originator_id = e.originator_id
    WHERE e.notification_id > $1 AND {sql_partition(SQL_KEY, "$4")} = $3
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
        self.listener = listener  # the process's one LISTEN connection, else one of its own
        self._wake = asyncio.Event()

    async def setup(self) -> None:
        """The tracking rows of the projection under this follower's partition count
        (``tracking.PartitionCountChanged`` when another count is stored and cannot change)."""
        async with self.pool.acquire() as conn:
            await conn.execute(TRACKING_DDL)
            await conn.execute(quarantine.DDL)
            await tracking.ensure(conn, self.name, self.partitions)

    async def position(self) -> int:
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
        async with self.pool.acquire() as conn, conn.transaction():
            position = await tracking.lock(conn, self.name, self.partition, self.partitions)
            rows, head = await self._next(conn, position)
            if head <= position:
                return 0
            wanted = [row for row in rows if self._wants(row["topic"])]
            if wanted:
                await self._handle(conn, wanted)
            await conn.execute(
                f"UPDATE {tracking.TABLE} SET position = $3, updated_at = now() "
                "WHERE projection = $1 AND partition = $2",
                self.name,
                self.partition,
                head,
            )
            return max(len(rows), 1)

    async def _next(
        self, conn: asyncpg.Connection, position: int
    ) -> tuple[list[asyncpg.Record], int]:
        """The next batch of this follower's events, and the position it takes it to."""
        if self.partitions == 1:
            rows = await conn.fetch(WHOLE_LOG, position, self.batch_size)
            return rows, rows[-1]["notification_id"] if rows else position
        found = await conn.fetch(
            ONE_PARTITION, position, self.batch_size, self.partition, self.partitions
        )
        rows = [row for row in found if row["notification_id"] is not None]
        if len(rows) == self.batch_size:  # more may follow: only as far as this batch
            return rows, rows[-1]["notification_id"]
        return rows, max(found[0]["head"], position)

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
        total = 0
        while handled := await self.step():
            total += handled
        return total

    async def run(self) -> None:
        """Follow the log until cancelled."""
        listener = None
        if self.listener is not None:
            self.listener.add(self._wake)
        else:
            listener = await self._listen()
        try:
            while True:
                try:
                    await self.catch_up()
                except (asyncpg.PostgresError, OSError) as error:
                    log.warning("projection %s: %r; retrying", self.name, error)
                    await self._count_failure(error)
                except Exception as error:  # a bug must not stop the projector silently
                    log.exception(
                        "projection %s failed; retrying after %ss", self.name, self.poll_seconds
                    )
                    await self._count_failure(error)
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
                    # let a burst of writes gather into one batch (one transaction, one fold
                    # per touched standing) instead of one batch per event
                    await asyncio.sleep(self.coalesce_seconds)
        finally:
            if self.listener is not None:
                self.listener.discard(self._wake)
            if listener is not None:
                await listener.close()

    async def _count_failure(self, error: BaseException) -> None:
        """Failed batches show in /metrics (e.g. publish failures while NATS is down).

        Counting is best effort and never ends the loop: with the database going away, the
        pool may hand out a connection the server just dropped, on which asyncpg raises its
        own InterfaceError or InternalClientError rather than a PostgresError."""
        with contextlib.suppress(Exception):
            await self.pool.execute(
                f"UPDATE {tracking.TABLE} SET failures = failures + 1, last_error = $3 "
                "WHERE projection = $1 AND partition = $2",
                self.name,
                self.partition,
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
