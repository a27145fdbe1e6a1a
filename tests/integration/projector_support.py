"""Helpers of the tests that run the projector's parts themselves — the follower, the relay,
the deadline clock, the quarantine — on a database of their own: writes through the ledger,
the log's head and its stored bytes, a durable JetStream consumer as other systems use it,
and the ``grondslag`` command as an operator runs it."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import nats
import pytest

from grondslag.ledger.application import Ledger
from grondslag.ledger.domain.values import Evidence, Notice, PurposeTerms
from grondslag.ledger.persistence.mapper import decode_event
from grondslag.ledger.persistence.postgres import EVENTS_TABLE
from grondslag.ledger.settings import Settings
from grondslag.projector.follower import LogFollower
from grondslag.projector.relay import STREAM

NOTICE = Notice(version="2025-01", url="https://praktijk.example/privacy/2025-01", sha256="a" * 64)
REGISTERED = datetime(2014, 1, 1, tzinfo=UTC)
PURPOSE = "photo"
HEAD = f"SELECT coalesce(max(notification_id), 0) FROM {EVENTS_TABLE}"
LAPSED = "ledger.domain.standing:Standing.BasisLapsed"


@dataclass
class Store:
    """A database of a test's own with the ledger's tables (the ``store`` fixture)."""

    url: str
    ledger: Ledger
    key_file: Path

    def settings(self, nats_url: str | None) -> Settings:
        return Settings(
            database_url=self.url,
            nats_url=nats_url,
            projection_poll_seconds=0.2,
            audit_key_file=self.key_file,
            write_pool_size=2,  # the API of these tests reads; the server has other suites
            read_pool_size=2,
        )


# -- writing through the ledger ----------------------------------------------------------------
def terms(title: str, **changes: Any) -> PurposeTerms:
    """A purpose's terms: on consent under ``NOTICE`` unless ``changes`` say otherwise."""
    return PurposeTerms(**({"title": title, "basis": "consent", "notice": NOTICE} | changes))


def new_tenant(ledger: Ledger, purposes: dict[str, PurposeTerms] | None = None) -> str:
    """A tenant of its own with ``purposes`` (code: terms) registered since 2014; by default
    ``PURPOSE``, a photo on consent."""
    tenant = f"t-{secrets.token_hex(4)}"
    for code, purpose_terms in (purposes or {PURPOSE: terms("Foto")}).items():
        ledger.register_purpose(tenant, code, purpose_terms, REGISTERED)
    return tenant


def give(ledger: Ledger, tenant: str, ref: str, purpose: str = PURPOSE, **fields: Any) -> UUID:
    """A written, explicit consent under ``NOTICE``; answers its event id."""
    consent: dict[str, Any] = {
        "method": "written",
        "explicit": True,
        "notice_version": NOTICE.version,
        "evidence": Evidence(document_ref="intake.pdf"),
        "recorded_by": "staff:test",
    }
    event, _ = ledger.give_consent(tenant, ref, purpose, **(consent | fields))
    return event


def withdraw(ledger: Ledger, tenant: str, ref: str, purpose: str = PURPOSE, **fields: Any) -> UUID:
    """A withdrawal by e-mail, now; answers its event id."""
    withdrawal: dict[str, Any] = {"method": "email", "recorded_by": "staff:test"}
    event, _ = ledger.withdraw_consent(tenant, ref, purpose, **(withdrawal | fields))
    return event


# -- the log ---------------------------------------------------------------------------------
async def follower_at_head(
    pool: asyncpg.Pool, dsn: str, handler: Any, **options: Any
) -> LogFollower:
    """A follower with a name of its own whose position is the log's head now."""
    follower = LogFollower(pool, dsn, f"test-{secrets.token_hex(4)}", handler, **options)
    await follower.setup()
    await pool.execute(
        f"UPDATE grondslag_tracking SET position = ({HEAD}) WHERE projection = $1", follower.name
    )
    return follower


