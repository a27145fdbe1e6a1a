"""Read-your-writes across a read replica, at the HTTP edge.

With a read replica configured, every successful write under ``/v1/`` answers
``Grondslag-Log-Position``: the primary's log position once the write committed (a replayed
idempotent answer: the position now, which is later still). A read that sends it back as
``Grondslag-Min-Position`` sees that write, whichever database answers it
(``reads.replica``); a read without it may be answered by a replica that trails the primary
by its replay lag. The position is PostgreSQL's own spelling of a WAL position
(``0/16B3748``): operators can hold it against ``pg_stat_replication``; clients echo it
without reading it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

import asyncpg
from litestar import Request

from ..reads.replica import log_position, parse_position
from .problems import ProblemError, problem_type

P = ParamSpec("P")
T = TypeVar("T")
log = logging.getLogger(__name__)

LOG_POSITION = "Grondslag-Log-Position"
MIN_POSITION = "Grondslag-Min-Position"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOG_POSITION_TEXT = (
    "the log position of this write (a WAL position such as `0/16B3748`), when the service "
    "reads from a replica; send it as `Grondslag-Min-Position` on a read that must see the "
    "write"
)
MIN_POSITION_TEXT = (
    "a `Grondslag-Log-Position` a write answered: the answer then reflects that write at "
    "least (a read replica that has not replayed it yet leaves the read to the primary); "
    "400 when it is no log position"
)
BAD_POSITION = "a `Grondslag-Min-Position` that is no log position"


def min_position(request: Request) -> int | None:
    """The position the read must reflect, if the caller named one (400 when malformed)."""
    text = request.headers.get(MIN_POSITION)
    if text is None:
        return None
    try:
        return parse_position(text)
    except ValueError:
        raise ProblemError(
            400,
            "Bad request",
            f"{MIN_POSITION} must be a {LOG_POSITION} as a write answered it, such as 0/16B3748",
            kind=problem_type("bad-position"),
            field=MIN_POSITION,
        ) from None


async def reading(
    request: Request,
    read: Callable[Concatenate[asyncpg.Pool, P], Awaitable[T]],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """``read(pool, *args, **kwargs)`` where the request may be answered from."""
    at_least = min_position(request)
    return await request.app.state.reads.run(lambda pool: read(pool, *args, **kwargs), at_least)


READS_BY_POST = frozenset({"/v1/checks"})  # a question with a body: it records nothing


def reads_through_replica(method: str, path: str) -> bool:
    """The operations that read through ``reading`` (and take ``Grondslag-Min-Position``)."""
    return (method == "GET" and path.startswith("/v1/")) or path in READS_BY_POST


def answers_position(method: str, path: str) -> bool:
    """The operations whose successful answers carry ``Grondslag-Log-Position``: writes."""
    return method in WRITES and path.startswith("/v1/") and path not in READS_BY_POST


class LogPositions:
    """Raw ASGI middleware: the log position on every successful write's answer, when a
    read replica is configured (asking for it is a round trip; without a replica every read
    is the primary's and sees every write). It runs around the idempotency middleware, so
    that a replayed answer carries one too."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if (
            scope["type"] != "http"
            or not answers_position(scope["method"], scope["path"])
            or scope["app"].state.reads.replica is None  # every read is the primary's
        ):
            await self.app(scope, receive, send)
            return
        pool = scope["app"].state.pool

        async def with_position(message: Any) -> None:
            if message["type"] == "http.response.start" and 200 <= message["status"] < 300:
                try:
                    position = await log_position(pool)
                except Exception as error:  # the write is stored: answer it all the same
                    log.warning("no log position for the answer of a write: %r", error)
                else:
                    header = (LOG_POSITION.lower().encode(), position.encode())
                    message = {**message, "headers": [*message.get("headers", []), header]}
            await send(message)

        await self.app(scope, receive, with_position)
