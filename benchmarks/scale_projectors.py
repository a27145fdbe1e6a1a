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

``processes=0`` runs the one projector in this process instead (the test suite's tiny run:
a process of its own would first import the whole service, seconds on a busy machine).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.forkserver
import queue
import signal
import time
from collections.abc import Callable
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
    cpu_seconds: float  # the projector processes' own, summed: what the load did not take

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else float("nan")

    @property
    def cpu_rate(self) -> float:
        return self.events / self.cpu_seconds if self.cpu_seconds else float("nan")


def prepare() -> None:
    """Start the forkserver (it imports the projector) while the caller does other work."""
    _context().set_forkserver_preload(["grondslag.projector.runner", __name__])
    multiprocessing.forkserver.ensure_running()


def _context() -> Any:
    return multiprocessing.get_context("forkserver")


async def project(url: str, data_dir: Path, processes: int) -> Throughput:
    """Run ``processes`` projectors until the whole log is projected, then stop them."""
    if processes == 0:
        return await _in_this_process(url, data_dir)
    prepare()
    context = _context()
    ready, spent = context.Queue(), context.Queue()
    children = [
        context.Process(target=_run, args=(url, str(data_dir), ready, spent), daemon=True)
        for _ in range(processes)
    ]
    for child in children:
        child.start()
    try:
        await asyncio.to_thread(_wait_ready, ready, children)

        def check() -> None:
            if not all(child.is_alive() for child in children):
                raise RuntimeError("a projector process ended before the log was projected")

        events, elapsed = await _caught_up(url, check)
        for child in children:
            child.terminate()  # SIGTERM: each stops its projector and reports its CPU time
        cpu = 0.0
        for _ in children:
            cpu += await asyncio.to_thread(spent.get, True, 60)
        return Throughput(processes, events, elapsed, cpu)
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()
        for child in children:
            child.join(30)


async def _in_this_process(url: str, data_dir: Path) -> Throughput:
    projector = _projector_for(url, data_dir)
    await projector.start()
    cpu = time.process_time()
    try:
        events, elapsed = await _caught_up(url, lambda: None)
    finally:
        await projector.stop()
    return Throughput(0, events, elapsed, time.process_time() - cpu)


async def _caught_up(url: str, check: Callable[[], None]) -> tuple[int, float]:
    """Wait until every tracking row has passed the log's top: the events the slowest
    projection had left, and the seconds it took."""
    conn = await asyncpg.connect(url)
    try:
        started = time.perf_counter()
        top = await conn.fetchval(f"SELECT coalesce(max(notification_id), 0) FROM {EVENTS_TABLE}")
        behind = await _slowest(conn)
        while await _slowest(conn) < top:
            if time.perf_counter() - started > TIMEOUT_SECONDS:
                raise TimeoutError("the projectors did not catch up")
            check()
            await asyncio.sleep(POLL_SECONDS)
        return top - behind, time.perf_counter() - started
    finally:
        await conn.close()


def _wait_ready(ready: Any, children: list[Any]) -> None:
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


def _run(url: str, data_dir: str, ready: Any, spent: Any) -> None:
    asyncio.run(_projector(url, Path(data_dir), ready, spent))


def _projector_for(url: str, data_dir: Path) -> Any:
    from grondslag.ledger.settings import Settings
    from grondslag.projector.runner import Projector

    return Projector(
        Settings(database_url=url, nats_url=None, data_dir=data_dir, projection_poll_seconds=0.2)
    )


async def _projector(url: str, data_dir: Path, ready: Any, spent: Any) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    projector = _projector_for(url, data_dir)
    await projector.start()
    ready.put(True)
    await stop.wait()
    await projector.stop()
    spent.put(time.process_time())
