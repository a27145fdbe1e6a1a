"""Helpers of the relay tests: the session's JetStream, a follower at the log's head, and a
durable pull consumer as other systems use it."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import nats
import pytest
from grondslag.ledger.application import Ledger
from grondslag.ledger.domain.values import Evidence, Notice, PurposeTerms
from grondslag.ledger.persistence.postgres import EVENTS_TABLE
from grondslag.projector.follower import LogFollower
from grondslag.projector.relay import STREAM

NOTICE = Notice(version="2025-01", url="https://praktijk.example/privacy/2025-01", sha256="a" * 64)
REGISTERED = datetime(2014, 1, 1, tzinfo=UTC)
HEAD = f"SELECT coalesce(max(notification_id), 0) FROM {EVENTS_TABLE}"
PURPOSE = "newsletter"


# -- fixtures: a database of this module's own ----------------------------------------------
# -- helpers ---------------------------------------------------------------------------------
def new_tenant(ledger: Ledger) -> str:
    tenant = f"t-{secrets.token_hex(4)}"
    ledger.register_purpose(
        tenant,
        PURPOSE,
        PurposeTerms(title="Nieuwsbrief", basis="consent", notice=NOTICE),
        REGISTERED,
    )
    return tenant


def give(ledger: Ledger, tenant: str, ref: str, **fields: Any) -> UUID:
    event, _ = ledger.give_consent(
        tenant,
        ref,
        PURPOSE,
        method="double_opt_in",
        explicit=False,
        notice_version="2025-01",
        evidence=Evidence(document_ref="opt-in-mail"),
        recorded_by="staff:test",
        **fields,
    )
    return event


def withdraw(ledger: Ledger, tenant: str, ref: str) -> UUID:
    event, _ = ledger.withdraw_consent(
        tenant, ref, PURPOSE, method="unsubscribe_link", recorded_by="subject"
    )
    return event


async def follower_at_head(pool: asyncpg.Pool, dsn: str, handler: Any) -> LogFollower:
    """A follower with a name of its own whose position is the log's head now."""
    follower = LogFollower(pool, dsn, f"relay-test-{secrets.token_hex(4)}", handler)
    await follower.setup()
    await pool.execute(
        f"UPDATE grondslag_tracking SET position = ({HEAD}) WHERE projection = $1", follower.name
    )
    return follower


async def consume(js: Any, tenant: str, *, until: int | None = None) -> list[Any]:
    """Every message of ``tenant`` in the stream, through a durable pull consumer filtered on
    ``grondslag.<tenant>.>`` that acks each one after handling it; stops at ``until``
    messages, or when nothing more arrives."""
    durable = f"test-{secrets.token_hex(4)}"
    sub = await js.pull_subscribe(f"grondslag.{tenant}.>", durable=durable, stream=STREAM)
    received: list[Any] = []
    deadline = time.monotonic() + 10
    try:
        while until is None or len(received) < until:
            try:
                batch = await sub.fetch(50 if until is None else until - len(received), timeout=1)
            except (TimeoutError, nats.errors.TimeoutError):  # nats-py raises either
                if until is None or time.monotonic() > deadline:
                    break
                continue
            for msg in batch:
                received.append(msg)  # handled: now acknowledge it
                await msg.ack_sync()
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


async def wait_for(
    check: Callable[[], Awaitable[bool]], timeout: float, what: str, every: float = 0.05
) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(every)


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def signal_id(event: UUID | str, name: str) -> str:
    """The message id of the stop or start signal an event caused beside its own report."""
    return str(uuid.uuid5(UUID(str(event)), f"nl.grondslag.{name}.v1"))
