"""``grondslag bench --projector``: the projector measured against raw baselines in one run.

One fresh database on the server of ``DATABASE_URL`` (else the embedded one) and the NATS of
``NATS_URL`` (else ``nats://127.0.0.1:4222`` when it answers with JetStream, else an
embedded ``nats-server`` in a temporary folder). Everything runs in this process:

1. projection lag: consents written through a ``Ledger`` by 8 paced writer threads at
   500 events/s (one event each, on existing standings, committed through the ledger's
   group commit; the full command path costs ~2 ms of CPU per write, which on a small machine
   would not leave 500/s beside the projector) while a ``LogFollower`` of the
   current-standing projection runs; per notification id, the time from the commit of its
   transaction (taken in the group commit, right after it returns) to the commit of the
   follower's batch that projected it → p50/p99/max.
2. rebuild throughput: the log filled with ~100,000 events (standings with one consent, 100
   per transaction), ``rebuild_into`` timed → events/s, next to raw asyncpg ``executemany``
   (and ``copy_records_to_table``) inserting the same number of rows of the log's shape,
   copied from the log itself, into a scratch table.
3. relay throughput: consent-given messages through ``Relay(js).publish`` over batches of
   500 decoded events, and through a ``LogFollower`` relaying the filled log (decode,
   publish, track), next to raw ``js.publish_async`` of the same payloads (a unique
   ``Nats-Msg-Id`` each) in batches of 500 with gathered acks, on a scratch stream.
4. lapse notification: consents expiring 1–2 s ahead, with the projection, a
   ``DeadlineClock`` ticking every 0.5 s and the relay running; deadline → ``basis.lapsed``
   received.

5. projection shared by 1, 2 and 4 processes over 8 partitions (``benchmarks.partitions``),
   next to one process following the whole log unpartitioned.
The run writes under a tenant of its own (``bench-…``); its messages are purged from the
``GRONDSLAG`` stream afterwards and the scratch stream deleted. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
from nats.js.api import StorageType, StreamConfig
from rich.console import Console

from grondslag.embedded import EmbeddedNats
from grondslag.ledger.application import Ledger
from grondslag.ledger.bootstrap import build_ledger
from grondslag.ledger.domain.ids import standing_id
from grondslag.ledger.domain.standing import Standing
from grondslag.ledger.domain.values import PersonalData
from grondslag.ledger.persistence.group_commit import GroupCommit
from grondslag.ledger.persistence.mapper import decode_event
from grondslag.ledger.persistence.postgres import EVENTS_TABLE
from grondslag.ledger.reads.pool import create_read_pool
from grondslag.ledger.settings import Settings
from grondslag.projector import current_standing, relay
from grondslag.projector.deadline_clock import DeadlineClock
from grondslag.projector.follower import LogFollower
from grondslag.projector.rebuild import rebuild_into, swap_in

from .common import (
    CONSENT,
    PURPOSE,
    REGISTERED_AT,
    TERMS,
    Row,
    command_context,
    fill_log,
    print_table,
    throwaway_database,
)
from .partitions import partition_throughput

DEFAULT_NATS = "nats://127.0.0.1:4222"
CONSENT_TOPIC = "ledger.domain.standing:Standing.ConsentGiven"
RELAY_BATCH = 500
WRITE_RATE = 500.0
WRITERS = 8
_encoder = msgspec.json.Encoder()


@dataclass(frozen=True)
class Scale:
    lag_seconds: float
    lag_standings: int
    log_events: int
    relay_messages: int
    lapses: int
    partition_events: int


FULL = Scale(
    lag_seconds=10,
    lag_standings=200,
    log_events=100_000,
    relay_messages=20_000,
    lapses=5,
    partition_events=40_000,
)
QUICK = Scale(
    lag_seconds=3,
    lag_standings=200,
    log_events=20_000,
    relay_messages=5_000,
    lapses=3,
    partition_events=6_000,
)


def main(args: argparse.Namespace) -> int:
    scale = QUICK if args.quick else FULL
    console = Console(width=150)
    # like `grondslag serve`: writer threads beside the event loop get their turn promptly
    sys.setswitchinterval(0.0005)
    with (
        throwaway_database() as (url, settings),
        _nats_server(settings.nats_url, console) as nats_url,
    ):
        console.print(
            f"[bold]grondslag bench --projector[/] on {url.rsplit('@', 1)[-1]}, "
            f"NATS {nats_url.rsplit('@', 1)[-1]}{' (quick)' if args.quick else ''}"
        )
        rows = asyncio.run(_bench(url, nats_url, scale, console))
    print_table(
        console, "Grondslag projector vs baselines (same run, same database, same NATS)", rows
    )
    return 0


@contextlib.contextmanager
def _nats_server(url: str | None, console: Console) -> Iterator[str]:
    """``NATS_URL``, else the local default when it answers with JetStream, else embedded."""
    if url:
        yield url
        return
    if _jetstream_answers("127.0.0.1", 4222):
        yield DEFAULT_NATS
        return
    console.print("no NATS on 127.0.0.1:4222: starting an embedded nats-server")
    with tempfile.TemporaryDirectory() as tmp, EmbeddedNats(Path(tmp)) as server:
        yield server.url


def _jetstream_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1) as conn:
            line = conn.makefile("rb").readline()
    except OSError:
        return False
    return line.startswith(b"INFO ") and bool(json.loads(line[5:]).get("jetstream"))


async def _bench(url: str, nats_url: str, scale: Scale, console: Console) -> list[Row]:
    tenant = f"bench-{uuid.uuid4().hex[:8]}"
    ledger = await asyncio.to_thread(build_ledger, Settings(database_url=url), 8)
    pool = await create_read_pool(url, min_size=2, max_size=8)
    nc = await relay.connect(nats_url)
    js = nc.jetstream()
    rows: list[Row] = []
    try:
        await asyncio.to_thread(ledger.register_purpose, tenant, PURPOSE, TERMS, REGISTERED_AT)
        await current_standing.create_tables(pool)
        rows += await _projection_lag(ledger, pool, url, tenant, scale, console)
        rows += await _rebuild(ledger, pool, tenant, scale, console)
        await relay.ensure_stream(js)
        rows += await _relay_throughput(js, pool, url, scale, console)
        rows += await partition_throughput(ledger, pool, url, scale.partition_events, console)
        rows += await _lapse_latency(ledger, pool, url, nc, js, tenant, scale, console)
    finally:
        with contextlib.suppress(Exception):
            await js.purge_stream(relay.STREAM, subject=f"grondslag.{tenant}.>")
        await nc.drain()
        await pool.close()
        ledger.close()
    return rows


# -- 1. projection lag ------------------------------------------------------------------------


class _TimedFollower(LogFollower):
    """Stamps every notification id of a batch once the batch's transaction committed."""

    def __init__(self, pool: asyncpg.Pool, dsn: str, seen: dict[int, float]):
        super().__init__(pool, dsn, current_standing.NAME, self.handle)
        self.seen = seen
        self._batch: list[int] = []

    async def step(self) -> int:
        self._batch = []
        handled = await super().step()
        now = time.perf_counter()
        for nid in self._batch:
            self.seen.setdefault(nid, now)
        return handled

    async def handle(self, conn: asyncpg.Connection, events: list[tuple[int, Any]]) -> None:
        await current_standing.project(conn, events)
        self._batch = [nid for nid, _ in events]


