"""The read pool (``reads/pool.py``) returns a clean connection without asyncpg's shielded
task, and any other through asyncpg's own release: rolled back, replaced, or waited for."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest

from grondslag.ledger.reads.pool import create_read_pool


@pytest.fixture(scope="module")
def url(new_database: Callable[[str], Any]) -> Any:
    with new_database("grondslag_read_pool") as url:
        yield url


@pytest.fixture
async def pool(url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_read_pool(url, min_size=1, max_size=1)
    yield pool
    await pool.close()


async def _tasks_created(run: Any) -> int:
    """How many tasks the event loop created while ``run()`` ran."""
    loop = asyncio.get_running_loop()
    created = 0
    factory = loop.get_task_factory()

    def counting(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> Any:
        nonlocal created
        created += 1
        if factory is not None:
            return factory(loop, coro, **kwargs)
        return asyncio.Task(coro, loop=loop, **kwargs)

    loop.set_task_factory(counting)
    try:
        await run()
    finally:
        loop.set_task_factory(factory)
    return created


async def test_a_statement_returns_its_connection_without_a_task(
    pool: asyncpg.Pool, url: str
) -> None:
    async def statements() -> None:
        for n in range(50):
            assert await pool.fetchval("SELECT $1::int", n) == n

    assert await _tasks_created(statements) == 0
    assert pool.get_idle_size() == pool.get_size() == 1
    # asyncpg's own pool, with the same settings, shields every release in a task: what this saves
    plain = await create_read_pool(url, min_size=1, max_size=1, kind=asyncpg.Pool)
    try:

        async def plain_statements() -> None:
            for n in range(50):
                await plain.fetchval("SELECT $1::int", n)

        assert await _tasks_created(plain_statements) >= 50
    finally:
        await plain.close()


async def test_a_transaction_left_open_is_rolled_back_on_release(pool: asyncpg.Pool) -> None:
    connection = await pool.acquire()
    await connection.execute("BEGIN")
    await connection.execute("CREATE TEMP TABLE left_open (n int)")
    await pool.release(connection)
    async with pool.acquire() as again:  # the pool's one connection
        assert not again.is_in_transaction()
        assert await again.fetchval("SELECT to_regclass('pg_temp.left_open')") is None


async def test_a_connection_the_server_dropped_is_replaced(pool: asyncpg.Pool, url: str) -> None:
    first = await pool.fetchval("SELECT pg_backend_pid()")
    admin = await asyncpg.connect(url)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", first)
    finally:
        await admin.close()
    await asyncio.sleep(0.2)  # the server's goodbye reaches the idle connection
    failures = 0
    for _ in range(3):  # at most one statement may meet the dropped socket first
        try:
            now = await pool.fetchval("SELECT pg_backend_pid()")
            break
        except (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError):
            failures += 1
    assert failures <= 1
    assert now not in (None, first)
    assert pool.get_idle_size() == pool.get_size() == 1


async def test_a_cancelled_statement_gives_its_connection_back(pool: asyncpg.Pool) -> None:
    slow = asyncio.create_task(pool.fetchval("SELECT pg_sleep(30)"))
    await asyncio.sleep(0.2)
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow
    answer = await asyncio.wait_for(pool.fetchval("SELECT 7"), timeout=10)
    assert answer == 7  # the one connection came back, its query cancelled
    assert pool.get_idle_size() == pool.get_size() == 1


async def test_waiters_are_served_as_connections_come_back(url: str) -> None:
    pool = await create_read_pool(url, min_size=2, max_size=2)
    try:
        answers = await asyncio.wait_for(
            asyncio.gather(
                *(pool.fetchval("SELECT $1::int, pg_sleep(0.02)", n) for n in range(20))
            ),
            timeout=30,
        )
        assert answers == list(range(20))
        assert pool.get_idle_size() == pool.get_size() == 2
    finally:
        await pool.close()
