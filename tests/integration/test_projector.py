"""The projector's read model on real PostgreSQL: built incrementally it equals a rebuild from
the log, a batch that fails halfway for a transient reason (or a process killed mid-work)
leaves no half batch and no advanced position behind, and gaps in the notification ids lose
nothing. (A batch failing for a reason of its own quarantines a key: test_quarantine*.py.)

The module runs on a database of its own on the session's PostgreSQL server: the API tests'
session-wide projector (``client`` fixture) would otherwise project the same events into the
same read-model table and hide what a failed batch left behind.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import psycopg
import pytest

from grondslag.ledger.application import Ledger
from grondslag.ledger.domain.values import (
    BasisEnd,
    Establishment,
    PersonalData,
    Retention,
)
from grondslag.ledger.persistence.postgres import EVENTS_TABLE
from grondslag.ledger.reads.checks import CURRENT_STANDING_TABLE
from grondslag.projector import current_standing
from grondslag.projector.follower import LogFollower
from grondslag.projector.rebuild import rebuild_into

from projector_support import HEAD, follower_at_head, give, new_tenant, terms, wait_for, withdraw

PURPOSES = {
    "photo": terms("photo"),
    "newsletter": terms("newsletter"),
    "mediation": terms("Mediation file", basis="contract", retention=Retention("P7Y")),
}


# -- reading the read model ----------------------------------------------------------------
async def rows_of(pool: asyncpg.Pool, table: str, tenant: str) -> list[tuple[Any, ...]]:
    columns = ", ".join(current_standing.COLUMNS)
    return [
        tuple(row)
        for row in await pool.fetch(
            f"SELECT {columns} FROM {table} WHERE tenant = $1 ORDER BY purpose, subject_ref",
            tenant,
        )
    ]


async def rebuilt_rows(pool: asyncpg.Pool, tenant: str) -> list[tuple[Any, ...]]:
    """The tenant's rows as ``rebuild_into`` folds them from the log into a fresh table."""
    table = f"t_rebuild_{secrets.token_hex(4)}"
    try:
        await rebuild_into(pool, table=table)
        return await rows_of(pool, table, tenant)
    finally:
        await pool.execute(f"DROP TABLE IF EXISTS {table}")


# -- (a) incremental = rebuild ---------------------------------------------------------------
async def test_read_model_built_batch_by_batch_equals_a_rebuild_from_the_log(
    ledger: Ledger, pool: asyncpg.Pool, own_database_url: str
) -> None:
    tenant = new_tenant(ledger, PURPOSES)
    now = datetime.now(UTC)
    refs = [f"client-{i}" for i in range(10)]
    for ref in refs:
        ledger.put_subject(tenant, ref, PersonalData())
        give(ledger, tenant, ref, "photo")
    for ref in refs[::2]:  # a consent that expires next year: changes_at is set, and stable
        give(ledger, tenant, ref, "newsletter", expires_at=now + timedelta(days=365))
    for ref in refs[::3]:
        withdraw(ledger, tenant, ref, "photo")
    give(ledger, tenant, refs[3], "photo")  # withdrawn, then given again
    withdraw(ledger, tenant, refs[4], "newsletter")
    for ref in refs[1:4]:
        ledger.establish_basis(
            tenant,
            ref,
            "mediation",
            Establishment(basis="contract", reference=f"k-{ref}", effective_at=now - timedelta(90)),
        )
    ledger.end_basis(  # lapsed, its 7-year retention still running: changes_at in 2032+
        tenant, refs[2], "mediation", BasisEnd(effective_at=now - timedelta(30), reason="done")
    )

    # from the very start of the log, in small batches that split standings across batches
    follower = LogFollower(
        pool,
        own_database_url,
        f"test-{secrets.token_hex(4)}",
        current_standing.project,
        batch_size=7,
    )
    await follower.setup()
    handled = await follower.catch_up()

    assert handled == await pool.fetchval(f"SELECT count(*) FROM {EVENTS_TABLE}")
    assert await follower.position() == await pool.fetchval(HEAD)
    incremental = await rows_of(pool, CURRENT_STANDING_TABLE, tenant)
    assert len(incremental) == len(refs) + len(refs[::2]) + 3  # photo, newsletter, mediation
    # every column, time-dependent ones included: ``changes_at`` holds fixed instants (the
    # newsletter expiry next year, the end of the 7-year retention), none of which passes
    # between the incremental fold and the rebuild's fold
    assert incremental == await rebuilt_rows(pool, tenant)
    statuses = {(row[1], row[2]): (row[4], row[6]) for row in incremental}
    assert statuses[("photo", "client-0")] == ("lapsed", "withdrawn")
    assert statuses[("photo", "client-3")] == ("lawful", None)
    assert statuses[("mediation", "client-2")] == ("lapsed", "basis_ended")
    assert statuses[("newsletter", "client-4")] == ("lapsed", "withdrawn")


