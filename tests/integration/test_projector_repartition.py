"""A projector process whose partition count another process changed is not ready: its
followers find their tracking rows gone and project nothing, so its readiness answers 503
naming the count stored and its own, and it tells the operator once what to restart with.
Two projectors in one event loop, on a database of the test's own."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import Counter
from dataclasses import replace

import httpx
import pytest

from grondslag.ledger.domain.values import PersonalData
from grondslag.projector import health
from grondslag.projector.runner import Projector

from projector_support import HEAD, Store, give, new_tenant, wait_for

RESTART = "GRONDSLAG_PROJECTION_PARTITIONS=4"


async def _ready(projector: Projector) -> tuple[int, dict[str, str]]:
    """The projector's readiness, served as ``--health-port`` serves it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = health.HealthServer(projector, "127.0.0.1", port)
    await server.start()
    try:
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{port}/health/ready", timeout=10)
        return response.status_code, response.json()["checks"]
    finally:
        await server.stop()


async def test_a_projector_whose_partition_count_was_changed_is_not_ready_and_says_so_once(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    tenant = new_tenant(store.ledger)
    store.ledger.put_subject(tenant, "client-1", PersonalData())
    give(store.ledger, tenant, "client-1")
    settings = store.settings(None)
    first = Projector(replace(settings, projection_partitions=2))
    await first.start()
    second = None
    try:
        assert first.pool is not None and first.partition_watch is not None
        first.partition_watch.interval = 0.05  # looks often: still one line, not one a look
        pool = first.pool

        async def caught_up() -> bool:
            head = await pool.fetchval(HEAD)
            positions = await pool.fetch("SELECT DISTINCT position FROM grondslag_tracking")
            return [row["position"] for row in positions] == [head]

        await wait_for(caught_up, 15, "the first projector at the log's head")
        status, checks = await _ready(first)
        assert status == 200, checks

        caplog.set_level(logging.INFO, logger="grondslag.projector")
        # every partition at one position: the second's count replaces the first's
        second = Projector(replace(settings, projection_partitions=4))
        await second.start()
        counts = await pool.fetch("SELECT DISTINCT partitions FROM grondslag_tracking")
        assert [row["partitions"] for row in counts] == [4]

        status, checks = await _ready(first)
        assert status == 503, checks
        assert checks["partitions"] == (
            "audit_log, current_standing, subject_requests stored under 4 partitions, this "
            f"process runs 2: restart with {RESTART}"
        )
        assert second.ownership is not None
        await asyncio.wait_for(second.ownership.connected.wait(), 10)
        ok = {"database": "ok", "ownership": "ok", "partitions": "ok"}
        assert await _ready(second) == (200, ok)

        await asyncio.sleep(0.5)  # ten looks of the watch, and more probes
        await _ready(first)
        told = [r for r in caplog.records if RESTART in r.getMessage()]
        assert len(told) == 1, [r.getMessage() for r in told]
        assert told[0].levelno == logging.ERROR
        assert "this process runs 2" in told[0].getMessage()
        # its followers, retrying, each said once that their partition is gone: no trace
        # of a failure at every poll
        assert not [r for r in caplog.records if "failed; retrying" in r.getMessage()]
        gone = Counter(
            r.getMessage().split(":")[0]
            for r in caplog.records
            if "projecting nothing" in r.getMessage()
        )
        assert gone and set(gone.values()) == {1}, gone
    finally:
        if second is not None:
            await second.stop()
        await first.stop()