def _consent_kwargs(**extra: Any) -> dict[str, Any]:
    """The benchmark's consent for ``Ledger.give_consent``, in effect from now."""
    now = {name: value for name, value in CONSENT.items() if name != "effective_at"}
    return {**now, **extra}


def _threaded(count: int, work: Any, threads: int = 8) -> None:
    with ThreadPoolExecutor(threads) as executor:
        list(executor.map(work, range(count)))


async def _projection_lag(
    ledger: Ledger, pool: asyncpg.Pool, url: str, tenant: str, scale: Scale, console: Console
) -> list[Row]:
    refs = [f"lag-{i}" for i in range(scale.lag_standings)]

    def prepare(i: int) -> None:
        ledger.put_subject(tenant, refs[i], PersonalData())
        ledger.give_consent(tenant, refs[i], PURPOSE, **_consent_kwargs())

    await asyncio.to_thread(_threaded, len(refs), prepare)
    standings = [ledger.repository.get(standing_id(tenant, ref, PURPOSE)) for ref in refs]
    seen: dict[int, float] = {}
    follower = _TimedFollower(pool, url, seen)
    await follower.setup()
    await follower.catch_up()  # the standings above: not measured
    seen.clear()

    committed: dict[int, float] = {}
    plain_group = ledger.group

    def timed_save(*events: Any, **kwargs: Any) -> Any:
        recordings = ledger.save(*events, **kwargs)
        now = time.perf_counter()
        for recording in recordings:
            committed[recording.notification.id] = now
        return recordings

    ledger.group = GroupCommit(timed_save)
    task = asyncio.create_task(follower.run())
    await asyncio.sleep(0.3)  # LISTEN in place
    try:
        total = int(WRITE_RATE * scale.lag_seconds)
        achieved = await asyncio.to_thread(_paced_writes, ledger, standings, total)
        deadline = time.monotonic() + 60
        while not committed.keys() <= seen.keys() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        ledger.group = plain_group
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    missing = len(committed.keys() - seen.keys())
    lags = sorted(max(0.0, seen[n] - committed[n]) * 1000 for n in committed if n in seen)
    p50, p99 = _percentile(lags, 50), _percentile(lags, 99)
    console.print(
        f"projection lag over {len(lags):,} events written at {achieved:,.0f}/s: "
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {lags[-1]:.1f} ms"
        + (f" ({missing} never projected)" if missing else "")
    )
    label = f"{len(lags):,} consents at {WRITE_RATE:.0f} events/s"
    return [
        Row(
            f"paced consent writes ({WRITERS} threads, the ledger's group commit), {label}",
            achieved,
            "events/s",
            target=f"{WRITE_RATE:.0f} events/s",
        ),
        Row("projection lag p50 (commit → read-model row committed)", p50, "ms"),
        Row("projection lag p99", p99, "ms", target="< 250 ms"),
        Row("projection lag max", lags[-1], "ms"),
    ]


