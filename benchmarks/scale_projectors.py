"""Projection throughput with a given number of projector processes.

Each process runs the projector as ``grondslag project`` does (``Projector``: the read model,
the audit log, the request index, the checkpointer and the clocks; no NATS relay, so that a
million events are not published to a broker the benchmark does not own) until it is
stopped. The processes are forked from a forkserver that imported the projector once, so
that a start costs a fork, not an import. Throughput is counted from the moment every
process has started to the moment every tracking row has passed the top of the log: the
events the slowest projection still had to take over the time it took.

With one tracking row per projection only one process at a time makes progress; once the
projections are partitioned (``GRONDSLAG_PROJECTION_PARTITIONS``, inherited from the
environment), the same measurement with 2 and 4 processes shows what sharing gains.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from grondslag.ledger.persistence.postgres import EVENTS_TABLE

POLL_SECONDS = 0.05
TIMEOUT_SECONDS = 3_600.0


@dataclass(frozen=True)
class Throughput:
    processes: int
    events: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else float("nan")


async def project(url: str, data_dir: Path, processes: int) -> Throughput:
    """Run ``processes`` projectors until the whole log is projected, then stop them."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["grondslag.projector.runner", __name__])
    ready = context.Queue()
    children = [
        context.Process(target=_run, args=(url, str(data_dir), ready), daemon=True)
        for _ in range(processes)
    ]
    for child in children:
        child.start()
    conn = await asyncpg.connect(url)
    try:
        await asyncio.to_thread(_wait_ready, ready, children)
        started = time.perf_counter()
        top = await conn.fetchval(f"SELECT coalesce(max(notification_id), 0) FROM {EVENTS_TABLE}")
        behind = await _slowest(conn)
        while await _slowest(conn) < top:
            if time.perf_counter() - started > TIMEOUT_SECONDS:
                raise TimeoutError("the projectors did not catch up")
            if not all(child.is_alive() for child in children):
                raise RuntimeError("a projector process ended before the log was projected")
            await asyncio.sleep(POLL_SECONDS)
        return Throughput(processes, top - behind, time.perf_counter() - started)
    finally:
        await conn.close()
        for child in children:
            child.terminate()
        for child in children:
            child.join(30)


def _wait_ready(ready: multiprocessing.Queue[bool], children: list[Any]) -> None:
    """Until every process has started its projector; a process that died first ends the
    wait at once (its error is on stderr)."""
    deadline = time.monotonic() + 120
    for _ in children:
        while True:
            try:
                ready.get(timeout=0.1)
                break
            except queue.Empty:
                if not all(child.is_alive() for child in children):
                    raise RuntimeError("a projector process ended before it started") from None
                if time.monotonic() > deadline:
                    raise TimeoutError("the projector processes did not start") from None


async def _slowest(conn: asyncpg.Connection) -> int:
    """The position of the projection furthest behind (0 before any has a row)."""
    return await conn.fetchval("SELECT coalesce(min(position), 0) FROM grondslag_tracking") or 0


def _run(url: str, data_dir: str, ready: multiprocessing.Queue[bool]) -> None:
    asyncio.run(_projector(url, Path(data_dir), ready))


async def _projector(url: str, data_dir: Path, ready: multiprocessing.Queue[bool]) -> None:
    from grondslag.ledger.settings import Settings
    from grondslag.projector.runner import Projector

    projector = Projector(
        Settings(database_url=url, nats_url=None, data_dir=data_dir, projection_poll_seconds=0.2)
    )
    await projector.start()
    ready.put(True)
    try:
        await asyncio.Event().wait()  # until terminated
    finally:
        await projector.stop()
