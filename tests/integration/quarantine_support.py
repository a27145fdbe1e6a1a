"""Helpers of the quarantine tests: a database of the test's own, writes through the ledger,
bytes written straight into the event store, the ``grondslag`` command as a subprocess."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import time
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
from grondslag.projector.relay import STREAM

NOTICE = Notice(version="2025-01", url="https://praktijk.example/privacy/2025-01", sha256="a" * 64)
REGISTERED = datetime(2014, 1, 1, tzinfo=UTC)
PURPOSE = "photo"
LAPSED = "ledger.domain.standing:Standing.BasisLapsed"


@dataclass
class Store:
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


def new_tenant(ledger: Ledger) -> str:
    tenant = f"t-{secrets.token_hex(4)}"
    terms = PurposeTerms(title="Foto", basis="consent", notice=NOTICE)
    ledger.register_purpose(tenant, PURPOSE, terms, REGISTERED)
    return tenant


def give(ledger: Ledger, tenant: str, ref: str, purpose: str = PURPOSE, **fields: Any) -> UUID:
    event, _ = ledger.give_consent(
        tenant,
        ref,
        purpose,
        method="written",
        explicit=True,
        notice_version="2025-01",
        evidence=Evidence(document_ref="intake.pdf"),
        recorded_by="staff:test",
        **fields,
    )
    return event


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


async def events_of(pool: asyncpg.Pool, stream: UUID, topic: str) -> list[Any]:
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


async def consume(js: Any, tenant: str, *, until: int, relayed_only: bool = False) -> list[Any]:
    """The first ``until`` messages of ``tenant`` in the stream (an ephemeral consumer);
    ``relayed_only``: of the relay's messages, leaving out the checkpointer's witness
    copies (``audit.checkpoint``), which its first tick signs or not, depending on whether
    the audit log has the tenant's tree by then."""
    sub = await js.pull_subscribe(f"grondslag.{tenant}.>", stream=STREAM)
    received: list[Any] = []
    deadline = time.monotonic() + 10
    try:
        while len(received) < until and time.monotonic() < deadline:
            try:
                fetched = await sub.fetch(until - len(received), timeout=1)
            except nats.errors.TimeoutError:
                continue
            for msg in fetched:
                await msg.ack()
            received += [
                msg
                for msg in fetched
                if not (relayed_only and msg.subject.endswith(".audit.checkpoint"))
            ]
    finally:
        await sub.unsubscribe()
    return received


async def wait_for(
    check: Callable[[], Awaitable[bool]], timeout: float, what: str, every: float = 0.05
) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(every)