async def events_of(pool: asyncpg.Pool, stream: UUID, topic: str) -> list[Any]:
    """The events of ``topic`` in one stream, decoded, in log order."""
    rows = await pool.fetch(
        "SELECT originator_id, originator_version, topic, state "
        f"FROM {EVENTS_TABLE} WHERE originator_id = $1 AND topic = $2 ORDER BY notification_id",
        stream,
        topic,
    )
    return [
        decode_event(r["topic"], r["state"], r["originator_id"], r["originator_version"])
        for r in rows
    ]


async def set_state(url: str, stream: UUID, version: int, state: bytes) -> bytes:
    """Write ``state`` over one stored event's bytes; answers the bytes it held."""
    conn = await asyncpg.connect(url)
    try:
        before = await conn.fetchval(
            f"SELECT state FROM {EVENTS_TABLE} "
            "WHERE originator_id = $1 AND originator_version = $2",
            stream,
            version,
        )
        status = await conn.execute(
            f"UPDATE {EVENTS_TABLE} SET state = $3 "
            "WHERE originator_id = $1 AND originator_version = $2",
            stream,
            version,
            state,
        )
        assert status == "UPDATE 1"
        return bytes(before)
    finally:
        await conn.close()


async def quarantined(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    try:
        return await pool.fetch("SELECT * FROM grondslag_quarantine ORDER BY projection, key")
    except asyncpg.UndefinedTableError:
        return []


async def command(url: str, nats_url: str | None, *args: str) -> subprocess.CompletedProcess:
    """``grondslag ARGS`` as an operator runs it, against this database (and NATS)."""
    env = {**os.environ, "DATABASE_URL": url}
    env.pop("NATS_URL", None)
    if nats_url:
        env["NATS_URL"] = nats_url
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "grondslag.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


# -- the stream --------------------------------------------------------------------------------
async def consume(
    js: Any, tenant: str, *, until: int | None = None, relayed_only: bool = False
) -> list[Any]:
    """Every message of ``tenant`` in the stream, through a durable pull consumer filtered on
    ``grondslag.<tenant>.>`` that acks each one after handling it; stops at ``until``
    messages (or, without it, at as many as the stream holds for the tenant when called), or
    after 10 s. Waiting for a quiet second instead came back empty when a loaded machine took
    longer than that to deliver the first batch. ``relayed_only``: the relay's messages only,
    leaving out the checkpointer's witness copies (``audit.checkpoint``), which its first tick
    signs or not, depending on whether the audit log has the tenant's tree by then."""
    target = until if until is not None else await stored_count(js, tenant)
    durable = f"test-{secrets.token_hex(4)}"
    sub = await js.pull_subscribe(f"grondslag.{tenant}.>", durable=durable, stream=STREAM)
    received: list[Any] = []
    handled = 0
    deadline = time.monotonic() + 10
    try:
        while (len(received) if until is not None else handled) < target:
            if time.monotonic() >= deadline:
                break
            wanted = target - (len(received) if until is not None else handled)
            try:
                batch = await sub.fetch(wanted, timeout=1)
            except (TimeoutError, nats.errors.TimeoutError):  # nats-py raises either
                continue
            for msg in batch:
                handled += 1
                if not (relayed_only and msg.subject.endswith(".audit.checkpoint")):
                    received.append(msg)
                await msg.ack_sync()  # handled: now acknowledge it
        info = await sub.consumer_info()
        assert (info.num_ack_pending, info.num_redelivered) == (0, 0)
    finally:
        await sub.unsubscribe()
        await js.delete_consumer(STREAM, durable)
    return received


async def stored_count(js: Any, tenant: str) -> int:
    """How many messages the stream holds on the tenant's subjects."""
    info = await js.stream_info(STREAM, subjects_filter=f"grondslag.{tenant}.>")
    return sum((info.state.subjects or {}).values())


def signal_id(event: UUID | str, name: str) -> str:
    """The message id of the stop or start signal an event caused beside its own report."""
    return str(uuid.uuid5(UUID(str(event)), f"nl.grondslag.{name}.v1"))


# -- waiting -----------------------------------------------------------------------------------
async def wait_for(
    check: Callable[[], Awaitable[bool]], timeout: float, what: str, every: float = 0.05
) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(every)


async def sleep_until(instant: datetime, margin: float = 0.05) -> None:
    await asyncio.sleep(max(0.0, (instant - datetime.now(UTC)).total_seconds()) + margin)
