"""The asyncpg pool of the read side (and of the projector).

asyncpg resets every connection on release with a round trip (``RESET ALL``, ``UNLISTEN``,
…). Our queries keep no session state — transactions are always scoped, listeners use
their own connections — so the reset only rolls back a transaction left open, and a read
costs one round trip instead of two.
"""

from __future__ import annotations

import asyncpg


async def _rollback_if_open(conn: asyncpg.Connection) -> None:
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


async def create_read_pool(
    dsn: str, *, min_size: int = 2, max_size: int = 10, connect_timeout: float = 5.0
) -> asyncpg.Pool:
    """The pool; a connection the server dropped is replaced at its next acquire, so the pool
    is back by itself when the database is. Connecting is bounded by ``connect_timeout``
    (asyncpg's default is a minute), so that with the database away a read fails fast."""
    return await asyncpg.create_pool(
        dsn,
        min_size=min(min_size, max_size),  # GRONDSLAG_READ_POOL_SIZE=1 is a pool of one
        max_size=max_size,
        timeout=connect_timeout,
        reset=_rollback_if_open,
        # compiling a query with JIT costs more than these short queries take to run
        server_settings={"jit": "off"},
    )
