"""One LISTEN connection per projector process, waking every follower it runs: with each
projection split into partitions, a connection per follower would be dozens per process."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

from grondslag.ledger.persistence.postgres import EVENTS_TABLE

log = logging.getLogger("grondslag.projector")
RELISTEN_SECONDS = 2.0


class Listener:
    """Sets each added event when the recorder notifies of an insert (and, while the
    connection is lost, not at all: the followers poll meanwhile)."""

    def __init__(self, dsn: str):
        self.dsn = dsn
        self._waiting: set[asyncio.Event] = set()

    def add(self, wake: asyncio.Event) -> None:
        self._waiting.add(wake)

    def discard(self, wake: asyncio.Event) -> None:
        self._waiting.discard(wake)

    def _notified(self, *_: object) -> None:
        for wake in self._waiting:
            wake.set()

    async def run(self) -> None:
        """Listen, and listen again when the connection breaks, until cancelled."""
        warned = False
        while True:
            try:
                conn = await asyncpg.connect(self.dsn)
            except Exception as error:  # polling still works without it
                if not warned:
                    log.warning("projector: LISTEN unavailable (%s); polling", error)
                warned = True
                await asyncio.sleep(RELISTEN_SECONDS)
                continue
            warned = False
            try:
                await conn.add_listener(EVENTS_TABLE, self._notified)
                self._notified()  # whatever was written while no one listened
                while not conn.is_closed():
                    await asyncio.sleep(RELISTEN_SECONDS)
            except Exception as error:
                log.warning("projector: LISTEN lost (%r); listening again", error)
            finally:
                with contextlib.suppress(Exception):
                    await conn.close(timeout=1)
