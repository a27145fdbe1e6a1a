"""The check of a pooled connection before use, without a round trip while nothing arrived.

The library's pre-ping (``POSTGRES_PRE_PING``) sends an empty query on every checkout: two
round trips per command (its load and its save), and the server's work for each. A server
that ends a session (a restart, ``pg_terminate_backend``, a fail-over) says so on the
socket — an error message, then the end of the stream — so a connection whose socket has
nothing to read was not dropped while it idled in the pool. Only when something did arrive
(or the driver knows the connection is broken) is it asked, as the library would; a
connection that fails that is replaced by the pool before the command sees it.
"""

from __future__ import annotations

import select
from typing import Any

from psycopg_pool import ConnectionPool


def check_quietly(conn: Any) -> None:
    """Raise if the pooled connection cannot be used (the pool then replaces it)."""
    if not conn.closed and not getattr(conn, "broken", False):
        readable, _, _ = select.select([conn.fileno()], [], [], 0)
        if not readable:
            return  # the server said nothing while it idled: it has not hung up
    ConnectionPool.check_connection(conn)
