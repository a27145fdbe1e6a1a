"""The asyncpg pool of the read side (and of the projector).

asyncpg resets every connection on release with a round trip (``RESET ALL``, ``UNLISTEN``,
…). Our queries keep no session state — transactions are always scoped, listeners use
their own connections — so the reset only rolls back a transaction left open, and a read
costs one round trip instead of two.

asyncpg's pool also returns every connection through ``asyncio.shield`` on a task of its
own (so that a cancelled caller cannot strand it), which costs each statement a task and
two more turns of the event loop: a third of what a one-row select costs through the
pool, nearly a tenth of a whole standing read. :class:`ReadPool` returns a connection that
has nothing to reset (no transaction, no listener, no cancellation under way, not closed,
not due to be replaced) at once, without awaiting, where a cancellation cannot reach; any
other is released by asyncpg's own path.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from asyncpg.connection import Connection
from asyncpg.pool import PoolConnectionHolder, PoolConnectionProxy
from asyncpg.protocol import Record


async def _rollback_if_open(conn: asyncpg.Connection) -> None:
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


class ReadPool(asyncpg.Pool):
    """asyncpg's pool, but for releasing a connection that needs no reset: synchronously.

    Such a release does what asyncpg's ``PoolConnectionHolder.release`` does once its
    awaits found nothing to do: the connection's release bookkeeping, the holder back in the
    queue (waking a waiter), the idle timer armed again.
    """

    async def release(self, connection: Any, *, timeout: float | None = None) -> None:
        if not _clean(self, connection):
            return await super().release(connection, timeout=timeout)
        holder: PoolConnectionHolder = connection._holder
        connection._con._on_release()
        holder._timeout = None
        holder._release()
        holder._setup_inactive_callback()
        return None


def _clean(pool: ReadPool, connection: Any) -> bool:
    """Whether releasing ``connection`` to ``pool`` needs neither a reset nor a close."""
    if type(connection) is not PoolConnectionProxy or connection._holder._pool is not pool:
        return False  # asyncpg's path refuses it
    holder, con = connection._holder, connection._con
    return (
        con is not None  # not released already
        and not con.is_closed()
        and not con.is_in_transaction()
        and con._top_xact is None
        and not con._listeners
        and not con._log_listeners
        and not con._protocol._is_cancelling()
        and con._protocol.queries_count < holder._max_queries
        and holder._generation == pool._generation
    )


async def create_read_pool(
    dsn: str,
    *,
    min_size: int = 2,
    max_size: int = 10,
    connect_timeout: float = 5.0,
    kind: type[asyncpg.Pool] = ReadPool,
) -> asyncpg.Pool:
    """The pool; a connection the server dropped is replaced at its next acquire, so the pool
    is back by itself when the database is. Connecting is bounded by ``connect_timeout``
    (asyncpg's default is a minute), so that with the database away a read fails fast.
    ``kind=asyncpg.Pool`` gives asyncpg's own release with the same settings (the bench's
    baseline)."""
    pool = kind(
        dsn,
        min_size=min(min_size, max_size),  # GRONDSLAG_READ_POOL_SIZE=1 is a pool of one
        max_size=max_size,
        # asyncpg.create_pool's defaults, which the constructor does not supply
        max_queries=50_000,
        max_inactive_connection_lifetime=300.0,
        loop=None,
        connection_class=Connection,
        record_class=Record,
        timeout=connect_timeout,
        reset=_rollback_if_open,
        # compiling a query with JIT costs more than these short queries take to run
        server_settings={"jit": "off"},
    )
    return await pool