def _paced_writes(ledger: Ledger, standings: list[Standing], total: int) -> float:
    """``total`` consents, the i-th due at start + i/rate, by WRITERS threads.

    Thread k writes slots k, k + WRITERS, … on standings k, k + WRITERS, … (its own), each
    one event committed through the ledger's group commit, as its commands commit.
    """
    assert len(standings) % WRITERS == 0
    versions = ledger.purpose(standings[0].tenant, PURPOSE).versions
    start = time.perf_counter() + 0.05

    def worker(k: int) -> None:
        for i in range(k, total, WRITERS):
            delay = start + i / WRITE_RATE - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            standing = standings[i % len(standings)]
            standing.give_consent(command_context(versions), **CONSENT)
            ledger.group.commit(list(standing.collect_events()))

    _threaded(WRITERS, worker, threads=WRITERS)
    return total / (time.perf_counter() - start)


def _percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, round(pct / 100 * (len(values) - 1)))]


# -- 2. rebuild -------------------------------------------------------------------------------


async def _rebuild(
    ledger: Ledger, pool: asyncpg.Pool, tenant: str, scale: Scale, console: Console
) -> list[Row]:
    started = time.perf_counter()
    filled = await asyncio.to_thread(fill_log, ledger, tenant, scale.log_events)
    console.print(
        f"log filled to {filled:,} events in {time.perf_counter() - started:.1f} s "
        "(standings with one consent, 100 per transaction)"
    )
    started = time.perf_counter()
    position, events = await rebuild_into(pool, table="bench_rebuild")
    elapsed = time.perf_counter() - started
    rate = events / elapsed
    await swap_in(pool, position, table="bench_rebuild")  # the read model for the lapse test
    console.print(f"rebuild_into: {events:,} events in {elapsed:.1f} s, {rate:,.0f} events/s")
    many, copy = await _raw_inserts(pool, events)
    console.print(
        f"raw asyncpg, {events:,} rows: executemany {many:,.0f} rows/s, "
        f"copy_records_to_table {copy:,.0f} rows/s"
    )
    return [
        Row(
            f"rebuild_into, {events:,} standing events",
            rate,
            "events/s",
            "raw asyncpg executemany INSERT, same number of log rows",
            many,
            "≥ 10,000 events/s",
            "rows/s",
        ),
        Row(
            "baseline: raw asyncpg copy_records_to_table, same rows",
            copy,
            "rows/s",
            "raw asyncpg executemany INSERT",
            many,
        ),
    ]


