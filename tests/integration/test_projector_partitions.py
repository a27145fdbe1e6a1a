"""Three `grondslag project` processes share the partitions of every projection, and two of
them are SIGKILLed, a second and a half apart, while writes across several tenants go on:
the survivors take the killed one's partitions over before it starts again, and once they
all caught up, what they built is what one fold of the log builds — the read model row for
row, the audit log leaf for leaf (what ``grondslag audit check`` runs), and every message
of the relay exactly once on a NATS server of the test's own (none missing, none extra).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from eventsourcing.persistence import OperationalError

from grondslag.embedded import EmbeddedNats
from grondslag.ledger.domain.values import PersonalData
from grondslag.ledger.persistence.mapper import decode_event
from grondslag.ledger.persistence.postgres import EVENTS_TABLE, STREAMS_TABLE
from grondslag.ledger.reads.checks import CURRENT_STANDING_TABLE
from grondslag.ledger.reads.pool import create_read_pool
from grondslag.projector import audit_check, relay, runner
from grondslag.projector.ownership import _HELD, MEMBERS, PARTITIONS
from grondslag.projector.partitions import partition_of, sql_partition
from grondslag.projector.rebuild import rebuild_into

from projector_support import HEAD, Store, consume, give, new_tenant, wait_for, withdraw

COUNT, PROCESSES, TENANTS = 6, 3, 4
PROJECTIONS = (*runner.PROJECTIONS, relay.NAME)
COLUMNS = "tenant, purpose, subject_ref, lawful, status, basis, reason, since, until, "
COLUMNS += "changes_at, stream_version"


class Projectors:
    """The three processes, each restarted after it was killed."""

    def __init__(self, store: Store, nats_url: str, root: Path, health_port: int):
        self.env = {
            **os.environ,
            "DATABASE_URL": store.url,
            "NATS_URL": nats_url,
            "GRONDSLAG_AUDIT_KEY_FILE": str(store.key_file),
            "GRONDSLAG_PROJECTION_PARTITIONS": str(COUNT),
        }
        self.root, self.health_port = root, health_port
        self.processes: list[subprocess.Popen[bytes]] = [self.start(n) for n in range(PROCESSES)]

    def start(self, n: int) -> subprocess.Popen[bytes]:
        extra = ["--health-port", str(self.health_port)] if n == 0 else []
        with (self.root / f"projector-{n}.log").open("ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "grondslag.cli", "project", *extra],
                env={**self.env, "GRONDSLAG_DATA_DIR": str(self.root / f"data-{n}")},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self, n: int) -> None:
        self.processes[n].send_signal(signal.SIGKILL)
        assert self.processes[n].wait(10) == -signal.SIGKILL

    def restart(self, n: int) -> None:
        self.processes[n] = self.start(n)

    def alive(self) -> None:
        for n, process in enumerate(self.processes):
            if process.returncode == -signal.SIGKILL:
                continue  # killed, and not yet started again
            log = (self.root / f"projector-{n}.log").read_text(errors="replace")
            assert process.poll() is None, f"projector {n} exited:\n{log[-3000:]}"

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def owners(pool: asyncpg.Pool) -> tuple[int, dict[int, int]]:
    """How many projector processes are alive, and each owned partition's owner (the
    process's pid, from the owning connection's application_name)."""
    members = await pool.fetch(_HELD, MEMBERS)
    held = await pool.fetch(
        f"SELECT h.key, a.application_name FROM ({_HELD}) h "
        "JOIN pg_stat_activity a ON a.pid = h.pid",
        PARTITIONS,
    )
    return len(members), {row["key"]: int(row[1].rsplit(":", 1)[1]) for row in held}


def write(ledger: Any, tenants: list[str], stop: threading.Event, done: list[str]) -> None:
    """Subject after subject, tenant after tenant, until ``stop``: registered, a consent, and
    for two in three a withdrawal (a lapse the relay announces)."""
    n = 0
    while not stop.is_set():
        tenant, ref = tenants[n % len(tenants)], f"client-{n}"
        _again(ledger.put_subject, tenant, ref, PersonalData())
        _again(give, ledger, tenant, ref)
        if n % 3:
            _again(withdraw, ledger, tenant, ref)
        done.append(ref)
        n += 1


def _again(write: Any, *args: Any) -> None:
    """A write tried again as a client tries a 503 again: a projector starting creates its
    tables if absent, and that statement can deadlock with a write (nothing is written)."""
    for attempt in range(5):
        try:
            write(*args)
            return
        except OperationalError as error:
            if "deadlock detected" not in str(error) or attempt == 4:
                raise


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def nats_server(tmp_path: Path) -> AsyncIterator[Any]:
    """A NATS of the test's own, stopped however the test ends (a failed assertion too)."""
    server = await asyncio.to_thread(EmbeddedNats(tmp_path / "nats").start)
    yield server
    await asyncio.to_thread(server.stop)


