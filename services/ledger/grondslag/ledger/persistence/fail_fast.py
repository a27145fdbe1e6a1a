"""A command that queued through a refused wait for a connection fails at once.

With the database away every command waits up to ``wait_seconds`` for a pooled connection,
and commands run on as many threads as the pool has connections: the others queue for a
thread, so that under load the last of them answered 503 only after several waits in a row
(15 s for 60 requests on two connections). A request that arrived before the latest wait
ran out has, in effect, been refused with it: its command fails without a wait of its own,
and the queue drains at once. A request that arrives later tries the pool again, so that
the service answers as soon as the database is back, and the first connection it gets
ends the refusal: the requests still queued from before then wait their turn on a pool
that answers, instead of a 503 for an outage that is over. A command of no request (the
projector's clocks) always tries.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from typing import Any

from eventsourcing.persistence import OperationalError
from psycopg_pool import PoolTimeout

ARRIVED: ContextVar[float | None] = ContextVar("grondslag_request_arrived", default=None)


def note_arrival() -> None:
    """Mark when the current request arrived (in its own task: its commands' threads
    inherit it)."""
    ARRIVED.set(time.monotonic())


class Refusals:
    """When the latest wait for a connection ran out."""

    def __init__(self) -> None:
        self.refused_at = -math.inf

    def check(self) -> None:
        """Raise as the library does when no connection came in time, for a request that
        arrived before the latest wait ran out."""
        arrived = ARRIVED.get()
        if arrived is not None and arrived < self.refused_at:
            raise OperationalError("no database connection (refused just now)") from PoolTimeout(
                "a wait for a connection ran out after this request arrived"
            )

    def note(self, error: BaseException) -> None:
        if isinstance(error.__cause__, PoolTimeout):
            self.refused_at = time.monotonic()  # one float: no lock needed

    def end(self) -> None:
        """A connection came: the database is back, nothing queued is refused any more."""
        self.refused_at = -math.inf


_OF_DATABASE: dict[str, Refusals] = {}


def refusals_of(database: str) -> Refusals:
    """The refusals of one database (its connection string), shared by every pool of the
    process on it: the API's commands and the projector's share the worker threads."""
    return _OF_DATABASE.setdefault(database, Refusals())


def failing_fast(
    get_connection: Callable[[], AbstractContextManager[Any]], refusals: Refusals
) -> Callable[[], AbstractContextManager[Any]]:
    """``get_connection`` (the library datastore's), failing at once for a request that
    ``refusals`` says queued through a refused wait."""

    @contextmanager
    def connection() -> Iterator[Any]:
        refusals.check()
        try:
            with get_connection() as conn:
                refusals.end()
                yield conn
        except OperationalError as error:
            refusals.note(error)
            raise

    return connection