async def _raw_inserts(pool: asyncpg.Pool, count: int) -> tuple[float, float]:
    """Rows/s of inserting ``count`` rows shaped (and filled) like the log's, two ways."""
    async with pool.acquire() as conn:
        records = [
            tuple(r)
            for r in await conn.fetch(
                f"SELECT originator_id, originator_version, topic, state FROM {EVENTS_TABLE} "
                "ORDER BY notification_id LIMIT $1",
                count,
            )
        ]
        ddl = (
            "CREATE TABLE {} (notification_id bigserial PRIMARY KEY, originator_id uuid NOT NULL,"
            " originator_version bigint NOT NULL, topic text NOT NULL, state bytea,"
            " UNIQUE (originator_id, originator_version))"
        )
        rates = []
        for table, how in (("bench_raw_many", "many"), ("bench_raw_copy", "copy")):
            await conn.execute(ddl.format(table))
            started = time.perf_counter()
            for start in range(0, len(records), 1000):
                chunk = records[start : start + 1000]
                async with conn.transaction():
                    if how == "many":
                        await conn.executemany(
                            f"INSERT INTO {table} (originator_id, originator_version, topic, "
                            "state) VALUES ($1, $2, $3, $4)",
                            chunk,
                        )
                    else:
                        await conn.copy_records_to_table(
                            table,
                            records=chunk,
                            columns=("originator_id", "originator_version", "topic", "state"),
                        )
            rates.append(len(records) / (time.perf_counter() - started))
            await conn.execute(f"DROP TABLE {table}")
    return rates[0], rates[1]


# -- 3. relay ---------------------------------------------------------------------------------


async def _consent_events(pool: asyncpg.Pool, count: int, after: int) -> list[tuple[int, Any]]:
    rows = await pool.fetch(
        f"SELECT notification_id, originator_id, originator_version, topic, state "
        f"FROM {EVENTS_TABLE} WHERE topic = $1 AND notification_id > $2 "
        "ORDER BY notification_id LIMIT $3",
        CONSENT_TOPIC,
        after,
        count,
    )
    return [
        (
            r["notification_id"],
            decode_event(r["topic"], r["state"], r["originator_id"], r["originator_version"]),
        )
        for r in rows
    ]


async def _relay_throughput(
    js: Any, pool: asyncpg.Pool, url: str, scale: Scale, console: Console
) -> list[Row]:
    count = scale.relay_messages
    events = await _consent_events(pool, count, 0)
    batches = [events[i : i + RELAY_BATCH] for i in range(0, len(events), RELAY_BATCH)]
    async with pool.acquire() as conn:  # the same payloads for the baseline, untimed
        payloads = [
            [_encoder.encode(m) for _, m in await relay.to_messages(conn, [e for _, e in b])]
            for b in batches
        ]
    size = statistics.mean(len(p) for batch in payloads for p in batch)

    baseline = await _raw_publish(js, payloads)
    publisher = relay.Relay(js)
    started = time.perf_counter()
    for batch in batches:
        async with pool.acquire() as conn:
            await publisher.publish(conn, batch)
    relayed = len(events) / (time.perf_counter() - started)

    # the relay as it runs: a follower over the next stretch of the log (decode, publish, track)
    follower_rate, follower_count = await _relay_follower(js, pool, url, events[-1][0], count)
    console.print(
        f"relay: Relay.publish {relayed:,.0f} msg/s, as a LogFollower {follower_rate:,.0f} msg/s; "
        f"raw publish_async {baseline:,.0f} msg/s ({len(events):,} messages of ~{size:.0f} B)"
    )
    target = "≥ 5,000 msg/s"
    base = f"raw js.publish_async, {RELAY_BATCH} per gather, same payloads"
    return [
        Row(
            f"relay: Relay.publish, {len(events):,} consent.given in batches of {RELAY_BATCH}",
            relayed,
            "msg/s",
            base,
            baseline,
            target,
        ),
        Row(
            f"relay: LogFollower over the log, {follower_count:,} consent.given (+ opened events)",
            follower_rate,
            "msg/s",
            base,
            baseline,
            target,
        ),
    ]


async def _raw_publish(js: Any, payloads: list[list[bytes]]) -> float:
    """``js.publish_async`` on a scratch stream, acks gathered per batch like the relay."""
    tag = uuid.uuid4().hex[:8]
    stream, prefix = f"BENCH_{tag}", f"bench-{tag}"
    await js.add_stream(
        StreamConfig(
            name=stream,
            subjects=[f"{prefix}.>"],
            storage=StorageType.FILE,
            duplicate_window=relay.DUPLICATE_WINDOW_SECONDS,
        )
    )
    try:
        started = time.perf_counter()
        total = 0
        for batch in payloads:
            acks = [
                await js.publish_async(
                    f"{prefix}.consent.given", payload, headers={"Nats-Msg-Id": str(uuid.uuid4())}
                )
                for payload in batch
            ]
            await asyncio.wait_for(asyncio.gather(*acks), relay.ACK_TIMEOUT_SECONDS)
            total += len(batch)
        return total / (time.perf_counter() - started)
    finally:
        await js.delete_stream(stream)


