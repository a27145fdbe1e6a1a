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

``partitioned`` measures the read model's projection alone over a range of the log already
projected, split into K partitions, each followed by a process of its own under a projection
name of the run's: per partition, what one process takes, and with 2 and 4 what sharing
gains (figures of the machine's free cores as much as of the code).
"""

from __future__ import annotations

import asyncio
import functools
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
START_SECONDS = 120.0


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
    """Start the forkserver (it imports the projector and the rebuild's jobs) while the caller
    does other work."""
    _context().set_forkserver_preload(
        ["grondslag.projector.runner", "grondslag.projector.rebuild_jobs", __name__]
    )
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
        Settings(
            database_url=url,
            nats_url=None,
            data_dir=data_dir,
            projection_poll_seconds=0.2,
            projector_kept_standings=kept_capacity(),
        )
    )


def kept_capacity() -> int:
    """The projectors' kept standings: ``GRONDSLAG_PROJECTOR_KEPT_STANDINGS`` as a projector
    reads it (its default without)."""
    from grondslag.ledger.settings import Settings

    return Settings.from_env().projector_kept_standings


async def _projector(url: str, data_dir: Path, ready: Any, spent: Any) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    projector = _projector_for(url, data_dir)
    await projector.start()
    ready.put(True)
    await stop.wait()
    await projector.stop()
    spent.put(time.process_time())


async def partitioned(
    url: str, data_dir: Path, first: int, last: int, partitions: int
) -> Throughput:
    """The read model's projection of the events ``first`` to ``last`` (notification ids) in
    ``partitions`` partitions, one process each: from the moment every process is ready to
    the moment the last partition has passed ``last``."""
    name = f"scale_partitions_{partitions}"
    await _reset(url, name, partitions, first - 1)
    prepare()
    context = _context()
    ready, go, done = context.Barrier(partitions + 1), context.Event(), context.Queue()
    children = [
        context.Process(
            target=_follow_partition,
            args=(url, str(data_dir), name, partition, partitions, last, ready, go, done),
            daemon=True,
        )
        for partition in range(partitions)
    ]
    for child in children:
        child.start()
    try:
        await asyncio.to_thread(ready.wait, START_SECONDS)
        started = time.monotonic()
        go.set()
        ends = [await asyncio.to_thread(_next, done, children) for _ in children]
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()
        await asyncio.to_thread(lambda: [child.join(30) for child in children])
    ended = max(end for end, _ in ends)
    return Throughput(partitions, last - first + 1, ended - started, sum(cpu for _, cpu in ends))


def _next(done: Any, children: list[Any]) -> Any:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            return done.get(timeout=0.5)
        except queue.Empty:
            if not all(child.is_alive() or child.exitcode == 0 for child in children):
                raise RuntimeError(
                    "a partition's process ended before its events were projected"
                ) from None
    raise TimeoutError("the partitions' processes did not catch up")


async def _reset(url: str, name: str, partitions: int, position: int) -> None:
    from grondslag.projector import tracking

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(tracking.DDL)
        await conn.execute(f"DELETE FROM {tracking.TABLE} WHERE projection = $1", name)
        await tracking.ensure(conn, name, partitions)
        await conn.execute(
            f"UPDATE {tracking.TABLE} SET position = $2 WHERE projection = $1", name, position
        )
    finally:
        await conn.close()


def _follow_partition(
    url: str, data_dir: str, name: str, partition: int, partitions: int, last: int, *sync: Any
) -> None:
    asyncio.run(_follow(url, Path(data_dir), name, partition, partitions, last, *sync))


async def _follow(
    url: str,
    data_dir: Path,
    name: str,
    partition: int,
    partitions: int,
    last: int,
    ready: Any,
    go: Any,
    done: Any,
) -> None:
    """One partition's follower of the read model, from its reset position past ``last``;
    puts (when it got there, its CPU seconds)."""
    from grondslag.ledger import envelope
    from grondslag.ledger.reads.pool import create_read_pool
    from grondslag.ledger.settings import Settings
    from grondslag.projector import current_standing
    from grondslag.projector.follower import LogFollower
    from grondslag.projector.kept_standings import KeptStandings

    envelope.use(Settings(database_url=url, data_dir=data_dir))  # the fold unseals birth dates
    pool = await create_read_pool(url, min_size=1, max_size=2)
    try:
        project = functools.partial(current_standing.project, kept=KeptStandings(kept_capacity()))
        follower = LogFollower(pool, url, name, project, partition=partition, partitions=partitions)
        await asyncio.to_thread(ready.wait, START_SECONDS)
        await asyncio.to_thread(go.wait, START_SECONDS)
        cpu = time.process_time()
        while await follower.position() < last:
            await follower.step()
        done.put((time.monotonic(), time.process_time() - cpu))
    finally:
        await pool.close()
