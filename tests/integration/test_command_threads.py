"""Commands queue for a thread, not for a connection: litestar runs the sync handlers (every
command) on the event loop's default executor, which the app sizes to the write pool
(``GRONDSLAG_WRITE_POOL_SIZE``) — left alone it has min(32, cores + 4) threads, more than
the pool's connections on any machine of more than a few cores, and the commands beyond
them would wait for a connection, each up to the database wait, instead of in line."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from litestar.testing import TestClient

from grondslag.ledger.settings import Settings


def test_the_sync_handlers_run_on_one_thread_per_write_connection(
    client: TestClient, settings: Settings, tenant: Any
) -> None:
    async def default_executor() -> Any:
        return asyncio.get_running_loop()._default_executor  # type: ignore[attr-defined]

    with client.portal() as portal:  # the running app's own (the client is entered)
        executor = portal.call(default_executor)
    assert executor is not None, "the loop's default executor was left to asyncio"
    assert executor._max_workers == settings.write_pool_size
    assert tenant.call("PUT", "/v1/subjects/threads-1", json={}).status_code in (200, 201)
    names = {thread.name for thread in threading.enumerate()}
    assert any(name.startswith("grondslag-command") for name in names), names
