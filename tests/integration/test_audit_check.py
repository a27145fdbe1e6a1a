"""``grondslag audit check`` on real PostgreSQL: a clean store passes; an event edited in
``grondslag_events`` is named (whether its JSON stays valid or not); an edit that also
rewrote the stored leaf hash is caught by the signed checkpoint whose root no longer
matches; a removed event leaves a checkpoint larger than the store.

The events are recorded with the Ledger application and taken into the audit log by a
real projector; the command runs as a subprocess, as an operator runs it. The clean case
uses the module's own database; each tampering gets a fresh database of its own, so that
one test's edit never shows in another's check.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from grondslag.ledger.application import Ledger
from grondslag.ledger.audit import merkle
from grondslag.ledger.audit.canonical import canonical_event_bytes
from grondslag.ledger.bootstrap import build_ledger
from grondslag.ledger.domain.ids import event_id, standing_id
from grondslag.ledger.domain.values import Evidence, Notice, PersonalData, PurposeTerms
from grondslag.ledger.persistence.postgres import EVENTS_TABLE, STREAMS_TABLE
from grondslag.ledger.settings import Settings
from grondslag.projector import audit_log, tracking
from grondslag.projector.audit_check import check
from grondslag.projector.follower import LogFollower
from grondslag.projector.partitions import partition_of
from grondslag.projector.runner import Projector

NOTICE = Notice(version="2025-01", url="https://praktijk.example/privacy/2025-01", sha256="a" * 64)
REGISTERED = datetime(2014, 1, 1, tzinfo=UTC)
PURPOSE = "photo"
REF = "client-1"
RECORDED_BY = "staff:tampered-with"


@dataclass
class Logged:
    """A tenant's events, logged and covered by two checkpoints (of sizes ``first`` and
    ``second``); ``target`` is a consent recorded between them."""

    url: str
    tenant: str
    first: int
    second: int
    target: UUID  # originator id of the tampered event
    version: int
    target_event: UUID
    target_leaf: int
    last_event: UUID


# -- recording and logging --------------------------------------------------------------------
def give(ledger: Ledger, tenant: str, ref: str) -> UUID:
    event, _ = ledger.give_consent(
        tenant,
        ref,
        PURPOSE,
        method="written",
        explicit=True,
        notice_version="2025-01",
        evidence=Evidence(document_ref="intake.pdf"),
        recorded_by=RECORDED_BY,
    )
    return event


def withdraw(ledger: Ledger, tenant: str, ref: str) -> UUID:
    event, _ = ledger.withdraw_consent(tenant, ref, PURPOSE, method="email", recorded_by="staff:x")
    return event


def record_opening(ledger: Ledger, tenant: str) -> None:
    ledger.register_purpose(
        tenant, PURPOSE, PurposeTerms(title="Foto", basis="consent", notice=NOTICE), REGISTERED
    )
    ledger.put_subject(tenant, REF, PersonalData())
    ledger.put_subject(tenant, "client-2", PersonalData())
    give(ledger, tenant, "client-2")


async def events_of(conn: asyncpg.Connection | asyncpg.Pool, tenant: str) -> int:
    return await conn.fetchval(
        f"SELECT count(*) FROM {EVENTS_TABLE} e JOIN {STREAMS_TABLE} s "
        "ON s.originator_id = e.originator_id WHERE s.tenant = $1",
        tenant,
    )


async def logged(pool: asyncpg.Pool, tenant: str, *, seconds: float = 5.0) -> int:
    """Wait until the audit log holds every event of the tenant; answers how many."""
    deadline = time.monotonic() + seconds
    while True:
        size = await pool.fetchval(
            "SELECT size FROM grondslag_audit_trees WHERE tenant = $1", tenant
        )
        count = await events_of(pool, tenant)
        if size == count:
            return count
        assert time.monotonic() < deadline, f"logged {size} of {count} events"
        await asyncio.sleep(0.05)


async def sign(projector: Projector, tenant: str, size: int) -> None:
    assert projector.checkpointer is not None
    await projector.checkpointer.sign_due()
    assert projector.pool is not None
    sizes = await projector.pool.fetch(
        "SELECT tree_size FROM grondslag_audit_checkpoints WHERE tenant = $1", tenant
    )
    assert size in {row["tree_size"] for row in sizes}


async def log_a_tenant(url: str, ledger: Ledger, key_file: Path) -> Logged:
    """Record a tenant's events in two rounds, each logged and signed by a real projector."""
    tenant = f"t-{secrets.token_hex(4)}"
    projector = Projector(
        Settings(
            database_url=url,
            nats_url=None,
            projection_poll_seconds=0.2,
            audit_key_file=key_file,
        )
    )
    await projector.start()
    try:
        assert projector.pool is not None
        await asyncio.to_thread(record_opening, ledger, tenant)
        first = await logged(projector.pool, tenant)
        await sign(projector, tenant, first)

        target_event = await asyncio.to_thread(give, ledger, tenant, REF)
        await asyncio.to_thread(withdraw, ledger, tenant, REF)
        last_event = await asyncio.to_thread(give, ledger, tenant, REF)
        second = await logged(projector.pool, tenant)
        await sign(projector, tenant, second)
    finally:
        await projector.stop()
    target = standing_id(tenant, REF, PURPOSE)
    conn = await asyncpg.connect(url)
    try:
        version = await conn.fetchval(
            f"SELECT min(originator_version) FROM {EVENTS_TABLE} "
            "WHERE originator_id = $1 AND topic LIKE '%.ConsentGiven'",
            target,
        )
        leaf = await conn.fetchval(
            "SELECT leaf_index FROM grondslag_audit_leaves WHERE event_id = $1", target_event
        )
    finally:
        await conn.close()
    assert event_id(target, version) == target_event
    assert first <= leaf < second
    return Logged(url, tenant, first, second, target, version, target_event, leaf, last_event)


