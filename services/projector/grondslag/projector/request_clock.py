"""The request clock: records, once each, that a data-subject request's due date is near
(``DueSoonNoticed``, a configurable lead before it) and that it passed unanswered
(``OverdueNoticed``); the relay publishes them as ``request.due_soon`` and
``request.overdue``. Like the deadline clock of standings, it asks the read model which
deadlines are due, lets the aggregate decide (it records each notice at most once per due
date), and refreshes the rows it handled. Two clocks may race: the stream's version check
lets one record and makes the other see it was recorded.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from uuid import UUID

import anyio.to_thread
import asyncpg

from grondslag.ledger.application import Ledger
from grondslag.ledger.domain.subject_request import request_stream_id
from grondslag.ledger.persistence.actors import REQUEST_CLOCK, acting, system_actor
from grondslag.ledger.reads.requests import REQUESTS_TABLE

from . import request_index
from .deadline_clock import Share
from .partitions import sql_partition

log = logging.getLogger("grondslag.clock")
DEFAULT_LEAD = timedelta(days=7)

DUE = f"""
SELECT tenant, request_id FROM {REQUESTS_TABLE}
WHERE status = 'open' AND NOT overdue_noticed AND (due_at <= $1
   OR (due_soon_noticed_for IS DISTINCT FROM due_at AND due_at - $2::interval <= $1))
{{share}}ORDER BY due_at LIMIT $3
"""
SHARE = f"AND {sql_partition('tenant', '$5')} = ANY($4::integer[]) "


class RequestClock:
    def __init__(
        self,
        pool: asyncpg.Pool,
        ledger: Ledger,
        lead: timedelta = DEFAULT_LEAD,
        *,
        interval: float = 0.5,
        batch: int = 200,
        partitions: Share | None = None,
    ):
        self.pool, self.ledger, self.lead = pool, ledger, lead
        self.interval, self.batch = interval, batch
        self.partitions = partitions  # None: every request (one clock, or racing ones)

    async def tick(self, now: datetime | None = None) -> list[UUID]:
        """Notice every request whose warning or overdue moment passed; answers the events
        recorded."""
        moment = now or datetime.now(UTC)
        if self.partitions is None:
            rows = await self.pool.fetch(DUE.replace("{share}", ""), moment, self.lead, self.batch)
        else:
            owned, count = self.partitions()
            if not owned:
                return []
            query = DUE.replace("{share}", SHARE)
            rows = await self.pool.fetch(query, moment, self.lead, self.batch, owned, count)
        recorded: list[UUID] = []
        handled: set[UUID] = set()
        for row in rows:
            tenant, request_id = row["tenant"], row["request_id"]
            try:
                with acting(system_actor(REQUEST_CLOCK, tenant)):
                    event = await anyio.to_thread.run_sync(
                        self.ledger.notice_request_deadline, tenant, request_id, self.lead
                    )
            except Exception:  # one request must not stop the others; tried again next tick
                log.exception("request %s of %s: deadline not noticed", request_id, tenant)
                continue
            handled.add(request_stream_id(tenant, request_id))
            if event is not None:
                recorded.append(event)
        if handled:
            await request_index.refresh(self.pool, handled)
        return recorded

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:  # keep ticking; the next tick retries what failed
                log.exception("request clock tick failed")
            await asyncio.sleep(self.interval)
