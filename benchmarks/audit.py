"""``grondslag bench --audit``: the audit log measured against raw baselines in one run.

One fresh database on the server of ``DATABASE_URL`` (else the embedded one):

1. checkpoint cost per 10,000 events: the log holds 10,000 new events (standings with one
   consent, 100 per transaction); the audit-log follower takes them into the tenant's tree
   (canonical bytes, leaf hash, ~2 stored nodes per leaf, in batches of 500 with the
   tracking position) and one checkpoint is signed. Baselines, same events, same database:
   the current-standing projection catching up, and raw ``copy_records_to_table`` of
   10,000 rows shaped like the leaves.
2. verifying a bundle of 1,000 events: one subject with ~1,000 events (alternating consents
   and withdrawals), exported and checked with ``grondslag.ledger.audit.bundle.verify`` (what
   ``grondslag verify`` runs). Baseline: the least any verifier must do — parse the bundle
   and SHA-256 every event's canonical bytes.
3. proofs at 1,000,000 leaves: a tenant's tree of 1,000,000 synthetic leaves stored as the
   projector stores them (perfect-subtree nodes, COPY); inclusion proofs of random leaves
   read back from PostgreSQL and verified against the root; their size in hashes, bytes
   and JSON. Baseline: a raw asyncpg primary-key select of one stored node.

Figures, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console

from grondslag.ledger.audit import merkle
from grondslag.ledger.audit import store as audit_store
from grondslag.ledger.audit.bundle import Bundle, verify
from grondslag.ledger.audit.signing import SigningKey
from grondslag.ledger.bootstrap import build_ledger
from grondslag.ledger.domain.standing import Standing
from grondslag.ledger.domain.values import PersonalData
from grondslag.ledger.reads import audit
from grondslag.ledger.reads.pool import create_read_pool
from grondslag.ledger.settings import Settings
from grondslag.projector import audit_log, current_standing
from grondslag.projector.follower import LogFollower

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


def main(args: argparse.Namespace) -> int:
    console = Console(width=150)
    scale = (2_000, 200, 100_000) if args.quick else (10_000, 1_000, 1_000_000)
    with throwaway_database() as (url, _):
        console.print(f"[bold]grondslag bench --audit[/] on {url.rsplit('@', 1)[-1]}")
        rows = asyncio.run(_bench(url, *scale, console))
    print_table(console, "Grondslag audit log vs baselines (same run, same database)", rows)
    return 0


async def _bench(
    url: str, events: int, bundle_events: int, leaves: int, console: Console
) -> list[Row]:
    ledger = build_ledger(Settings(database_url=url), 4)
    pool = await create_read_pool(url, min_size=1, max_size=4)
    key = SigningKey(Ed25519PrivateKey.generate())
    try:
        await current_standing.create_tables(pool)
        await audit_store.create_tables(pool)
        await audit_store.register_key(pool, key)
        rows = await _checkpoint_cost(ledger, pool, url, key, events, console)
        rows += await _bundle_verify(ledger, pool, url, key, bundle_events, console)
        rows += await _big_tree_proofs(pool, leaves, console)
        return rows
    finally:
        await pool.close()
        ledger.close()


async def _checkpoint_cost(
    ledger: Any, pool: asyncpg.Pool, url: str, key: SigningKey, events: int, console: Console
) -> list[Row]:
    tenant = "bench-audit"
    await asyncio.to_thread(ledger.register_purpose, tenant, PURPOSE, TERMS, REGISTERED_AT)
    total = await asyncio.to_thread(fill_log, ledger, tenant, events)
    console.print(f"log filled with {total:,} events")
    audit_follower = LogFollower(pool, url, audit_log.NAME, audit_log.append, raw=True)
    standing_follower = LogFollower(pool, url, current_standing.NAME, current_standing.project)
    for follower in (audit_follower, standing_follower):
        await follower.setup()
    started = time.perf_counter()
    logged = await audit_follower.catch_up()
    extend = time.perf_counter() - started
    started = time.perf_counter()
    async with pool.acquire() as conn:
        checkpoint = await audit_store.sign_checkpoint(conn, key, tenant, datetime.now(UTC))
    sign = time.perf_counter() - started
    started = time.perf_counter()
    projected = await standing_follower.catch_up()
    project = time.perf_counter() - started
    copy = await _raw_copy(pool, logged)
    per = 10_000 / logged
    console.print(
        f"audit log took {logged:,} events in {extend:.2f} s; checkpoint of size "
        f"{checkpoint.tree_size:,} signed in {sign * 1000:.1f} ms; the projection took "
        f"{projected:,} events in {project:.2f} s; raw COPY {copy:.3f} s"
    )
    return [
        Row(
            "audit log: extend the tree by 10,000 events",
            extend * per,
            "s",
            "current-standing projection, same events",
            project * per,
            target="(reference)",
        ),
        Row(
            "  … next to raw COPY of 10,000 leaf-shaped rows",
            extend * per,
            "s",
            "raw copy_records_to_table",
            copy * per,
        ),
        Row("sign one checkpoint (read head, Ed25519, insert)", sign * 1000, "ms"),
        Row(
            "checkpoint cost per 10,000 events (extend + sign)",
            extend * per + sign,
            "s",
        ),
    ]


async def _raw_copy(pool: asyncpg.Pool, count: int) -> float:
    async with pool.acquire() as conn:
        await conn.execute(
            "CREATE TEMP TABLE scratch_leaves (tenant text, leaf_index bigint, hash bytea)"
        )
        records = [("bench", i, hashlib.sha256(str(i).encode()).digest()) for i in range(count)]
        started = time.perf_counter()
        await conn.copy_records_to_table("scratch_leaves", records=records)
        elapsed = time.perf_counter() - started
        await conn.execute("DROP TABLE scratch_leaves")
    return elapsed


async def _bundle_verify(
    ledger: Any, pool: asyncpg.Pool, url: str, key: SigningKey, count: int, console: Console
) -> list[Row]:
    tenant = "bench-bundle"
    await asyncio.to_thread(ledger.register_purpose, tenant, PURPOSE, TERMS, REGISTERED_AT)
    await asyncio.to_thread(ledger.put_subject, tenant, "client-1", PersonalData())
    # the subject's events spread over purposes of 50 events each, recorded through the
    # aggregate's guarded commands (each folds its stream, so one stream of 1,000 would
    # measure the fold, not the bundle)
    standings, moment = [], datetime(2025, 1, 1, tzinfo=UTC)
    recorded = 0
    while recorded < count - 1:  # + the subject's registration
        code = f"{PURPOSE}-{len(standings)}"
        await asyncio.to_thread(ledger.register_purpose, tenant, code, TERMS, REGISTERED_AT)
        versions = ledger.purpose(tenant, code).versions
        standing = Standing.open(tenant, "client-1", code)
        recorded += 2  # its register entry and its opening
        while len(standing.pending_events) < 50 and recorded < count - 1:
            moment += timedelta(days=1)
            context = command_context(versions)
            if len(standing.pending_events) % 2:
                standing.give_consent(context, **{**CONSENT, "effective_at": moment})
            else:
                standing.withdraw_consent(
                    context, method="email", effective_at=moment, recorded_by="bench"
                )
            recorded += 1
        standings.append(standing)
    await asyncio.to_thread(ledger.save, *standings)
    await LogFollower(pool, url, audit_log.NAME, audit_log.append, raw=True).catch_up()
    await audit_store.sign_checkpoint(pool, key, tenant, datetime.now(UTC))  # no checkpointer here
    data = await audit.export(pool, key, tenant, "client-1", datetime.now(UTC))
    times, floor = [], []
    for _ in range(5):
        started = time.perf_counter()
        result = verify(data)
        times.append(time.perf_counter() - started)
        started = time.perf_counter()
        bundle = msgspec.json.decode(data, type=Bundle)
        for event in bundle.events:
            hashlib.sha256(b"\x00" + event.canonical.encode()).digest()
        floor.append(time.perf_counter() - started)
    console.print(
        f"bundle of {result.events:,} events ({len(data) / 1024:,.0f} KiB) verified in "
        f"{statistics.median(times) * 1000:.0f} ms"
    )
    return [
        Row(
            f"verify a bundle of {result.events:,} events ({len(data) / 1024:,.0f} KiB)",
            statistics.median(times) * 1000,
            "ms",
            "parse + SHA-256 of every event",
            statistics.median(floor) * 1000,
        )
    ]


async def _big_tree_proofs(pool: asyncpg.Pool, leaves: int, console: Console) -> list[Row]:
    tenant = "bench-million"
    tree = merkle.CompactTree()
    started = time.perf_counter()
    chunk: list[tuple[str, int, int, bytes]] = []
    async with pool.acquire() as conn:
        for index in range(leaves):
            leaf = merkle.leaf_hash(index.to_bytes(8, "big"))
            chunk += [(tenant, *node) for node in merkle.completed_nodes(index, leaf, tree.state())]
            tree.append(leaf)
            if len(chunk) >= 200_000:
                await conn.copy_records_to_table(
                    "grondslag_audit_nodes",
                    records=chunk,
                    columns=["tenant", "level", "index", "hash"],
                )
                chunk = []
        if chunk:
            await conn.copy_records_to_table(
                "grondslag_audit_nodes", records=chunk, columns=["tenant", "level", "index", "hash"]
            )
        await conn.execute(
            "INSERT INTO grondslag_audit_trees (tenant, size, root_hash) VALUES ($1, $2, $3)",
            tenant,
            leaves,
            tree.root(),
        )
        await conn.execute("ANALYZE grondslag_audit_nodes")
    built = time.perf_counter() - started
    console.print(f"tree of {leaves:,} leaves built and stored in {built:.1f} s")
    root = tree.root()
    sample = random.Random(7).sample(range(leaves), 200)
    latencies, sizes = [], []
    for index in sample:
        leaf = merkle.leaf_hash(index.to_bytes(8, "big"))
        started = time.perf_counter()
        path = await audit_store.range_hashes(pool, tenant, merkle.inclusion_ranges(index, leaves))
        latencies.append(time.perf_counter() - started)
        assert merkle.verify_inclusion(index, leaves, leaf, path, root), index
        sizes.append(len(path))
    floor = []
    for index in sample:
        started = time.perf_counter()
        await pool.fetchval(
            "SELECT hash FROM grondslag_audit_nodes WHERE tenant = $1 AND level = 0 AND index = $2",
            tenant,
            index,
        )
        floor.append(time.perf_counter() - started)
    hashes = max(sizes)
    json_bytes = len(msgspec.json.encode(["0" * 64] * hashes))
    consistency = len(merkle.consistency_ranges(leaves // 2 + 1, leaves))
    return [
        Row(
            f"inclusion proof at {leaves:,} leaves: hashes (max of 200)",
            hashes,
            "hashes",
        ),
        Row(
            "  … as the JSON audit_path (hex)",
            json_bytes,
            "B",
            "raw hash bytes",
            hashes * 32,
            baseline_unit="B",
        ),
        Row(f"consistency proof {leaves // 2 + 1:,} → {leaves:,}: hashes", consistency, "hashes"),
        Row(
            f"serve one inclusion proof at {leaves:,} leaves (p50, from PostgreSQL)",
            statistics.median(latencies) * 1000,
            "ms",
            "raw asyncpg PK select",
            statistics.median(floor) * 1000,
            baseline_unit="ms",
        ),
    ]