@pytest.fixture
async def fresh(
    new_database: Callable[[str], AbstractContextManager[str]], tmp_path: Path
) -> AsyncIterator[Logged]:
    """A database of this test's own, with one tenant logged and signed."""
    with new_database("grondslag_audit_check") as url:
        ledger = await asyncio.to_thread(build_ledger, Settings(database_url=url), 4)
        try:
            yield await log_a_tenant(url, ledger, tmp_path / "audit-signing-key.pem")
        finally:
            ledger.close()


# -- running the check ------------------------------------------------------------------------
def audit_check_command(url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url}
    env.pop("NATS_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "grondslag.cli", "audit", "check"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


async def run_check(url: str) -> tuple[Any, subprocess.CompletedProcess]:
    conn = await asyncpg.connect(url)
    try:
        report = await check(conn)
    finally:
        await conn.close()
    return report, await asyncio.to_thread(audit_check_command, url)


async def execute(url: str, sql: str, *args: Any) -> str:
    conn = await asyncpg.connect(url)
    try:
        return await conn.execute(sql, *args)
    finally:
        await conn.close()


async def stored_state(store: Logged) -> bytes:
    conn = await asyncpg.connect(store.url)
    try:
        return bytes(
            await conn.fetchval(
                f"SELECT state FROM {EVENTS_TABLE} "
                "WHERE originator_id = $1 AND originator_version = $2",
                store.target,
                store.version,
            )
        )
    finally:
        await conn.close()


async def overwrite_byte(store: Logged, position: int, byte: bytes) -> None:
    """Change one byte of the target event's stored state (0-based ``position``)."""
    status = await execute(
        store.url,
        f"UPDATE {EVENTS_TABLE} SET state = overlay(state placing $3 from $4 for 1) "
        "WHERE originator_id = $1 AND originator_version = $2",
        store.target,
        store.version,
        byte,
        position + 1,
    )
    assert status == "UPDATE 1"


async def change_recorded_by(store: Logged) -> None:
    """One byte inside a string value: the JSON stays valid (``staff:`` → ``Xtaff:``)."""
    state = await stored_state(store)
    assert state.count(RECORDED_BY.encode()) == 1
    await overwrite_byte(store, state.index(RECORDED_BY.encode()), b"X")
    changed = await stored_state(store)
    assert changed.replace(b"Xtaff:", b"staff:") == state


async def delete_last_event(store: Logged) -> UUID:
    """Delete the tenant's last event from the store; answers its event id."""
    conn = await asyncpg.connect(store.url)
    try:
        row = await conn.fetchrow(
            f"DELETE FROM {EVENTS_TABLE} WHERE notification_id = (SELECT max(notification_id) "
            f"FROM {EVENTS_TABLE} e JOIN {STREAMS_TABLE} s USING (originator_id) "
            "WHERE s.tenant = $1) RETURNING originator_id, originator_version",
            store.tenant,
        )
    finally:
        await conn.close()
    return event_id(row["originator_id"], row["originator_version"])


# -- the tests ---------------------------------------------------------------------------------
async def test_a_clean_store_passes(
    ledger: Ledger, pool: asyncpg.Pool, own_database_url: str, tmp_path: Path
) -> None:
    store = await log_a_tenant(own_database_url, ledger, tmp_path / "audit-signing-key.pem")
    report, command = await run_check(own_database_url)

    assert report.ok, report.problems
    tenant = report.tenants[store.tenant]
    assert tenant.problem is None
    assert tenant.events == store.second == await events_of(pool, store.tenant)
    assert tenant.checkpoints >= 2
    assert tenant.unlogged == 0
    assert command.returncode == 0, command.stderr
    assert f"{store.tenant}: ok — {store.second} events" in command.stdout
    assert "the store matches the audit log and every signed checkpoint" in command.stdout


async def test_the_check_shows_its_progress_on_a_terminal_only(
    ledger: Ledger, pool: asyncpg.Pool, own_database_url: str, tmp_path: Path
) -> None:
    await log_a_tenant(own_database_url, ledger, tmp_path / "audit-signing-key.pem")
    heard: list[tuple[int, int]] = []
    conn = await asyncpg.connect(own_database_url)
    try:
        report = await check(conn, lambda done, total: heard.append((done, total)))
        stored = await conn.fetchval(f"SELECT count(*) FROM {EVENTS_TABLE}")
    finally:
        await conn.close()
    assert report.ok, report.problems
    assert heard[0] == (0, stored) and heard[-1] == (stored, stored)

    piped = await asyncio.to_thread(audit_check_command, own_database_url)
    assert piped.returncode == 0 and piped.stderr == "", piped.stderr  # no bar when piped

    def on_a_terminal() -> tuple[subprocess.CompletedProcess, bytes]:
        leader, terminal = os.openpty()
        try:
            env = {**os.environ, "DATABASE_URL": own_database_url, "COLUMNS": "100"}
            env.pop("NATS_URL", None)
            command = subprocess.Popen(
                [sys.executable, "-m", "grondslag.cli", "audit", "check"],
                stdout=subprocess.PIPE,
                stderr=terminal,
                text=True,
                env=env,
            )
            os.close(terminal)
            shown = b""  # read while it runs: a full terminal would block its writes
            with contextlib.suppress(OSError):  # EIO once it exited and all was read
                while chunk := os.read(leader, 65536):
                    shown += chunk
            out, _ = command.communicate(timeout=60)
            return subprocess.CompletedProcess(command.args, command.returncode, out), shown
        finally:
            os.close(leader)

    tty, shown = await asyncio.to_thread(on_a_terminal)
    assert tty.returncode == 0
    assert b"audit check" in shown and "━".encode() in shown, shown
    assert tty.stdout == piped.stdout  # what the command answers is the same either way


async def test_one_byte_changed_in_a_string_names_the_event(fresh: Logged) -> None:
    await change_recorded_by(fresh)
    report, command = await run_check(fresh.url)

    assert not report.ok
    (problem,) = report.problems
    assert str(fresh.target_event) in problem
    assert f"leaf {fresh.target_leaf}" in problem
    assert "the stored event was changed" in problem
    assert command.returncode == 1
    assert f"{fresh.tenant}: DIFFERS" in command.stdout
    assert command.stderr.startswith("audit check FAILED:")
    assert str(fresh.target_event) in command.stderr


async def test_one_byte_that_breaks_the_json_names_the_event(fresh: Logged) -> None:
    state = await stored_state(fresh)
    assert state.startswith(b"{")
    await overwrite_byte(fresh, 0, b"X")  # no longer an object: not JSON at all
    report, command = await run_check(fresh.url)

    assert not report.ok
    (problem,) = report.problems
    assert str(fresh.target_event) in problem
    assert "not canonical JSON" in problem
    assert command.returncode == 1
    assert str(fresh.target_event) in command.stderr


async def test_a_rewritten_leaf_hash_is_caught_by_the_checkpoint(fresh: Logged) -> None:
    await change_recorded_by(fresh)
    conn = await asyncpg.connect(fresh.url)
    try:
        row = await conn.fetchrow(
            f"SELECT topic, state FROM {EVENTS_TABLE} "
            "WHERE originator_id = $1 AND originator_version = $2",
            fresh.target,
            fresh.version,
        )
        forged = merkle.leaf_hash(
            canonical_event_bytes(fresh.target, fresh.version, row["topic"], bytes(row["state"]))
        )
        status = await conn.execute(
            "UPDATE grondslag_audit_nodes SET hash = $3 "
            "WHERE tenant = $1 AND level = 0 AND index = $2 AND hash <> $3",
            fresh.tenant,
            fresh.target_leaf,
            forged,
        )
        assert status == "UPDATE 1"
        issued = await conn.fetchval(
            "SELECT max(issued_at) FROM grondslag_audit_checkpoints "
            "WHERE tenant = $1 AND tree_size = $2",
            fresh.tenant,
            fresh.second,
        )
    finally:
        await conn.close()
    report, command = await run_check(fresh.url)

    assert not report.ok
    (problem,) = report.problems
    assert f"the checkpoint of size {fresh.second} " in problem
    assert issued.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") in problem
    assert "does not match the store" in problem
    # the first checkpoint still holds: the change lies among the leaves after it
    assert f"leaves {fresh.first}..{fresh.second - 1}" in problem
    assert str(fresh.target_event) not in problem  # its leaf no longer gives it away
    assert report.tenants[fresh.tenant].checkpoints >= 1
    assert command.returncode == 1
    assert f"the checkpoint of size {fresh.second} " in command.stderr


async def test_a_removed_last_event_leaves_a_checkpoint_larger_than_the_store(
    fresh: Logged,
) -> None:
    assert await delete_last_event(fresh) == fresh.last_event
    report, command = await run_check(fresh.url)

    assert not report.ok
    (problem,) = report.problems
    assert f"the checkpoint of size {fresh.second} " in problem
    assert f"larger than the {fresh.second - 1} logged events" in problem
    assert report.tenants[fresh.tenant].events == fresh.second - 1
    assert command.returncode == 1
    assert f"the checkpoint of size {fresh.second} " in command.stderr
    assert "events were removed" in command.stderr


async def test_a_removed_event_the_log_holds_but_no_checkpoint_covers_yet(
    fresh: Logged, tmp_path: Path
) -> None:
    # one more event, taken into the audit log by the projector's own audit follower (no
    # checkpointer runs, so no checkpoint covers it: as in the minute between two)
    ledger = await asyncio.to_thread(build_ledger, Settings(database_url=fresh.url), 4)
    try:
        withdrawn = await asyncio.to_thread(withdraw, ledger, fresh.tenant, REF)
    finally:
        ledger.close()
    pool = await asyncpg.create_pool(fresh.url, min_size=1, max_size=2)
    try:
        # the follower of the tenant's partition, as the projector split the audit log
        count = await tracking.count_of(pool, audit_log.NAME)
        follower = LogFollower(
            pool, fresh.url, audit_log.NAME, audit_log.append, raw=True,
            partition=partition_of(fresh.tenant, count), partitions=count,
        )  # fmt: skip
        if await follower.catch_up() != 1:
            raise RuntimeError("the audit follower did not log exactly the new event")
        size = await pool.fetchval(
            "SELECT size FROM grondslag_audit_trees WHERE tenant = $1", fresh.tenant
        )
        signed = await pool.fetchval(
            "SELECT max(tree_size) FROM grondslag_audit_checkpoints WHERE tenant = $1",
            fresh.tenant,
        )
    finally:
        await pool.close()
    if (size, signed) != (fresh.second + 1, fresh.second):
        raise RuntimeError(
            f"expected a log of {fresh.second + 1} over a checkpoint of "
            f"{fresh.second}, got {size} over {signed}"
        )
    if await delete_last_event(fresh) != withdrawn:
        raise RuntimeError("deleted another event than the withdrawal")

    report, command = await run_check(fresh.url)

    # the audit log holds leaf `second` for an event the store no longer has
    assert not report.ok, "audit check passed a store missing an event the log holds"
    assert command.returncode == 1
    assert any(fresh.tenant in problem for problem in report.problems)
