"""The deadline clock: records date-driven lapses as events, once each.

Every standing row of the read model carries ``changes_at``, the next instant at which time
alone changes it. When that instant passes, the clock asks the ledger to notice the lapse
(``BasisLapsed`` or ``RetentionExpired``, which the relay then publishes) and refreshes the
row so that ``changes_at`` moves on. Two clocks may race: the stream's version check lets
one record and makes the other see it was recorded.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from uuid import UUID

import anyio.to_thread
import asyncpg
from ledger.application import Ledger
from ledger.domain.ids import standing_id
from ledger.reads.checks import CURRENT_STANDING_TABLE

from . import current_standing

log = logging.getLogger("grondslag.clock")

DUE = f"""
SELECT tenant, purpose, subject_ref FROM {CURRENT_STANDING_TABLE}
WHERE changes_at <= $1 ORDER BY changes_at LIMIT $2
"""


class DeadlineClock:
    def __init__(
        self, pool: asyncpg.Pool, ledger: Ledger, *, interval: float = 0.5, batch: int = 200
    ):
        self.pool, self.ledger, self.interval, self.batch = pool, ledger, interval, batch

    async def tick(self, now: datetime | None = None) -> list[UUID]:
        """Handle every standing whose next change is due; answers the events recorded."""
        rows = await self.pool.fetch(DUE, now or datetime.now(UTC), self.batch)
        recorded: list[UUID] = []
        for row in rows:
            event = await anyio.to_thread.run_sync(
                self.ledger.notice_lapse, row["tenant"], row["subject_ref"], row["purpose"]
            )
            if event is not None:
                recorded.append(event)
        if rows:
            ids = {standing_id(r["tenant"], r["subject_ref"], r["purpose"]) for r in rows}
            async with self.pool.acquire() as conn, conn.transaction():
                await current_standing.refresh(conn, ids)
        return recorded

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:  # keep ticking; the next tick retries what failed
                log.exception("deadline clock tick failed")
            await asyncio.sleep(self.interval)
