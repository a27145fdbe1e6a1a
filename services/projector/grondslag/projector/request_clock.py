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

log = logging.getLogger("grondslag.clock")
DEFAULT_LEAD = timedelta(days=7)

DUE = f"""
SELECT tenant, request_id FROM {REQUESTS_TABLE}
WHERE status = 'open' AND NOT overdue_noticed AND (due_at <= $1
   OR (due_soon_noticed_for IS DISTINCT FROM due_at AND due_at - $2::interval <= $1))
ORDER BY due_at LIMIT $3
"""


class RequestClock:
    def __init__(
        self,
        pool: asyncpg.Pool,
        ledger: Ledger,
        lead: timedelta = DEFAULT_LEAD,
        *,
        interval: float = 0.5,
        batch: int = 200,
    ):
        self.pool, self.ledger, self.lead = pool, ledger, lead
        self.interval, self.batch = interval, batch

    async def tick(self, now: datetime | None = None) -> list[UUID]:
        """Notice every request whose warning or overdue moment passed; answers the events
        recorded."""
        rows = await self.pool.fetch(DUE, now or datetime.now(UTC), self.lead, self.batch)
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
