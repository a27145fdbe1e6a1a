"""The relay on a JetStream cluster of three nodes (``nats_cluster``): NATS_URL names all
three, the stream takes GRONDSLAG_NATS_REPLICAS = 3 (an existing one-copy stream too), and
when the node that leads the stream — and holds the relay's connection — is SIGKILLed in the
middle of a burst of withdrawals, the relay carries on: every message arrives, none twice.
On a single server the stream keeps what NATS allows there, and says so.

The module runs on a database of its own (see test_projector.py for why).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import nats
import pytest
from nats.js.api import StorageType
from nats_cluster import cluster, move_leader, settled

from grondslag.embedded import EmbeddedNats
from grondslag.ledger.application import Ledger
from grondslag.ledger.domain.values import PersonalData
from grondslag.projector import relay
from grondslag.projector.jetstream import STREAM, StreamShape, ensure_stream, publish_all
from grondslag.projector.relay import run_relay

from projector_support import HEAD, give, new_tenant, signal_id, wait_for, withdraw

SUBJECTS = 200  # 200 consents before the kill and 200 withdrawals around it: 800 messages


def _consenting(ledger: Ledger, tenant: str, refs: list[str]) -> list[UUID]:
    """A consent for each, four at a time (as API workers write: grouped commits)."""

    def one(ref: str) -> UUID:
        ledger.put_subject(tenant, ref, PersonalData())
        return give(ledger, tenant, ref)

    with ThreadPoolExecutor(4) as writers:
        return list(writers.map(one, refs))


def _withdrawing(ledger: Ledger, tenant: str, refs: list[str], done: list[UUID]) -> None:
    for ref in refs:
        done.append(withdraw(ledger, tenant, ref))


async def _relayed(pool: asyncpg.Pool) -> int:
    return await pool.fetchval(
        "SELECT coalesce((SELECT position FROM grondslag_tracking WHERE projection = $1), 0)",
        relay.NAME,
    )


async def _failed_batches(pool: asyncpg.Pool) -> int:
    return await pool.fetchval(
        "SELECT failures FROM grondslag_tracking WHERE projection = $1", relay.NAME
    )


async def _settled(js: Any, tenant: str = "", timeout: float = 20.0) -> Any:
    """The stream's info (of the tenant's subjects), once the cluster answers again: after a
    node is lost that takes a meta leader too, elected apart from the stream's."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await js.stream_info(STREAM, subjects_filter=f"grondslag.{tenant}.>")
        except (nats.errors.TimeoutError, nats.js.errors.ServiceUnavailableError):
            if time.monotonic() > deadline:
                raise


async def _read(reader: Any, count: int, timeout: float = 20.0) -> list[Any]:
    """The first ``count`` messages the pull consumer hands out, each acknowledged after it
    is read; fetches that time out (the consumer's own leader elected anew) are repeated."""
    messages: list[Any] = []
    deadline = time.monotonic() + timeout
    while len(messages) < count and time.monotonic() < deadline:
        try:
            batch = await reader.fetch(min(100, count - len(messages)), timeout=1)
        except (TimeoutError, nats.errors.TimeoutError, nats.js.errors.ServiceUnavailableError):
            continue  # (nats-py raises either time-out; 503 while the consumer has no leader)
        for message in batch:
            messages.append(message)
            await message.ack_sync()
    return messages


