"""The projector's follower outlives what a database outage throws at it: when counting a
failed batch meets a connection the server dropped, it goes on and tries the batch again.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from typing import Any

import asyncpg


class _BrokenCounting:
    """The pool, except that counting a failure meets a connection the server dropped (what
    asyncpg raises then is neither a PostgresError nor an OSError)."""

    def __init__(self, pool: asyncpg.Pool):
        self._pool = pool

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)

    async def execute(self, query: str, *args: Any) -> Any:
        if "failures = failures + 1" in query:
            raise asyncpg.InternalClientError(
                "cannot switch to state 11; another operation (2) is in progress"
            )
        return await self._pool.execute(query, *args)


async def test_a_follower_goes_on_when_counting_its_failure_fails(
    own_database_url: str, pool: asyncpg.Pool, ledger: Any
) -> None:
    from grondslag.ledger.domain.values import PersonalData
    from grondslag.projector.follower import LogFollower

    await asyncio.to_thread(ledger.put_subject, "outage", "client-1", PersonalData())
    handled: list[int] = []

    async def handler(conn: Any, batch: list[tuple[int, Any]]) -> None:
        if not handled:
            handled.append(0)
            raise ConnectionResetError("the database went away mid-batch")
        handled.extend(notification_id for notification_id, _ in batch)

    follower = LogFollower(
        _BrokenCounting(pool),  # type: ignore[arg-type]
        own_database_url,
        f"outage-{secrets.token_hex(4)}",
        handler,
        poll_seconds=0.05,
        raw=True,
    )
    await follower.setup()
    task = asyncio.create_task(follower.run())
    try:
        deadline = time.monotonic() + 10
        while len(handled) < 2:
            assert not task.done(), f"the follower stopped: {task.exception()!r}"
            assert time.monotonic() < deadline, "the follower did not try the batch again"
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
