"""Witness copies of the audit log's checkpoints on real NATS JetStream: each signed
checkpoint goes out on ``grondslag.<tenant>.audit.checkpoint`` as a CloudEvent that a
witness verifies with nothing but its data (checked below with ``cryptography`` over the
body layout of ``ledger/audit/checkpoints.py``), and publishing it again is deduplicated
by ``Nats-Msg-Id``.

A real projector (with NATS) runs on the module's own database; each test uses a tenant
of its own, so other tests' messages in the shared stream never interfere.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import nats
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from grondslag.ledger.application import Ledger
from grondslag.ledger.audit import store as audit_store
from grondslag.ledger.domain.values import Evidence, Notice, PersonalData, PurposeTerms
from grondslag.ledger.persistence.postgres import EVENTS_TABLE, STREAMS_TABLE
from grondslag.ledger.settings import Settings
from grondslag.projector import relay
from grondslag.projector.runner import Projector

NOTICE = Notice(version="2025-01", url="https://praktijk.example/privacy/2025-01", sha256="a" * 64)
REGISTERED = datetime(2014, 1, 1, tzinfo=UTC)
STREAM = "GRONDSLAG"
CHECKPOINT_TYPE = "nl.grondslag.audit.checkpoint.v1"


# -- fixtures ---------------------------------------------------------------------------------
@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[Any]:
    connection = await nats.connect(nats_url)
    await relay.ensure_stream(connection.jetstream())
    yield connection
    await connection.drain()


@pytest.fixture
async def projector(
    ledger: Ledger, pool: asyncpg.Pool, own_database_url: str, nats_url: str, tmp_path: Path
) -> AsyncIterator[Projector]:
    running = Projector(
        Settings(
            database_url=own_database_url,
            nats_url=nats_url,
            projection_poll_seconds=0.2,
            audit_key_file=tmp_path / "audit-signing-key.pem",
        )
    )
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


# -- helpers ----------------------------------------------------------------------------------
def record(ledger: Ledger) -> str:
    """A fresh tenant with a purpose, a subject and a consent."""
    tenant = f"t-{secrets.token_hex(4)}"
    ledger.register_purpose(
        tenant, "photo", PurposeTerms(title="Foto", basis="consent", notice=NOTICE), REGISTERED
    )
    ledger.put_subject(tenant, "client-1", PersonalData())
    ledger.give_consent(
        tenant,
        "client-1",
        "photo",
        method="written",
        explicit=True,
        notice_version="2025-01",
        evidence=Evidence(document_ref="intake.pdf"),
        recorded_by="staff:test",
    )
    return tenant


async def logged(pool: asyncpg.Pool, tenant: str, seconds: float = 5.0) -> int:
    """Wait until the audit log holds every event of the tenant; answers how many."""
    deadline = time.monotonic() + seconds
    while True:
        count = await pool.fetchval(
            f"SELECT count(*) FROM {EVENTS_TABLE} e JOIN {STREAMS_TABLE} s "
            "USING (originator_id) WHERE s.tenant = $1",
            tenant,
        )
        size = await pool.fetchval(
            "SELECT size FROM grondslag_audit_trees WHERE tenant = $1", tenant
        )
        if size == count:
            return count
        assert time.monotonic() < deadline, f"logged {size} of {count} events"
        await asyncio.sleep(0.05)


def checkpoint_body(data: dict[str, Any]) -> bytes:
    root = base64.b64encode(bytes.fromhex(data["root_hash"])).decode()
    return (
        f"grondslag/{data['tenant']}\n{data['tree_size']}\n{root}\n{data['issued_at']}\n".encode()
    )


def signature_verifies(data: dict[str, Any]) -> bool:
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(data["public_key"]))
    try:
        key.verify(base64.b64decode(data["signature"]), checkpoint_body(data))
    except InvalidSignature:
        return False
    return True


async def messages_on(js: Any, subject: str) -> int:
    info = await js.stream_info(STREAM, subjects_filter=subject)
    return (info.state.subjects or {}).get(subject, 0)


async def published_at(pool: asyncpg.Pool, tenant: str, size: int) -> list[Any]:
    rows = await pool.fetch(
        "SELECT published_at FROM grondslag_audit_checkpoints WHERE tenant = $1 AND tree_size = $2",
        tenant,
        size,
    )
    return [row["published_at"] for row in rows]


# -- the tests --------------------------------------------------------------------------------
async def test_a_signed_checkpoint_goes_out_as_a_cloudevent_a_witness_can_verify(
    projector: Projector, ledger: Ledger, nc: Any
) -> None:
    tenant = await asyncio.to_thread(record, ledger)
    subject = f"grondslag.{tenant}.audit.checkpoint"
    received: asyncio.Queue[Any] = asyncio.Queue()
    sub = await nc.subscribe(subject, cb=received.put)
    assert projector.pool is not None and projector.checkpointer is not None
    size = await logged(projector.pool, tenant)

    # as an API process does: sign now and NOTIFY; the projector's checkpointer publishes
    checkpoint = await audit_store.sign_now(
        projector.pool, projector.checkpointer.key, tenant, datetime.now(UTC)
    )
    assert checkpoint.tree_size == size
    message = await asyncio.wait_for(received.get(), timeout=5)
    await sub.unsubscribe()

    assert message.subject == subject
    event = json.loads(message.data)
    assert event["specversion"] == "1.0"
    assert event["type"] == CHECKPOINT_TYPE
    assert event["datacontenttype"] == "application/json"
    assert event["source"] == f"urn:grondslag:{tenant}"
    assert event["subject"] == str(size)
    assert message.headers["Nats-Msg-Id"] == event["id"]
    assert tenant in event["id"]
    data = event["data"]
    assert data["tenant"] == tenant
    assert data["tree_size"] == size
    assert data["root_hash"] == checkpoint.root_hash
    assert data["issued_at"] == checkpoint.issued_at
    assert datetime.fromisoformat(event["time"]) == datetime.fromisoformat(checkpoint.issued_at)
    raw_key = base64.b64decode(data["public_key"])
    assert raw_key == projector.checkpointer.key.public_key
    assert data["key_id"] == hashlib.sha256(raw_key).hexdigest()[:16]
    assert signature_verifies(data)
    assert not signature_verifies({**data, "tree_size": size + 1})
    assert not signature_verifies({**data, "tenant": tenant + "x"})

    # the stream keeps the witness copy, and the store records that NATS acknowledged it
    js = nc.jetstream()
    stored = await js.get_last_msg(STREAM, subject)
    assert json.loads(stored.data) == event
    assert stored.headers["Nats-Msg-Id"] == event["id"]
    deadline = time.monotonic() + 5
    while None in await published_at(projector.pool, tenant, size):
        assert time.monotonic() < deadline, "published_at never set"
        await asyncio.sleep(0.05)


async def test_publishing_a_checkpoint_again_is_deduplicated(
    projector: Projector, ledger: Ledger, nc: Any
) -> None:
    tenant = await asyncio.to_thread(record, ledger)
    subject = f"grondslag.{tenant}.audit.checkpoint"
    js = nc.jetstream()
    checkpointer = projector.checkpointer
    assert projector.pool is not None and checkpointer is not None
    size = await logged(projector.pool, tenant)
    deadline = time.monotonic() + 5
    while checkpointer.js is None:  # its first round connected to NATS
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)

    signed = [c for c in await checkpointer.sign_due() if c.tenant == tenant]
    assert [c.tree_size for c in signed] == [size]
    assert await checkpointer.publish_pending() >= 1
    assert await messages_on(js, subject) == 1
    (first,) = await published_at(projector.pool, tenant, size)
    assert first is not None
    first_message = await js.get_last_msg(STREAM, subject)

    # NATS acknowledged, but the store lost that (a crash between ack and update): again
    await projector.pool.execute(
        "UPDATE grondslag_audit_checkpoints SET published_at = NULL WHERE tenant = $1",
        tenant,
    )
    assert await checkpointer.publish_pending() >= 1
    assert await messages_on(js, subject) == 1
    again = await js.get_last_msg(STREAM, subject)
    assert again.seq == first_message.seq
    (second,) = await published_at(projector.pool, tenant, size)
    assert second is not None
    # and the same message id from anyone else is a duplicate too
    ack = await js.publish(
        subject, first_message.data, headers={"Nats-Msg-Id": first_message.headers["Nats-Msg-Id"]}
    )
    assert ack.duplicate is True
    assert await messages_on(js, subject) == 1
    # a new checkpoint of the same tenant is a new message
    await asyncio.sleep(1.05 - datetime.now(UTC).microsecond / 1e6)  # a new second
    newer = await audit_store.sign_now(projector.pool, checkpointer.key, tenant, datetime.now(UTC))
    assert newer.issued_at != signed[0].issued_at
    deadline = time.monotonic() + 5  # the NOTIFY wakes the projector's checkpointer
    while await messages_on(js, subject) < 2:
        assert time.monotonic() < deadline, "the newer checkpoint was not published"
        await asyncio.sleep(0.05)
    latest = json.loads((await js.get_last_msg(STREAM, subject)).data)
    assert latest["data"]["issued_at"] == newer.issued_at
    assert latest["id"] != json.loads(first_message.data)["id"]