async def _relay_follower(
    js: Any, pool: asyncpg.Pool, url: str, after: int, count: int
) -> tuple[float, int]:
    events = await _consent_events(pool, count, after)
    first, last = events[0][0], events[-1][0]
    publisher = relay.Relay(js)
    sent = 0

    async def handler(conn: asyncpg.Connection, batch: list[tuple[int, Any]]) -> None:
        nonlocal sent
        await publisher.publish(conn, batch)
        sent += sum(isinstance(e, Standing.ConsentGiven) for _, e in batch)

    follower = LogFollower(pool, url, "bench_relay", handler, batch_size=RELAY_BATCH)
    await follower.setup()
    await pool.execute(
        "UPDATE grondslag_tracking SET position = $2 WHERE projection = $1",
        "bench_relay",
        first - 1,
    )
    started = time.perf_counter()
    while await follower.position() < last:
        await follower.step()
    return sent / (time.perf_counter() - started), sent


# -- 4. lapse notification --------------------------------------------------------------------


async def _lapse_latency(
    ledger: Ledger,
    pool: asyncpg.Pool,
    url: str,
    nc: Any,
    js: Any,
    tenant: str,
    scale: Scale,
    console: Console,
) -> list[Row]:
    top = await pool.fetchval(f"SELECT coalesce(max(notification_id), 0) FROM {EVENTS_TABLE}")
    relay_follower = LogFollower(pool, url, relay.NAME, relay.Relay(js).publish)
    await relay_follower.setup()  # start at the top: the filled log is not published again
    await pool.execute(
        "UPDATE grondslag_tracking SET position = $2 WHERE projection = $1", relay.NAME, top
    )
    projection = LogFollower(pool, url, current_standing.NAME, current_standing.project)
    await projection.setup()
    await projection.catch_up()
    clock = DeadlineClock(pool, ledger, interval=0.5)

    received: dict[str, datetime] = {}

    async def on_lapse(msg: Any) -> None:
        data = msgspec.json.decode(msg.data)["data"]
        received.setdefault(data["subject_ref"], datetime.now(UTC))

    subscription = await nc.subscribe(f"grondslag.{tenant}.basis.lapsed", cb=on_lapse)
    tasks = [asyncio.create_task(c) for c in (relay_follower.run(), projection.run(), clock.run())]
    try:
        refs = [f"lapse-{i}" for i in range(scale.lapses)]
        await asyncio.to_thread(
            _threaded, len(refs), lambda i: ledger.put_subject(tenant, refs[i], PersonalData())
        )
        deadlines: dict[str, datetime] = {}
        for i, ref in enumerate(refs):
            expires = datetime.now(UTC) + timedelta(seconds=1 + i / max(1, len(refs) - 1))
            await asyncio.to_thread(
                ledger.give_consent, tenant, ref, PURPOSE, **_consent_kwargs(expires_at=expires)
            )
            deadlines[ref] = expires
        wait_until = max(deadlines.values()) + timedelta(seconds=15)
        while len(received) < len(refs) and datetime.now(UTC) < wait_until:
            await asyncio.sleep(0.05)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await subscription.unsubscribe()
    latencies = sorted(
        (received[r] - d).total_seconds() for r, d in deadlines.items() if r in received
    )
    missing = len(deadlines) - len(latencies)
    worst = latencies[-1] if latencies else float("nan")
    console.print(
        f"lapse notifications: {len(latencies)}/{len(deadlines)} received, "
        + ", ".join(f"{s:.2f}" for s in latencies)
        + " s after their deadlines"
    )
    note = f", {missing} not received in 15 s" if missing else ""
    return [
        Row(
            f"lapse → basis.lapsed received, max of {len(deadlines)} (clock every 0.5 s){note}",
            worst,
            "s",
            target="< 2 s",
        ),
        Row(
            "lapse → basis.lapsed received, mean",
            statistics.mean(latencies) if latencies else float("nan"),
            "s",
        ),
    ]