# -- (b) a batch that fails halfway ------------------------------------------------------------
async def test_batch_failing_halfway_commits_neither_rows_nor_position(
    ledger: Ledger, pool: asyncpg.Pool, own_database_url: str
) -> None:
    tenant = new_tenant(ledger, PURPOSES)
    refs = [f"client-{i}" for i in range(6)]
    for ref in refs:
        ledger.put_subject(tenant, ref, PersonalData())
    dsn = own_database_url
    follower = await follower_at_head(pool, dsn, current_standing.project)
    start = await follower.position()
    for ref in refs:  # one batch: Opened + ConsentGiven per subject
        give(ledger, tenant, ref)

    calls = 0
    seen_in_transaction: list[int] = []

    async def project_failing_on_second_call(conn: asyncpg.Connection, events: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:  # the connection lost: transient, so the batch is tried again whole
            raise ConnectionResetError("projector killed mid-batch")
        await current_standing.project(conn, events)

    async def half_then_crash(conn: asyncpg.Connection, events: list[tuple[int, Any]]) -> None:
        half = len(events) // 2
        await project_failing_on_second_call(conn, events[:half])
        seen_in_transaction.append(
            await conn.fetchval(
                f"SELECT count(*) FROM {CURRENT_STANDING_TABLE} WHERE tenant = $1", tenant
            )
        )
        await project_failing_on_second_call(conn, events[half:])

    crashing = LogFollower(pool, dsn, follower.name, half_then_crash)
    with pytest.raises(ConnectionResetError, match="killed mid-batch"):
        await crashing.step()

    assert seen_in_transaction == [len(refs) // 2], "the first half was applied, in the batch"
    assert await crashing.position() == start, "the position advanced past a failed batch"
    assert await rows_of(pool, CURRENT_STANDING_TABLE, tenant) == [], "half a batch is visible"

    assert await follower.catch_up() == 2 * len(refs)
    assert await follower.position() == await pool.fetchval(HEAD)
    rows = await rows_of(pool, CURRENT_STANDING_TABLE, tenant)
    assert len(rows) == len(refs)
    assert rows == await rebuilt_rows(pool, tenant)


def _unused_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_projector_process_killed_while_working_resumes_without_loss(
    ledger: Ledger, pool: asyncpg.Pool, own_database_url: str, tmp_path: Path
) -> None:
    tenant = new_tenant(ledger, PURPOSES)
    refs = [f"client-{i}" for i in range(120)]
    env = {
        **os.environ,
        "DATABASE_URL": own_database_url,
        # nothing listens there: the relay keeps retrying, the read model is not affected
        "NATS_URL": f"nats://127.0.0.1:{_unused_port()}",
        "GRONDSLAG_DATA_DIR": str(tmp_path / "data"),
    }
    log_path = tmp_path / "projector.log"

    async def position() -> int:
        return (
            await pool.fetchval(
                "SELECT min(position) FROM grondslag_tracking WHERE projection = $1",
                current_standing.NAME,
            )
            or 0
        )

    async def position_beyond(mark: int) -> bool:
        return await position() > mark

    def start() -> subprocess.Popen[bytes]:
        with log_path.open("ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "grondslag.cli", "project"],
                env=env,
                cwd=tmp_path,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def write_all() -> None:
        for i, ref in enumerate(refs):
            ledger.put_subject(tenant, ref, PersonalData())
            give(ledger, tenant, ref)
            if i % 3 == 0:
                withdraw(ledger, tenant, ref)

    async def caught_up(process: subprocess.Popen[bytes]) -> bool:
        assert process.poll() is None, f"projector exited:\n{log_path.read_text()}"
        return await position() == await pool.fetchval(HEAD)

    first = start()
    second: subprocess.Popen[bytes] | None = None
    try:
        await wait_for(lambda: caught_up(first), 30, "the projector process to start")
        before = await position()
        writer = asyncio.create_task(asyncio.to_thread(write_all))
        await wait_for(
            lambda: position_beyond(before), 30, "the projector to work on the new events"
        )
        first.send_signal(signal.SIGKILL)
        assert first.wait(10) == -signal.SIGKILL
        killed_at = await position()
        assert not writer.done(), "the writes ended before the kill: it did not kill mid-work"
        await writer

        head = await pool.fetchval(HEAD)
        assert before < killed_at < head
        second = start()
        await wait_for(lambda: caught_up(second), 30, "the restarted projector to catch up")
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(10)

    rows = await rows_of(pool, CURRENT_STANDING_TABLE, tenant)
    assert len(rows) == len(refs)
    assert rows == await rebuilt_rows(pool, tenant)
    assert sum(1 for row in rows if row[6] == "withdrawn") == len(refs[::3])


# -- (c) gaps in the notification ids ------------------------------------------------------------
async def test_gaps_in_notification_ids_are_skipped_and_nothing_is_lost(
    ledger: Ledger, pool: asyncpg.Pool, own_database_url: str
) -> None:
    tenant = new_tenant(ledger, PURPOSES)
    refs = [f"client-{i}" for i in range(4)]
    for ref in refs:
        ledger.put_subject(tenant, ref, PersonalData())
    handled: list[int] = []

    async def recording(conn: asyncpg.Connection, events: list[tuple[int, Any]]) -> None:
        handled.extend(notification_id for notification_id, _ in events)
        await current_standing.project(conn, events)

    follower = await follower_at_head(pool, own_database_url, recording, batch_size=2)
    start = await follower.position()

    def burn_a_notification_id() -> int:
        """An insert rolled back: its sequence value is consumed, its row never visible."""
        with psycopg.connect(own_database_url) as conn:
            (notification_id,) = conn.execute(
                f"INSERT INTO {EVENTS_TABLE} (originator_id, originator_version, topic, state) "
                "VALUES (%s, 1, 'gap', '\\x00') RETURNING notification_id",
                (uuid.uuid4(),),
            ).fetchone() or (0,)
            conn.rollback()
        return notification_id

    gaps = [burn_a_notification_id()]  # right after the follower's position
    give(ledger, tenant, refs[0])
    gaps += [burn_a_notification_id(), burn_a_notification_id()]
    give(ledger, tenant, refs[1])
    withdraw(ledger, tenant, refs[0])
    gaps.append(burn_a_notification_id())
    give(ledger, tenant, refs[2])
    gaps.append(burn_a_notification_id())  # at the head: nothing follows it yet

    committed = [
        row[0]
        for row in await pool.fetch(
            f"SELECT notification_id FROM {EVENTS_TABLE} WHERE notification_id > $1 "
            "ORDER BY notification_id",
            start,
        )
    ]
    assert set(gaps).isdisjoint(committed)
    assert gaps[0] == start + 1 and gaps[-1] > committed[-1]
    assert len(committed) < committed[-1] - start, "no gap inside the range"

    assert await follower.catch_up() == len(committed)
    assert handled == committed
    assert await follower.position() == committed[-1]

    give(ledger, tenant, refs[3])  # after the trailing gap
    assert await follower.catch_up() == 2
    assert await follower.position() == await pool.fetchval(HEAD)
    assert handled[len(committed) :] == [
        row[0]
        for row in await pool.fetch(
            f"SELECT notification_id FROM {EVENTS_TABLE} WHERE notification_id > $1 "
            "ORDER BY notification_id",
            committed[-1],
        )
    ]
    rows = await rows_of(pool, CURRENT_STANDING_TABLE, tenant)
    assert [(row[2], row[4]) for row in rows] == [
        ("client-0", "lapsed"),
        ("client-1", "lawful"),
        ("client-2", "lawful"),
        ("client-3", "lawful"),
    ]
    assert rows == await rebuilt_rows(pool, tenant)
