"""Follow the event store's notification log from a tracking position.

Each batch is handled and its position committed in one transaction, under a row lock on
the tracking row: a crash never skips or repeats an event, and a second projector process
simply waits its turn. Notification ids can have gaps, so we always ask for "greater than
my position". Woken by LISTEN/NOTIFY (the recorder notifies on every insert), with a
polling fallback.

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
from grondslag.ledger.persistence.postgres import EVENTS_TABLE

from . import quarantine
from .keys import Key, by_stream

log = logging.getLogger("grondslag.projector")

TRACKING_DDL = """
CREATE TABLE IF NOT EXISTS grondslag_tracking (
    projection text PRIMARY KEY,
    position bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE grondslag_tracking ADD COLUMN IF NOT EXISTS failures bigint NOT NULL DEFAULT 0;
ALTER TABLE grondslag_tracking ADD COLUMN IF NOT EXISTS last_error text;
"""
LOCK_POSITION = "SELECT position FROM grondslag_tracking WHERE projection = $1 FOR UPDATE"

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
    ):
        self.pool, self.dsn, self.name, self.handler = pool, dsn, name, handler
        self.batch_size, self.poll_seconds = batch_size, poll_seconds
        self.coalesce_seconds = coalesce_seconds
        self.raw = raw  # hand over the stored rows themselves (the audit log hashes them)
        self.keys = keys  # what is set aside when an event cannot be handled
        # the topic prefixes the projection reads (none: every event); the others are passed
        # by unread, so an event it never needed cannot set anything of it aside
        self.topics = topics
        self._wake = asyncio.Event()

    async def setup(self) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(TRACKING_DDL)
            await conn.execute(quarantine.DDL)
            await conn.execute(
                "INSERT INTO grondslag_tracking (projection) VALUES ($1) ON CONFLICT DO NOTHING",
                self.name,
            )

    async def position(self) -> int:
        return (
            await self.pool.fetchval(
                "SELECT position FROM grondslag_tracking WHERE projection = $1", self.name
            )
            or 0
        )

    async def step(self) -> int:
        """Handle one batch; answers how many events it handled or held."""
        async with self.pool.acquire() as conn, conn.transaction():
            position = await conn.fetchval(LOCK_POSITION, self.name)
            rows = await conn.fetch(
                f"SELECT notification_id, originator_id, originator_version, topic, state "
                f"FROM {EVENTS_TABLE} WHERE notification_id > $1 "
                "ORDER BY notification_id LIMIT $2",
                position,
                self.batch_size,
            )
            if not rows:
                return 0
            wanted = [row for row in rows if self._wants(row["topic"])]
            if wanted:
                await self._handle(conn, wanted)
            await conn.execute(
                "UPDATE grondslag_tracking SET position = $2, updated_at = now() "
                "WHERE projection = $1",
                self.name,
                rows[-1]["notification_id"],
            )
            return len(rows)

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
            if listener is not None:
                await listener.close()

    async def _count_failure(self, error: BaseException) -> None:
        """Failed batches show in /metrics (e.g. publish failures while NATS is down).

        Counting is best effort and never ends the loop: with the database going away, the
        pool may hand out a connection the server just dropped, on which asyncpg raises its
        own InterfaceError or InternalClientError rather than a PostgresError."""
        with contextlib.suppress(Exception):
            await self.pool.execute(
                "UPDATE grondslag_tracking SET failures = failures + 1, last_error = $2 "
                "WHERE projection = $1",
                self.name,
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
