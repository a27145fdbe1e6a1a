"""The suite's connection budget: how many PostgreSQL connections the tests hold at once at
most, and whether a server has that many free for them.

tests/integration peaked at 41 client connections (pg_stat_activity sampled every 0.1 s
during a whole run on a server of its own: README, "Running the tests"); the budget leaves
room above that. A server with fewer free slots for us runs the session on an embedded
PostgreSQL of its own (tests/conftest.py) instead of failing tests with "too many clients";
``TEST_DATABASE_CONNECTIONS`` sets the budget, 0 never falls back.
"""

from __future__ import annotations

import os
import warnings

import psycopg

BUDGET = int(os.environ.get("TEST_DATABASE_CONNECTIONS", "60"))
FREE_SLOTS = """
SELECT current_setting('max_connections')::int
     - current_setting('superuser_reserved_connections')::int
     - coalesce(current_setting('reserved_connections', true)::int, 0)
     - (SELECT count(*) FROM pg_stat_activity
        WHERE backend_type = 'client backend' AND pid <> pg_backend_pid())
"""


def free_slots(admin_url: str) -> int:
    """Connection slots the server has free now, its reserved ones left out (0: it refused
    us, or did not answer)."""
    try:
        with psycopg.connect(admin_url, connect_timeout=3) as conn:
            row = conn.execute(FREE_SLOTS).fetchone()
            return int(row[0]) if row else 0
    except psycopg.OperationalError:
        return 0


def enough_slots(admin_url: str, budget: int = BUDGET) -> bool:
    """Whether the server has ``budget`` slots free; says so in a warning when not."""
    if budget <= 0:
        return True
    free = free_slots(admin_url)
    if free < budget:
        warnings.warn(
            f"PostgreSQL at {admin_url.rsplit('@', 1)[-1]} has {free} free connections, "
            f"fewer than the {budget} the tests need: they use an embedded PostgreSQL",
            stacklevel=2,
        )
        return False
    return True
