"""Pages touched: what a question costs PostgreSQL, counted rather than timed.

A timing on a shared machine moves with its load; the shared buffers an answer's queries
touch (hit in the cache or read from disk, as ``EXPLAIN (ANALYZE, BUFFERS)`` counts them)
do not. An answer that costs O(its streams) touches the same pages in a store of 10⁴
events and of 10⁶, give or take a level of an index; one that scanned the store would touch
a hundred times more.

``Recording`` stands in for the pool while one question is asked and keeps each query with
its arguments; ``pages`` then runs each again under ``EXPLAIN`` and adds up its buffers.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg


class Recording:
    """A pool that records the queries asked of it (``fetch``, ``fetchrow``, ``fetchval``)."""

    def __init__(self, pool: asyncpg.Pool):
        self.pool = pool
        self.queries: list[tuple[str, tuple[Any, ...]]] = []

    async def fetch(self, query: str, *args: Any, **kwargs: Any) -> Any:
        self.queries.append((query, args))
        return await self.pool.fetch(query, *args, **kwargs)

    async def fetchrow(self, query: str, *args: Any, **kwargs: Any) -> Any:
        self.queries.append((query, args))
        return await self.pool.fetchrow(query, *args, **kwargs)

    async def fetchval(self, query: str, *args: Any, **kwargs: Any) -> Any:
        self.queries.append((query, args))
        return await self.pool.fetchval(query, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pool, name)


async def pages(pool: asyncpg.Pool, queries: list[tuple[str, tuple[Any, ...]]]) -> int:
    """The shared buffers the queries' execution touches (planning left out)."""
    total = 0
    async with pool.acquire() as conn:
        for query, args in queries:
            plan = await conn.fetchval(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {query}", *args)
            top = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]
            total += top.get("Shared Hit Blocks", 0) + top.get("Shared Read Blocks", 0)
    return total