async def test_projectors_share_the_partitions_and_take_over_a_killed_ones(
    store: Store, tmp_path: Path, nats_server: Any
) -> None:
    pool = await create_read_pool(store.url, min_size=1, max_size=2)
    tenants = [new_tenant(store.ledger) for _ in range(TENANTS)]
    # spread over more than one partition: random names all fell in one once (1 in 216)
    while len({partition_of(t, COUNT) for t in tenants}) == 1:
        tenants.append(new_tenant(store.ledger))
    # the hash the followers ask SQL for is the one the processes share
    in_sql = await pool.fetch(
        f"SELECT t, {sql_partition('t', str(COUNT))} AS p FROM unnest($1::text[]) t", tenants
    )
    assert {row["t"]: row["p"] for row in in_sql} == {t: partition_of(t, COUNT) for t in tenants}

    health = _free_port()
    projectors = Projectors(store, nats_server.url, tmp_path, health)
    stop, done = threading.Event(), []
    writer = threading.Thread(target=write, args=(store.ledger, tenants, stop, done))
    takeovers: list[float] = []
    owners_seen: set[int] = set()  # the processes that owned partitions during the burst
    try:

        async def shared_by(processes: int) -> bool:
            projectors.alive()
            _, owned = await owners(pool)
            return len(owned) == COUNT and len(set(owned.values())) >= processes

        await wait_for(lambda: shared_by(PROCESSES), 60, "three projectors sharing the partitions")
        writer.start()
        for n in range(1, PROCESSES):  # the first one, whose health is asked, lives on
            await asyncio.sleep(1.5)
            assert writer.is_alive()
            _, owned = await owners(pool)
            owners_seen.update(owned.values())
            victim = projectors.processes[n].pid
            assert victim in owned.values()
            killed_at = time.monotonic()
            projectors.kill(n)

            async def taken_over(victim: int = victim) -> bool:
                _, owned = await owners(pool)
                owners_seen.update(owned.values())
                return len(owned) == COUNT and victim not in owned.values()

            await wait_for(taken_over, 20, "the killed projector's partitions taken over")
            takeovers.append(time.monotonic() - killed_at)
            projectors.restart(n)  # to claim a share anew once it is up: the others did first
        stop.set()
        writer.join(30)

        async def caught_up() -> bool:
            projectors.alive()
            head = await pool.fetchval(HEAD)
            rows = await pool.fetch(
                "SELECT projection, min(position) AS position, count(*) AS partitions "
                "FROM grondslag_tracking GROUP BY projection"
            )
            behind = {r["projection"]: (r["position"], r["partitions"]) for r in rows}
            return all(behind.get(name) == (head, COUNT) for name in PROJECTIONS)

        await wait_for(caught_up, 60, "every partition of every projection at the log's head")
        ready = httpx.get(f"http://127.0.0.1:{health}/health/ready", timeout=5)
        metrics = httpx.get(f"http://127.0.0.1:{health}/metrics", timeout=5).text
    finally:
        stop.set()
        projectors.stop()
    print(f"take-over after a SIGKILL: {', '.join(f'{s:.2f} s' for s in takeovers)}")

    # the work was shared: each kill's partitions went to the others, whoever owned them
    assert len(owners_seen) >= PROCESSES, owners_seen
    assert ready.status_code == 200, ready.text
    assert f'grondslag_projector_partition_lag_events{{partition="{COUNT - 1}"' in metrics
    assert 'grondslag_projector_partition_owned{partition="0"}' in metrics
    assert "grondslag_projector_kept_standings " in metrics
    assert 'grondslag_projector_standing_folds_total{onto="kept"}' in metrics
    # the health server's lines (litestar's, uvicorn's) come in the one log format too
    foreign = [
        line
        for line in (tmp_path / "projector-0.log").read_text(errors="replace").splitlines()
        if line.startswith(("DEBUG - ", "INFO - ", "WARNING - ", "ERROR - "))
    ]
    assert not foreign, foreign[:3]

    try:
        # the read model, row for row, as a rebuild folds it
        await rebuild_into(pool, table="grondslag_current_standing_anew")
        order = "ORDER BY tenant, purpose, subject_ref"
        projected = await pool.fetch(f"SELECT {COLUMNS} FROM {CURRENT_STANDING_TABLE} {order}")
        rebuilt = await pool.fetch(f"SELECT {COLUMNS} FROM grondslag_current_standing_anew {order}")
        assert len(projected) == len(done) > 2 * TENANTS
        assert [tuple(r) for r in projected] == [tuple(r) for r in rebuilt]
        # every event of the log a leaf of the audit log, once
        events, leaves = await pool.fetchrow(
            f"SELECT (SELECT count(*) FROM {EVENTS_TABLE}), "
            "(SELECT count(*) FROM grondslag_audit_leaves)"
        )
        assert leaves == events
        expected = await _messages_of(pool, tenants)
        async with pool.acquire() as conn:  # what `grondslag audit check` runs
            report = await audit_check.check(conn)
        assert report.ok, report.problems
        assert set(tenants) <= set(report.tenants)
    finally:
        await pool.close()
    # the relay: each message the fold says, exactly once
    nc = await relay.connect(nats_server.url)
    try:
        js = nc.jetstream()
        received = []
        for tenant in tenants:
            relayed = sum(1 for m in expected.values() if m[1]["source"].endswith(f":{tenant}"))
            received += await consume(js, tenant, until=relayed, relayed_only=True)
            assert await _stored_relayed(js, tenant) == relayed  # and no more than those
    finally:
        await nc.close()
    ids = Counter(msgspec.json.decode(m.data)["id"] for m in received)
    assert [i for i, n in ids.items() if n > 1] == [], "published more than once"
    lapses = [m for m in expected.values() if m[1]["type"].endswith("basis.lapsed.v1")]
    assert len(lapses) >= len(done) // 2
    got = {(d := msgspec.json.decode(m.data))["id"]: (m.subject, d) for m in received}
    assert sorted(set(expected) - set(got)) == [], "never published"
    assert sorted(set(got) - set(expected)) == [], "published, but the fold does not say it"
    assert got == expected


async def _stored_relayed(js: Any, tenant: str) -> int:
    """How many messages the stream holds on the tenant's subjects, the checkpointer's
    witness copies left out."""
    info = await js.stream_info(relay.STREAM, subjects_filter=f"grondslag.{tenant}.>")
    subjects = info.state.subjects or {}
    return sum(n for s, n in subjects.items() if not s.endswith(".audit.checkpoint"))


async def _messages_of(pool: asyncpg.Pool, tenants: list[str]) -> dict[str, Any]:
    """What the relay must have published for ``tenants``: the messages of the whole log."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            f"SELECT e.* FROM {EVENTS_TABLE} e JOIN {STREAMS_TABLE} s USING (originator_id) "
            "WHERE s.tenant = ANY($1::text[]) ORDER BY e.notification_id",
            tenants,
        )
        events = [
            decode_event(r["topic"], r["state"], r["originator_id"], r["originator_version"])
            for r in rows
        ]
        messages = await relay.to_messages(conn, events)
    return {m.id: (s, msgspec.to_builtins(m)) for s, m in messages}