async def test_a_killed_stream_leader_during_a_relay_burst_loses_no_message_and_doubles_none(
    ledger: Ledger,
    pool: asyncpg.Pool,
    own_database_url: str,
    private_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant = new_tenant(ledger)
    refs = [f"client-{n}" for n in range(SUBJECTS)]
    connections: list[Any] = []  # the relay's, to learn which node it talks to

    async def recording_connect(servers: Any) -> Any:
        connections.append(await connect(servers))
        return connections[-1]

    connect = relay.connect
    monkeypatch.setattr(relay, "connect", recording_connect)
    with cluster(private_dir) as nodes:  # (forming while the consents are written)
        given = await asyncio.to_thread(_consenting, ledger, tenant, refs)
        expected = [str(e) for e in given] + [signal_id(e, "basis.lawful") for e in given]
        await nodes.ready()
        admin = await nats.connect(servers=[node.url for node in nodes.nodes])
        js = admin.jetstream()
        try:
            # as a release before clusters made it: one copy
            await settled(lambda: ensure_stream(js))
            assert (await js.stream_info(STREAM)).config.num_replicas == 1
            # NATS_URL as an operator writes it: comma-separated, with spaces
            relaying = run_relay(pool, own_database_url, nodes.urls, 0.2, StreamShape(replicas=3))
            task = asyncio.create_task(relaying)
            try:
                await wait_for(
                    lambda: _three_current_copies(js, connections),
                    15,
                    "the stream to take three replicas",
                )
                # the relay's own node leads the stream: its death costs both an election
                # and a reconnect to another of the listed servers
                victim = nodes.node_on(connections[-1].connected_url.port)
                await move_leader(admin, STREAM, victim.name)
                # the reader, as a practice system's: made now, it reads the whole stream
                # later (made after the kill, it would wait for the cluster's meta leader,
                # perhaps lost with the node too)
                reader = await js.pull_subscribe(
                    f"grondslag.{tenant}.>", durable="practice-system", stream=STREAM
                )
                withdrawn: list[UUID] = []
                burst = asyncio.to_thread(_withdrawing, ledger, tenant, refs, withdrawn)
                burst_task = asyncio.create_task(burst)

                async def mid_way() -> bool:  # half the withdrawals written, half to come
                    return len(withdrawn) >= SUBJECTS // 2

                await wait_for(mid_way, 20, "the burst to be half way", every=0.005)
                failed_before = await _failed_batches(pool)
                victim.kill()
                killed_at = time.monotonic()
                relayed_at_kill = await _relayed(pool)
                await burst_task
                head = await pool.fetchval(HEAD)
                assert len(withdrawn) == SUBJECTS and relayed_at_kill < head

                async def relayed_all() -> bool:
                    return await _relayed(pool) >= head

                await wait_for(relayed_all, 25, "the relay to deliver past the lost node")
                caught_up = time.monotonic() - killed_at
                # the batch in flight waited the election out: acknowledged whole, never
                # failed for the follower to try again
                assert await _failed_batches(pool) == failed_before
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

            info = await _settled(js, tenant)
            assert info.config.num_replicas == 3
            assert info.cluster is not None and info.cluster.leader not in (None, victim.name)
            stored = sum((info.state.subjects or {}).values())
            messages = await _read(reader, stored)
        finally:
            await admin.close()
    assert stored == len(messages)
    expected += [str(e) for e in withdrawn] + [signal_id(e, "basis.lapsed") for e in withdrawn]
    counts = Counter(message.headers["Nats-Msg-Id"] for message in messages)
    assert counts == Counter(dict.fromkeys(expected, 1)), "lost or doubled messages"
    assert all(json.loads(m.data)["id"] == m.headers["Nats-Msg-Id"] for m in messages)
    assert len(expected) == 4 * SUBJECTS
    print(f"relay caught up {caught_up:.1f} s after the kill")


async def _three_current_copies(js: Any, connections: list[Any]) -> bool:
    """The stream on three nodes, both followers current, and the relay connected."""
    info = await js.stream_info(STREAM)
    peers = (info.cluster.replicas or []) if info.cluster else []
    return (
        info.config.num_replicas == 3
        and len(peers) == 2
        and all(peer.current for peer in peers)
        and bool(connections)
        and connections[-1].is_connected
    )


async def test_a_single_server_keeps_one_copy_and_an_existing_stream_its_storage_saying_so(
    private_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = await asyncio.to_thread(EmbeddedNats(private_dir).start)  # with its password
    try:
        nc = await relay.connect(server.url)
        js = nc.jetstream()
        with caplog.at_level(logging.WARNING, "grondslag.relay"):
            await ensure_stream(js, StreamShape(replicas=3, storage="memory"))
        info = await js.stream_info(STREAM)
        assert (info.config.num_replicas, info.config.storage) == (1, StorageType.MEMORY)
        assert [r.getMessage() for r in caplog.records if r.name == "grondslag.relay"] == [
            f"the NATS stream {STREAM} keeps 1 replica: GRONDSLAG_NATS_REPLICAS=3 needs a "
            "JetStream cluster, and this NATS is a single server"
        ]

        caplog.clear()
        with caplog.at_level(logging.WARNING, "grondslag.relay"):
            await ensure_stream(js, StreamShape(replicas=1, storage="file"))
        info = await js.stream_info(STREAM)
        assert info.config.storage == StorageType.MEMORY  # kept, as NATS cannot change it
        (said,) = [r.getMessage() for r in caplog.records if r.name == "grondslag.relay"]
        assert "stays on memory storage" in said and "GRONDSLAG_NATS_STORAGE=file" in said
        # and the relay publishes to the stream as it is
        await publish_all(js, [("grondslag.t-1.consent.given", b"{}", {"Nats-Msg-Id": "m-1"})], 5)
        assert (await js.stream_info(STREAM)).state.messages == 1
        await nc.close()
    finally:
        await asyncio.to_thread(server.stop)
