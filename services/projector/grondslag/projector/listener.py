"""One LISTEN connection per projector process: it wakes every follower the process runs
when the recorder notifies of an insert, and hands the checkpointer its channels' payloads
(checkpoints signed, checkpoints asked for). With each projection split into partitions, a
connection per follower would be dozens per process; the checkpointer's would be one more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg

from grondslag.ledger.persistence.postgres import EVENTS_TABLE

log = logging.getLogger("grondslag.projector")
RELISTEN_SECONDS = 2.0

Received = Callable[[str], None]  # a channel's payload


class Listener:
    """Sets each added event when the recorder notifies of an insert, and calls each
    subscriber of a channel with the payload of its notifications (and, while the
    connection is lost, neither: the followers poll and the checkpointer signs on schedule
    meanwhile). ``follows_log=False``: only the channels subscribed to."""

    def __init__(self, dsn: str, *, follows_log: bool = True):
        self.dsn = dsn
        self._waiting: set[asyncio.Event] = set()
        self._channels: dict[str, set[Received]] = {}
        self._follows_log = follows_log
        self._conn: asyncpg.Connection | None = None

    def add(self, wake: asyncio.Event) -> None:
        self._waiting.add(wake)

    def discard(self, wake: asyncio.Event) -> None:
        self._waiting.discard(wake)

    async def subscribe(self, channel: str, received: Received) -> None:
        """Call ``received`` with the payload of every notification on ``channel`` from now
        on (listened to on this connection and every later one)."""
        self._channels.setdefault(channel, set()).add(received)
        conn = self._conn
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):  # broken: the next connection listens
                await conn.add_listener(channel, self._dispatch)

    def unsubscribe(self, channel: str, received: Received) -> None:
        self._channels.get(channel, set()).discard(received)

    def _notified(self, *_: object) -> None:
        for wake in self._waiting:
            wake.set()

    def _dispatch(self, _conn: Any, _pid: int, channel: str, payload: str) -> None:
        for received in list(self._channels.get(channel, ())):
            try:
                received(payload)
            except Exception:  # one subscriber's fault stops neither the others nor this
                log.exception("projector: a subscriber of %s failed", channel)

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
                self._conn = conn
                if self._follows_log:
                    await conn.add_listener(EVENTS_TABLE, self._notified)
                for channel in list(self._channels):
                    await conn.add_listener(channel, self._dispatch)
                self._notified()  # whatever was written while no one listened
                while not conn.is_closed():
                    await asyncio.sleep(RELISTEN_SECONDS)
            except Exception as error:
                log.warning("projector: LISTEN lost (%r); listening again", error)
            finally:
                self._conn = None
                with contextlib.suppress(Exception):
                    await conn.close(timeout=1)


async def woken(event: asyncio.Event, seconds: float | None) -> bool:
    """Whether ``event`` is set within ``seconds`` (None: however long). A loop that waits
    with this ends when its task is cancelled, whenever that happens: Python 3.11's
    ``asyncio.wait_for`` returns the result instead when the event is set at the moment of
    the cancellation (a NOTIFY in a burst), and the loop goes on — a ``grondslag project``
    told to stop then never did (found left running after the supervisor's SIGKILL)."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True
