"""Section 5 of ``grondslag bench --projector``: the read model's projection shared by 1, 2
and 4 processes, each projecting its share of 8 partitions of a log written across 16
tenants, next to one process following the whole log unpartitioned (the projector before
partitions), in the same run on the same events.

The processes are real ones (``multiprocessing``, spawned): the fold is Python, so work in
one process shares one interpreter lock, and sharing only pays across processes. Each
process is started and its follower (one over its partitions, as in the projector) set up
before the clock starts; the clock stops when the last process has brought its partitions
to the log's head. The partitions are handed
out statically (partition p to process p mod K), as the advisory locks would spread them.
Figures, not assertions: on a machine with fewer cores than processes the ratio says so.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from typing import Any

import asyncpg
from rich.console import Console

from grondslag.ledger.application import Ledger
from grondslag.ledger.domain.standing import Standing

from .common import CONSENT, PURPOSE, REGISTERED_AT, TERMS, Row, command_context

PARTITIONS, TENANTS, PROCESSES = 8, 16, (1, 2, 4)


async def partition_throughput(
    ledger: Ledger, pool: asyncpg.Pool, url: str, events: int, console: Console
) -> list[Row]:
    first, last = await asyncio.to_thread(_fill, ledger, events)
    count = last - first + 1
    console.print(f"log topped up with {count:,} events across {TENANTS} tenants")
    whole = await asyncio.to_thread(_run, url, first, last, 1, 1)
    console.print(f"one process, the whole log: {count / whole:,.0f} events/s")
    rows = [
        Row(
            "baseline: projection, 1 process, the whole log unpartitioned",
            count / whole,
            "events/s",
        )
    ]
    for processes in PROCESSES:
        elapsed = await asyncio.to_thread(_run, url, first, last, PARTITIONS, processes)
        rate = count / elapsed
        console.print(
            f"{processes} process(es), {PARTITIONS} partitions: {rate:,.0f} events/s, "
            f"{rate / PARTITIONS:,.0f} events/s per partition"
        )
        rows.append(
            Row(
                f"projection, {processes} process(es) sharing {PARTITIONS} partitions",
                rate,
                "events/s",
                "1 process, the whole log unpartitioned",
                count / whole,
                "≥ 1× with 1 process; more with more cores",
            )
        )
    return rows


def _fill(ledger: Ledger, events: int) -> tuple[int, int]:
    """Standings with one consent, across ``TENANTS`` tenants, 100 per save; answers the
    first and last notification id written."""
    tenants = [f"bench-part-{n}-{time.monotonic_ns() % 10**8}" for n in range(TENANTS)]
    versions = {}
    for tenant in tenants:
        ledger.register_purpose(tenant, PURPOSE, TERMS, REGISTERED_AT)
        versions[tenant] = ledger.purpose(tenant, PURPOSE).versions
    first = (ledger.recorder.max_notification_id() or 0) + 1
    batch: list[Standing] = []
    for n in range(events // 2):
        tenant = tenants[n % TENANTS]
        standing = Standing.open(tenant, f"part-{n}", PURPOSE)
        standing.give_consent(command_context(versions[tenant]), **CONSENT)
        batch.append(standing)
        if len(batch) == 100:
            ledger.save(*batch)
            batch = []
    if batch:
        ledger.save(*batch)
    return first, ledger.recorder.max_notification_id() or 0


def _run(url: str, first: int, last: int, partitions: int, processes: int) -> float:
    """Seconds for ``processes`` processes to project the events from ``first`` to
    ``last``, under a projection name of the run's own."""
    name = f"bench_partitions_{partitions}_{processes}"
    asyncio.run(_reset(url, name, partitions, first - 1))
    context = multiprocessing.get_context("spawn")
    ready, go, done = context.Barrier(processes + 1), context.Event(), context.Queue()
    workers = [
        context.Process(
            target=_project,
            args=(url, name, partitions, list(range(n, partitions, processes)), last),
            kwargs={"ready": ready, "go": go, "done": done},
        )
        for n in range(processes)
    ]
    for worker in workers:
        worker.start()
    ready.wait(120)
    started = time.monotonic()
    go.set()
    ends = [done.get(timeout=600) for _ in workers]
    for worker in workers:
        worker.join(30)
    return max(ends) - started


async def _reset(url: str, name: str, partitions: int, position: int) -> None:
    from grondslag.projector import tracking

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(tracking.DDL)
        await tracking.ensure(conn, name, partitions)
        await conn.execute(
            f"UPDATE {tracking.TABLE} SET position = $2 WHERE projection = $1", name, position
        )
    finally:
        await conn.close()


def _project(url: str, name: str, partitions: int, mine: list[int], last: int, **sync: Any) -> None:
    """A process of the run: its partitions' follower, up to ``last``."""
    asyncio.run(_follow(url, name, partitions, mine, last, **sync))


async def _follow(
    url: str, name: str, partitions: int, mine: list[int], last: int, **sync: Any
) -> None:
    from grondslag.ledger.reads.pool import create_read_pool
    from grondslag.projector import current_standing
    from grondslag.projector.follower import LogFollower

    pool = await create_read_pool(url, min_size=1, max_size=2)
    try:
        # one follower over the process's partitions, as the projector runs it
        follower = LogFollower(
            pool, url, name, current_standing.project, partitions=partitions, owned=mine
        )
        await asyncio.to_thread(sync["ready"].wait, 120)
        await asyncio.to_thread(sync["go"].wait, 120)
        lowest = "SELECT min(position) FROM grondslag_tracking WHERE projection = $1 "
        lowest += "AND partition = ANY($2::integer[])"
        while await pool.fetchval(lowest, name, mine) < last:
            await follower.step()
        sync["done"].put(time.monotonic())
    finally:
        await pool.close()
