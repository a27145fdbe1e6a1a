"""``grondslag bench --scale``: the same questions asked of a store of 10⁴, 10⁵ and 10⁶ events.

One fresh database on the server of ``DATABASE_URL`` (else the embedded one) is filled
(``scale_fill``: 100 tenants, 10,000 subjects, real events in big transactions) in stages;
at each stage the projector processes (``scale_projectors``) catch up on what was added,
the probe tenant's audit log gets a signed checkpoint, and the same questions are asked of
the same streams, through the functions the API's handlers call:

* a bitemporal standing read (``at``/``known_at`` inside a long history: folded from the
  log, with its evidence records), one at a time;
* a batch check of 10,000 refs (the probe tenant's subjects and refs never recorded);
* an inclusion proof of a probe event (the probe tenant's tree holds a fixed number of
  leaves), and one of a filler tenant's event (whose tree grows with the store);
* the baseline: a raw asyncpg primary-key select of one event.

Each answer must equal the one at the first stage (the probe's streams never change). Then,
at the last stage, with 1, 2 and 4 processes each: the read model's projection of the last
stage's events in as many partitions (``scale_projectors.partitioned``) and its rebuild
over the whole log in as many jobs (``grondslag rebuild --jobs``), wall and CPU seconds;
and the disk the store takes (``pg_total_relation_size`` of each table with its indexes,
after ``VACUUM FULL``), per event. Figures, not assertions; ``--scale-events`` makes the
whole path tiny (the test suite runs it so, with fewer processes).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
from rich.console import Console
from rich.table import Table

from grondslag.ledger.audit import signing
from grondslag.ledger.audit import store as audit_store
from grondslag.ledger.bootstrap import build_ledger
from grondslag.ledger.domain.ids import event_id, standing_id
from grondslag.ledger.persistence.postgres import EVENTS_TABLE, KEYS_TABLE, STREAMS_TABLE
from grondslag.ledger.reads import audit
from grondslag.ledger.reads.checks import CURRENT_STANDING_TABLE, check_subjects
from grondslag.ledger.reads.pool import create_read_pool
from grondslag.ledger.reads.standing import one_standing
from grondslag.ledger.settings import Settings
from grondslag.projector import current_standing, request_index
from grondslag.projector.rebuild import Folded, fold_into

from .common import throwaway_database
from .scale_fill import Probe, Shape, Store
from .scale_pages import Recording, pages
from .scale_projectors import Throughput, partitioned, prepare, project

BASELINE = "raw asyncpg PK select (baseline)"
HEAD = f"SELECT coalesce(max(notification_id), 0) FROM {EVENTS_TABLE}"
GROWING = "inclusion proof, a filler tenant (its tree grows)"
ANALYZED = (
    EVENTS_TABLE,
    STREAMS_TABLE,
    KEYS_TABLE,
    CURRENT_STANDING_TABLE,
    "grondslag_audit_leaves",
    "grondslag_audit_nodes",
)
PROCESSES = (1, 2, 4)  # the partitions and the rebuild's jobs measured at the last stage


@dataclass
class Stage:
    """What one stage of the fill measured."""

    events: int
    top: int  # the log's last notification id at this stage
    projection: Throughput
    costs: dict[str, float] = field(default_factory=dict)  # measure → median ms
    pages: dict[str, int] = field(default_factory=dict)  # measure → shared buffers touched
    answers: dict[str, Any] = field(default_factory=dict)  # measure → what it answered


@dataclass
class Result:
    shape: Shape
    processes: int
    stages: list[Stage]
    fill_rate: float
    fill_cpu_rate: float  # events per CPU-second of this process (the load left out)
    rebuilds: list[Folded]  # the read model rebuilt in 1, 2, 4 jobs
    partitioned: list[Throughput]  # the last stage's projection in 1, 2, 4 partitions
    sizes: list[tuple[str, int, int]]  # table, total bytes, of which indexes


def main(args: argparse.Namespace) -> int:
    shape = Shape.for_events(args.scale_events)
    # the library ends a transaction idle for 5 s; on a machine whose cores are shared, the
    # fill's writer can be kept off them that long between two statements of one save
    os.environ.setdefault("POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT", "300")
    console = Console(width=150)
    with throwaway_database() as (url, _), tempfile.TemporaryDirectory() as data_dir:
        console.print(
            f"[bold]grondslag bench --scale[/] on {url.rsplit('@', 1)[-1]}: {shape.events:,} "
            f"events, {shape.subjects:,} subjects, {shape.tenants} tenants, "
            f"{args.scale_projectors} projector process(es)"
        )
        result = asyncio.run(run(url, Path(data_dir), shape, args.scale_projectors, console))
    print_result(console, result)
    return 0


def levels(shape: Shape, written: int) -> list[int]:
    """10⁴, 10⁵, 10⁶ for a million: a hundredth, a tenth and all of it, never less than
    the probe and the registers already hold; a tiny store (a test's) only its start and
    its end."""
    if shape.events < 10_000:
        return sorted({written, shape.events})
    return sorted(
        {max(written, level) for level in (shape.events // 100, shape.events // 10)}
        | {shape.events}
    )


async def run(
    url: str,
    data_dir: Path,
    shape: Shape,
    processes: int,
    console: Console,
    jobs: tuple[int, ...] = PROCESSES,
) -> Result:
    prepare()  # the forkserver of every process started here imports while the store fills
    settings = Settings(database_url=url, data_dir=data_dir)
    ledger = await asyncio.to_thread(build_ledger, settings, 4)
    pool = await create_read_pool(url, min_size=2, max_size=4)
    try:
        for tables in (current_standing.create_tables, audit_store.create_tables):
            await tables(pool)
        await request_index.create_tables(pool)
        store = Store(ledger, shape)
        await asyncio.to_thread(store.register)
        probe = await asyncio.to_thread(store.write_probe)
        stages: list[Stage] = []
        for level in levels(shape, store.events):
            await asyncio.to_thread(store.fill_to, level)
            projected = await project(url, data_dir, processes)
            stage = Stage(store.events, await pool.fetchval(HEAD), projected)
            await _measure(pool, settings, shape, probe, stage)
            console.print(
                f"{stage.events:,} events (filled at {store.filled / store.seconds:,.0f}/s), "
                f"projected at {projected.rate:,.0f}/s ({projected.cpu_rate:,.0f} per CPU-s): "
                + ", ".join(
                    f"{k} {v:.2f} ms ({stage.pages[k]:,} pages)" for k, v in stage.costs.items()
                )
            )
            if stages and stage.answers != stages[0].answers:
                raise AssertionError("the same question got another answer in a bigger store")
            stages.append(stage)
        first = stages[-2].top + 1 if len(stages) > 1 else 1
        shares = [
            await _partitioned(url, data_dir, first, stages[-1].top, k, console) for k in jobs
        ]
        rebuilds = [await _rebuild(pool, settings, k, console) for k in jobs]
        sizes = await _sizes(pool)
    finally:
        await pool.close()
        ledger.close()
    return Result(
        shape,
        processes,
        stages,
        store.filled / store.seconds,
        store.filled / store.cpu_seconds if store.cpu_seconds else float("nan"),
        rebuilds,
        shares,
        sizes,
    )


async def _partitioned(
    url: str, data_dir: Path, first: int, last: int, partitions: int, console: Console
) -> Throughput:
    done = await partitioned(url, data_dir, first, last, partitions)
    console.print(
        f"read model, {done.events:,} events in {partitions} partition(s), a process each: "
        f"{done.rate:,.0f} events/s, {done.rate / partitions:,.0f} per partition, "
        f"{done.cpu_rate:,.0f} per CPU-second"
    )
    return done


async def _rebuild(pool: asyncpg.Pool, settings: Settings, jobs: int, console: Console) -> Folded:
    folded = await fold_into(pool, "scale_rebuild", jobs=jobs, settings=settings)
    await pool.execute("DROP TABLE scale_rebuild")
    cpu = sum(share.cpu_seconds for share in folded.shares)
    console.print(
        f"rebuild in {jobs} job(s): {folded.events:,} events in {folded.seconds:.1f} s, "
        f"{folded.events / folded.seconds:,.0f} events/s; the jobs' CPU {cpu:.1f} s; per job "
        + ", ".join(f"{s.events:,} at {s.rate:,.0f}/s" for s in folded.shares)
    )
    return folded


Ask = Callable[[Any, int], Awaitable[Any]]  # (the pool, or a Recording of it; i) → answer


async def questions(
    pool: asyncpg.Pool, settings: Settings, shape: Shape, probe: Probe
) -> dict[str, tuple[Ask, int]]:
    """The questions asked at every stage, each with how many different ones there are
    (the i-th history, probe event, …); checkpoints of the two tenants' trees signed first."""
    key = await asyncio.to_thread(signing.KeyFile(settings.signing_key_path).current)
    filler_tenant = shape.tenant(1)
    for tenant in (shape.probe_tenant, filler_tenant):
        await audit_store.sign_checkpoint(pool, key, tenant, datetime.now(UTC))
    tenant, code = shape.probe_tenant, shape.probe_purpose
    history = shape.history_refs()

    async def bitemporal(db: Any, i: int) -> Any:
        answer = await one_standing(db, tenant, history[i], code, probe.at, probe.known_at)
        return msgspec.to_builtins(answer)

    checks = shape.check_list()

    async def check(db: Any, _: int) -> Any:
        answers = await check_subjects(db, tenant, code, checks, datetime.now(UTC))
        return [(ref, answer.status) for ref, answer in answers]

    probe_events = [event_id(standing_id(tenant, ref, code), 2) for ref in shape.probe_refs()]
    filler_events = await _first_events(pool, filler_tenant, len(probe_events))

    async def proof(db: Any, i: int) -> Any:
        found = await audit.inclusion(db, tenant, probe_events[i % len(probe_events)])
        return (found.leaf_index, found.leaf_hash)

    async def filler_proof(db: Any, i: int) -> Any:
        found = await audit.inclusion(db, filler_tenant, filler_events[i % len(filler_events)])
        return found.leaf_index

    async def raw(db: Any, i: int) -> Any:
        return await db.fetchval(
            f"SELECT topic FROM {EVENTS_TABLE} WHERE originator_id = $1 AND originator_version = 2",
            standing_id(tenant, shape.probe_refs()[i % shape.probe_subjects], code),
        )

    return {
        "bitemporal standing read": (bitemporal, len(history)),
        f"check of {len(checks):,} refs": (check, 1),
        "inclusion proof, probe tenant": (proof, min(100, len(probe_events))),
        GROWING: (filler_proof, len(filler_events)),
        BASELINE: (raw, 100),
    }


async def _measure(
    pool: asyncpg.Pool, settings: Settings, shape: Shape, probe: Probe, stage: Stage
) -> None:
    asked = await questions(pool, settings, shape, probe)
    for table in ANALYZED:  # what autovacuum will have done by the time it matters
        await pool.execute(f"ANALYZE {table}")
    for what, (ask, count) in asked.items():
        timings, answers = [], []
        for i in range(count):  # a pass untimed: the stage's first reads fill the caches
            await ask(pool, i)
        for _ in range(shape.repeats):
            for i in range(count):
                started = time.perf_counter()
                answers.append(await ask(pool, i))
                timings.append(time.perf_counter() - started)
        stage.costs[what] = statistics.median(timings) * 1000
        recording = Recording(pool)
        await ask(recording, 0)
        stage.pages[what] = await pages(pool, recording.queries)
        if what != GROWING:
            stage.answers[what] = answers


async def _first_events(pool: asyncpg.Pool, tenant: str, count: int) -> list[Any]:
    """The tenant's first logged events (its tree grows after them: their proofs get longer)."""
    rows = await pool.fetch(
        "SELECT event_id FROM grondslag_audit_leaves WHERE tenant = $1 "
        "ORDER BY leaf_index LIMIT $2",
        tenant,
        min(count, 100),
    )
    return [row["event_id"] for row in rows]


async def _sizes(pool: asyncpg.Pool) -> list[tuple[str, int, int]]:
    """Each table's live size: rewritten first (``VACUUM FULL``), since the fill and the
    partitions' runs update every read-model row many times over, faster than autovacuum
    would keep up with here (a practice's tables stay near their live size)."""
    tables = await pool.fetch(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind = 'r' AND n.nspname = 'public' AND c.relname LIKE 'grondslag%'"
    )
    for table in tables:
        await pool.execute(f'VACUUM FULL "{table["relname"]}"', timeout=3600)
    rows = await pool.fetch(
        "SELECT c.relname, pg_total_relation_size(c.oid) AS total, pg_indexes_size(c.oid) AS idx "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind = 'r' AND n.nspname = 'public' AND c.relname LIKE 'grondslag%' "
        "ORDER BY total DESC"
    )
    return [(row["relname"], row["total"], row["idx"]) for row in rows]


def print_result(console: Console, result: Result) -> None:
    stages = result.stages
    costs = Table(title="The same questions at each size of the store (median ms, same run)")
    costs.add_column("measure")
    for stage in stages:
        costs.add_column(f"{stage.events:,} events", justify="right")
    costs.add_column("last ÷ first", justify="right")
    # the machine's load may change between stages: the baseline's own growth divided out
    costs.add_column("÷ the baseline's last ÷ first", justify="right")
    baseline = [stage.costs[BASELINE] for stage in stages]
    for what in stages[0].costs:
        values = [stage.costs[what] for stage in stages]
        growth = values[-1] / values[0]
        costs.add_row(
            what,
            *(f"{v:.2f}" for v in values),
            f"{growth:.2f}×",
            f"{growth / (baseline[-1] / baseline[0]):.2f}×" if what != BASELINE else "",
        )
    costs.add_row(
        f"projection, {result.processes} process(es) (events/s over the stage)",
        *(f"{s.projection.rate:,.0f}" for s in stages),
        "",
        "",
    )
    costs.add_row(
        "  … per CPU-second of the projector processes",
        *(f"{s.projection.cpu_rate:,.0f}" for s in stages),
        "",
        "",
    )
    console.print(costs)
    touched = Table(title="Pages each question's queries touch (EXPLAIN ANALYZE BUFFERS, 8 KiB)")
    touched.add_column("measure")
    for stage in stages:
        touched.add_column(f"{stage.events:,} events", justify="right")
    touched.add_column("last ÷ first", justify="right")
    for what in stages[0].pages:
        counts = [stage.pages[what] for stage in stages]
        touched.add_row(what, *(f"{c:,}" for c in counts), f"{counts[-1] / max(1, counts[0]):.2f}×")
    console.print(touched)

    total = stages[-1].events
    whole = sum(size for _, size, _ in result.sizes)
    events_table = next((s for s in result.sizes if s[0] == EVENTS_TABLE), (EVENTS_TABLE, 0, 0))
    print_processes(console, result)
    rebuilt = result.rebuilds[0]
    rebuild = rebuilt.events / rebuilt.seconds
    figures = Table(title=f"Throughput and disk at {total:,} events")
    figures.add_column("measure")
    figures.add_column("value", justify="right")
    figures.add_column("at 10⁸ events (× 10⁸ / events)", justify="right")
    scale = 1e8 / total

    def gib(size: float) -> str:
        return f"{size * scale / 2**30:,.1f} GiB"

    figures.add_row(
        "fill (the filler's events, big transactions)",
        f"{result.fill_rate:,.0f} events/s",
        f"{1e8 / result.fill_rate / 3600:,.1f} h",
    )
    figures.add_row(
        "  … per CPU-second of the writing process",
        f"{result.fill_cpu_rate:,.0f} events/s",
        f"{1e8 / result.fill_cpu_rate / 3600:,.1f} CPU-h",
    )
    figures.add_row(
        f"rebuild of the read model, {len(rebuilt.shares)} job(s) ({rebuilt.events:,} events)",
        f"{rebuild:,.0f} events/s",
        f"{1e8 / rebuild / 3600:,.1f} h",
    )
    name, size, indexes = events_table
    figures.add_row(f"{name}, table + indexes", f"{size / total:,.0f} B/event", gib(size))
    figures.add_row("  of which indexes", f"{indexes / total:,.0f} B/event", gib(indexes))
    figures.add_row("every grondslag table + indexes", f"{whole / total:,.0f} B/event", gib(whole))
    for name, size, indexes in result.sizes[:8]:
        figures.add_row(
            f"  {name} (indexes {indexes / 2**20:,.1f} MiB)", f"{size / 2**20:,.1f} MiB", gib(size)
        )
    console.print(figures)


def print_processes(console: Console, result: Result) -> None:
    """The rebuild in K jobs and the last stage's projection in K partitions, side by side."""
    total = result.stages[-1].events
    table = Table(
        title=f"Rebuild and projection in K processes at {total:,} events "
        f"({os.cpu_count()} cores, shared with what else runs)"
    )
    table.add_column("measure")
    for folded in result.rebuilds:
        table.add_column(f"K = {len(folded.shares)}", justify="right")

    def row(what: str, values: list[str]) -> None:
        table.add_row(what, *values)

    rebuilds = result.rebuilds
    events = rebuilds[0].events
    row(
        f"rebuild in K jobs, {events:,} events: events/s",
        [f"{f.events / f.seconds:,.0f}" for f in rebuilds],
    )
    row(
        "  … per job (slowest–fastest)",
        [
            f"{min(s.rate for s in f.shares):,.0f}–{max(s.rate for s in f.shares):,.0f}"
            for f in rebuilds
        ],
    )
    row(
        "  … standings per job (fewest–most)",
        [
            f"{min(s.standings for s in f.shares):,}–{max(s.standings for s in f.shares):,}"
            for f in rebuilds
        ],
    )
    cpu = [sum(s.cpu_seconds for s in f.shares) for f in rebuilds]
    row("  … CPU seconds of the jobs (summed)", [f"{c:,.1f}" for c in cpu])
    row(
        "  … events per CPU-second of the jobs",
        [f"{f.events / c:,.0f}" for f, c in zip(rebuilds, cpu, strict=True)],
    )
    row(
        "  … 10⁸ events at this rate",
        [f"{1e8 / (f.events / f.seconds) / 3600:,.1f} h" for f in rebuilds],
    )
    shares = result.partitioned
    row(
        f"projection of the read model in K partitions, {shares[0].events:,} events: events/s",
        [f"{p.rate:,.0f}" for p in shares],
    )
    row("  … per partition", [f"{p.rate / p.processes:,.0f}" for p in shares])
    row("  … per CPU-second of its processes", [f"{p.cpu_rate:,.0f}" for p in shares])
    console.print(table)
