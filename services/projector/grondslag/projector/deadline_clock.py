"""The deadline clock: records date-driven lapses as events, once each.

Every standing row of the read model carries ``changes_at``, the next instant at which time
alone changes it. When that instant passes, the clock asks the ledger to notice the lapse
(``BasisLapsed`` or ``RetentionExpired``, which the relay then publishes) and refreshes the
row so that ``changes_at`` moves on. Two clocks may race: the stream's version check lets
one record and makes the other see it was recorded.

A standing whose lapse cannot be noticed (its stored events cannot be read, say) is
quarantined and left out of the due ones, so that it never stands first in line for every
other standing; ``release`` tries it again (``grondslag quarantine retry``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

import anyio.to_thread
import asyncpg

from grondslag.ledger.application import Ledger
from grondslag.ledger.domain.ids import standing_id
from grondslag.ledger.persistence.actors import DEADLINE_CLOCK, acting, system_actor
from grondslag.ledger.persistence.postgres import STREAMS_TABLE
from grondslag.ledger.reads.checks import CURRENT_STANDING_TABLE
from grondslag.ledger.reads.operations import QUARANTINE_TABLE

from . import current_standing, quarantine
from .keys import Key
from .partitions import sql_partition

log = logging.getLogger("grondslag.clock")
NAME = "deadline_clock"

DUE = f"""
SELECT s.tenant, s.purpose, s.subject_ref FROM {CURRENT_STANDING_TABLE} s
WHERE s.changes_at <= $1 AND NOT EXISTS (
    SELECT 1 FROM {STREAMS_TABLE} st JOIN {QUARANTINE_TABLE} q
      ON q.projection = '{NAME}' AND q.scope = 'standing' AND q.key = st.originator_id::text
    WHERE st.tenant = s.tenant AND st.kind = 'standing' AND st.subject_ref = s.subject_ref
      AND st.purpose = s.purpose)
{{share}}ORDER BY s.changes_at LIMIT $2
"""
# the standings of the tenants of the partitions a process owns
SHARE = f"AND {sql_partition('s.tenant', '$4')} = ANY($3::integer[]) "
Share = Callable[[], tuple[list[int], int]]  # (partitions owned, of how many)


class DeadlineClock:
    def __init__(
        self,
        pool: asyncpg.Pool,
        ledger: Ledger,
        *,
        interval: float = 0.5,
        batch: int = 200,
        partitions: Share | None = None,
    ):
        self.pool, self.ledger, self.interval, self.batch = pool, ledger, interval, batch
        self.partitions = partitions  # None: every standing (one clock, or racing ones)
        self._ready = False

    async def tick(self, now: datetime | None = None) -> list[UUID]:
        """Handle every standing whose next change is due; answers the events recorded."""
        if not self._ready:
            await self.pool.execute(quarantine.DDL)
            self._ready = True
        moment = now or datetime.now(UTC)
        if self.partitions is None:
            rows = await self.pool.fetch(DUE.replace("{share}", ""), moment, self.batch)
        else:
            owned, count = self.partitions()
            if not owned:
                return []
            rows = await self.pool.fetch(
                DUE.replace("{share}", SHARE), moment, self.batch, owned, count
            )
        recorded: list[UUID] = []
        noticed: dict[UUID, str] = {}
        for row in rows:
            tenant, ref, purpose = row["tenant"], row["subject_ref"], row["purpose"]
            standing = standing_id(tenant, ref, purpose)
            try:
                with acting(system_actor(DEADLINE_CLOCK, tenant)):
                    event = await anyio.to_thread.run_sync(
                        self.ledger.notice_lapse, tenant, ref, purpose
                    )
            except Exception as error:
                if quarantine.transient(error):
                    raise
                await quarantine.hold(self.pool, NAME, _key(standing, tenant), None, error)
                continue
            noticed[standing] = tenant
            if event is not None:
                recorded.append(event)
        if noticed:
            await self._refresh(noticed)
        return recorded

    async def _refresh(self, standings: dict[UUID, str]) -> None:
        """Move the rows' ``changes_at`` on; a row that cannot be folded is quarantined."""
        async with self.pool.acquire() as conn, conn.transaction():
            every = await quarantine.attempt(
                conn, functools.partial(current_standing.refresh, conn, {*standings})
            )
            if every is None:
                return
            for standing, tenant in standings.items():
                error = await quarantine.attempt(
                    conn, functools.partial(current_standing.refresh, conn, {standing})
                )
                if error is not None:
                    await quarantine.hold(conn, NAME, _key(standing, tenant), None, error)

    async def release(self, key: str) -> str | None:
        """Notice the lapse of a quarantined standing again and refresh its row; answers
        ``None`` when that succeeded and the standing is released, else the error."""
        stream = await self.pool.fetchrow(
            f"SELECT tenant, subject_ref, purpose FROM {STREAMS_TABLE} "
            "WHERE originator_id = $1::uuid",
            key,
        )
        try:
            if stream is None:
                raise LookupError(f"standing {key} is not in the stream index")
            tenant, ref, purpose = stream["tenant"], stream["subject_ref"], stream["purpose"]
            with acting(system_actor(DEADLINE_CLOCK, tenant)):
                await anyio.to_thread.run_sync(self.ledger.notice_lapse, tenant, ref, purpose)
            async with self.pool.acquire() as conn, conn.transaction():
                await current_standing.refresh(conn, {UUID(key)})
                await quarantine.release(conn, NAME, "standing", key)
        except Exception as error:
            if quarantine.transient(error):
                raise
            tenant = stream["tenant"] if stream else None
            await quarantine.hold(self.pool, NAME, Key("standing", key, tenant), None, error)
            return f"{type(error).__name__}: {error}"
        return None

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:  # keep ticking; the next tick retries what failed
                log.exception("deadline clock tick failed")
            await asyncio.sleep(self.interval)


def _key(standing: UUID, tenant: str) -> Key:
    return Key("standing", str(standing), tenant)
