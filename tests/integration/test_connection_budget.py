"""The tests leave a PostgreSQL with too few free connections for the suite alone: the free
slots are counted without the reserved ones, and below the budget the session takes an
embedded server of its own, saying so."""

from __future__ import annotations

import time
from pathlib import Path

import asyncpg
import pytest
from connection_budget import enough_slots, free_slots

from grondslag.embedded import EmbeddedPostgres

from outage_support import free_port, run


def _settled_free_slots(url: str, expected: int, within: float = 5.0) -> int:
    """``free_slots`` once the backends of connections just closed (the start's readiness
    probe, the last count's own) have left the server: the count it settles on, or the
    last one seen after ``within`` seconds (a count that is wrong stays wrong)."""
    deadline = time.monotonic() + within
    while (free := free_slots(url)) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return free


async def _hold(url: str, count: int) -> list[asyncpg.Connection]:
    return [await asyncpg.connect(url) for _ in range(count)]


def test_a_server_with_few_free_connections_is_left_for_an_embedded_one(
    private_dir: Path,
) -> None:
    settings = {"max_connections": "12", "superuser_reserved_connections": "3"}
    with EmbeddedPostgres(private_dir, port=free_port(), settings=settings) as pg:
        url = pg.url
        assert _settled_free_slots(pg.url, 12 - 3) == 12 - 3
        assert enough_slots(pg.url, budget=9)

        async def busy() -> None:
            held = await _hold(pg.url, 5)  # other work on the server
            try:
                assert _settled_free_slots(pg.url, 12 - 3 - 5) == 12 - 3 - 5
                with pytest.warns(UserWarning, match=r"[34] free connections, fewer than the 9"):
                    assert not enough_slots(pg.url, budget=9)
                assert enough_slots(pg.url, budget=0)  # 0: never falls back
            finally:
                for conn in held:
                    await conn.close()

        run(busy())
    assert free_slots(url) == 0  # the server is gone: nothing free
