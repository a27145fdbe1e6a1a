"""Where a read runs: on the streaming replica (``DATABASE_READ_URL``) when it has replayed
what the caller must see, on the primary otherwise.

Positions are the primary's write-ahead log positions (LSNs). A write's answer names the
WAL insert position taken just after its commit, which is at or past the end of the commit
record; a replica whose replay position (``pg_last_wal_replay_lsn()``) reached it shows the
write — and everything else committed before it, events, read models and keys alike.
A read that names such a position is served by the replica only once it has replayed it,
waiting up to ``wait_seconds`` for that, and by the primary otherwise: never older than the
caller's own write. A read that names none takes the replica as it is.

A replica that cannot be reached, or that cancels a query for a conflict with its replay,
sends the read to the primary; it is tried again ``retry_seconds`` later. A read against a
primary that is away fails as it did before (503).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
from prometheus_client.core import GaugeMetricFamily, Metric

T = TypeVar("T")
log = logging.getLogger(__name__)

LSN = re.compile(r"^([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})$")
# A server that is not in recovery is no replica behind anything: its data is the truth
REPLAYED = """
SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()::text END
"""
WRITTEN = "SELECT pg_current_wal_insert_lsn()::text"
CHECK_SECONDS = 1.0  # readiness asks the replica this long at most
CAUGHT_UP = 1 << 64  # the replay position of a server that replays nothing
# SQLSTATEs of a replica that is away or cannot serve now: connection (08), resources
# (53), shutting down or starting (57P0x), and a query cancelled for a conflict with
# recovery (40001 on a hot standby)
AWAY_CLASSES = ("08", "53")
AWAY_STATES = frozenset({"57P01", "57P02", "57P03", "40001"})


def parse_position(text: str) -> int:
    """An LSN as PostgreSQL writes it (``16/B374D848``) as a number; ``ValueError`` else."""
    match = LSN.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is no log position such as 0/16B3748")
    return (int(match.group(1), 16) << 32) | int(match.group(2), 16)


def format_position(position: int) -> str:
    return f"{position >> 32:X}/{position & 0xFFFFFFFF:X}"


async def log_position(pool: asyncpg.Pool) -> str:
    """The primary's WAL insert position now: at or after every commit that returned."""
    written = await pool.fetchval(WRITTEN)
    return format_position(parse_position(written))


def replica_away(error: BaseException) -> bool:
    """Whether ``error`` says the replica cannot answer now (rather than the read failing)."""
    state = getattr(error, "sqlstate", None)
    if isinstance(error, asyncpg.PostgresError) and state:
        return state[:2] in AWAY_CLASSES or state in AWAY_STATES
    return isinstance(
        error, OSError | TimeoutError | asyncpg.InterfaceError | asyncpg.InternalClientError
    )


class ReadRoute:
    """The primary's pool, the replica's (or none), and what the router last saw of it."""

    def __init__(
        self,
        primary: asyncpg.Pool,
        replica: asyncpg.Pool | None = None,
        *,
        wait_seconds: float = 1.0,
        retry_seconds: float = 5.0,
    ) -> None:
        self.primary, self.replica = primary, replica
        self.wait_seconds, self.retry_seconds = wait_seconds, retry_seconds
        self.replayed = 0  # the highest replay position seen (replay only moves forward)
        self.away_until = 0.0
        self.failure: str | None = None  # why the replica was last found away

    async def run(self, read: Callable[[asyncpg.Pool], Awaitable[T]], at_least: int | None) -> T:
        """``read`` on the replica when it has replayed ``at_least`` (any replay: None),
        else, and when the replica fails to answer, on the primary."""
        replica = await self._replica_for(at_least)
        if replica is None:
            return await read(self.primary)
        try:
            return await read(replica)
        except Exception as error:
            if not replica_away(error):
                raise
            self._away(error)
            return await read(self.primary)

    async def check(self) -> str | None:
        """The replica as readiness reports it: None when none is configured."""
        if self.replica is None:
            return None
        try:
            async with asyncio.timeout(CHECK_SECONDS):
                await self._replay_position(self.replica)
        except Exception as error:
            if not replica_away(error):
                raise
            self._away(error)
        if self.failure is not None and time.monotonic() < self.away_until:
            return f"failing: {self.failure}; reads go to the primary"
        return "ok"

    async def families(self) -> list[Metric]:
        """The replica on /metrics: whether it answers, and how many bytes of the primary's
        log it has yet to replay (none when no replica is configured)."""
        if self.replica is None:
            return []
        answers = await self.check() == "ok"
        up = GaugeMetricFamily(
            "grondslag_read_replica_up", "Whether the read replica answers.", value=int(answers)
        )
        if not answers:
            return [up]
        written = parse_position(await self.primary.fetchval(WRITTEN))
        behind = GaugeMetricFamily(
            "grondslag_read_replica_lag_bytes",
            "Bytes of the primary's write-ahead log the read replica has not replayed yet.",
            value=max(written - self.replayed, 0),
        )
        return [up, behind]

    async def _replica_for(self, at_least: int | None) -> asyncpg.Pool | None:
        replica = self.replica
        if replica is None or time.monotonic() < self.away_until:
            return None
        if at_least is None or self.replayed >= at_least:
            return replica
        deadline, pause = time.monotonic() + self.wait_seconds, 0.005
        try:
            while await self._replay_position(replica) < at_least:
                if time.monotonic() + pause > deadline:
                    return None  # not replayed in time: the primary has it
                await asyncio.sleep(pause)
                pause = min(pause * 2, 0.05)
        except Exception as error:
            if not replica_away(error):
                raise
            self._away(error)
            return None
        return replica

    async def _replay_position(self, replica: asyncpg.Pool) -> int:
        text = await replica.fetchval(REPLAYED)
        position = CAUGHT_UP if text is None else parse_position(text)
        self.replayed = max(self.replayed, position)
        self.failure, self.away_until = None, 0.0  # it answers: back in service at once
        return position

    def _away(self, error: BaseException) -> None:
        if self.failure is None:
            log.warning("the read replica does not answer (%r): reads go to the primary", error)
        self.failure = type(error).__name__
        self.away_until = time.monotonic() + self.retry_seconds
