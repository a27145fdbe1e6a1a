"""The NATS relay on real PostgreSQL and NATS JetStream: CloudEvents on
``grondslag.<tenant>.<name>`` carrying references only, delivered exactly once through a
NATS outage, and re-published batches deduplicated by ``Nats-Msg-Id``.

The consumer side is the pattern other systems use: a durable JetStream pull consumer
filtered on ``grondslag.<tenant>.>``, acknowledging each message after handling it.
The module runs on a database of its own (see test_projector.py for why).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import nats
import pytest
from nats.js.api import PubAck

import grondslag.embedded
from grondslag.embedded import EmbeddedNats
from grondslag.ledger.application import Ledger
from grondslag.ledger.domain.ids import standing_id
from grondslag.ledger.domain.values import Evidence, PersonalData
from grondslag.projector import current_standing, relay
from grondslag.projector.deadline_clock import DeadlineClock
from grondslag.projector.relay import Relay, run_relay

from projector_support import (
    HEAD,
    consume,
    follower_at_head,
    give,
    new_tenant,
    signal_id,
    sleep_until,
    stored_count,
    terms,
    wait_for,
    withdraw,
)

NEWSLETTER = "newsletter"
REGISTER = {NEWSLETTER: terms("Nieuwsbrief")}


def subscribe(ledger: Ledger, tenant: str, ref: str, **fields: Any) -> UUID:
    """A double opt-in to the newsletter, as the sign-up page records it."""
    opt_in = Evidence(document_ref="opt-in-mail")
    return give(
        ledger,
        tenant,
        ref,
        NEWSLETTER,
        method="double_opt_in",
        explicit=False,
        evidence=opt_in,
        **fields,
    )


def unsubscribe(ledger: Ledger, tenant: str, ref: str) -> UUID:
    """The subject's one-click unsubscribe."""
    return withdraw(
        ledger, tenant, ref, NEWSLETTER, method="unsubscribe_link", recorded_by="subject"
    )


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


# -- (a) the CloudEvents on the subjects ----------------------------------------------------------
async def test_consent_given_and_withdrawn_arrive_as_cloudevents_without_personal_data(
    ledger: Ledger, pool: asyncpg.Pool, own_database_url: str, js: Any
) -> None:
    tenant, ref = new_tenant(ledger, REGISTER), f"client-{secrets.token_hex(3)}"
    email, birth_date = f"j.jansen.{secrets.token_hex(3)}@example.nl", date(1979, 4, 23)
    ledger.put_subject(tenant, ref, PersonalData(email=email, birth_date=birth_date))
    follower = await follower_at_head(pool, own_database_url, Relay(js).publish)
    given = subscribe(ledger, tenant, ref)
    withdrawn = unsubscribe(ledger, tenant, ref)

    assert await follower.catch_up() == 3  # Opened (not published), given, withdrawn
    assert await follower.position() == await pool.fetchval(HEAD)

    messages = await consume(js, tenant, until=4)
    # each event's own report, and beside it the start or stop signal it caused
    assert [m.subject for m in messages] == [
        f"grondslag.{tenant}.consent.given",
        f"grondslag.{tenant}.basis.lawful",
        f"grondslag.{tenant}.consent.withdrawn",
        f"grondslag.{tenant}.basis.lapsed",
    ]
    facts = {
        fact.event_id: fact
        for fact in ledger.repository.get(standing_id(tenant, ref, NEWSLETTER)).facts
    }
    for msg, event, name, message_id in (
        (messages[0], given, "consent.given", str(given)),
        (messages[1], given, "basis.lawful", signal_id(given, "basis.lawful")),
        (messages[2], withdrawn, "consent.withdrawn", str(withdrawn)),
        (messages[3], withdrawn, "basis.lapsed", signal_id(withdrawn, "basis.lapsed")),
    ):
        body = json.loads(msg.data)
        assert body["specversion"] == "1.0"
        assert body["id"] == msg.headers["Nats-Msg-Id"] == message_id
        assert body["type"] == f"nl.grondslag.{name}.v1"
        assert body["source"] == f"urn:grondslag:{tenant}"
        assert body["subject"] == f"{ref}/{NEWSLETTER}"
        assert body["datacontenttype"] == "application/json"
        assert instant(body["time"]) == facts[event].recorded_at
        data = body["data"]
        assert (data["tenant"], data["subject_ref"], data["purpose"]) == (tenant, ref, NEWSLETTER)
        assert data["event_id"] == str(event)
        assert instant(data["effective_at"]) == facts[event].effective_at
        # references only: neither the e-mail address nor the birth date, in any form
        text = msg.data.decode()
        for personal in (
            email,
            email.split("@")[0],
            birth_date.isoformat(),
            birth_date.strftime("%d-%m-%Y"),
            birth_date.strftime("%Y%m%d"),
        ):
            assert personal not in text
    assert json.loads(messages[0].data)["data"]["status"] == "lawful"
    assert json.loads(messages[0].data)["data"]["given_by"] == {"party": "subject"}
    assert json.loads(messages[1].data)["data"]["lawful"] is True
    for stop in (messages[2], messages[3]):
        withdrawal = json.loads(stop.data)["data"]
        assert (withdrawal["status"], withdrawal["reason"]) == ("lapsed", "withdrawn")
        assert withdrawal["lawful"] is False
    # the stream holds these four for the tenant, nothing more
    assert await stored_count(js, tenant) == 4


# -- (b) a NATS outage ----------------------------------------------------------------------------
async def test_lapses_recorded_during_a_nats_outage_arrive_exactly_once_after_it(
    ledger: Ledger,
    pool: asyncpg.Pool,
    own_database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant = new_tenant(ledger, REGISTER)
    refs = [f"client-{i}" for i in range(6)]
    withdrawing, expiring = refs[:3], refs[3:]
    for ref in refs:
        ledger.put_subject(tenant, ref, PersonalData())
    server = await asyncio.to_thread(EmbeddedNats(tmp_path).start)
    url, port = server.url, server.port
    read_model = await follower_at_head(pool, own_database_url, current_standing.project)

    async def relay_position() -> int:
        return await pool.fetchval(
            "SELECT coalesce((SELECT position FROM grondslag_tracking WHERE projection = $1), 0)",
            relay.NAME,
        )

    async def relayed_up_to(mark: int) -> bool:
        return await relay_position() >= mark

    attempts: list[list[int]] = []  # the notification ids of every batch the relay tried

    class TryingRelay(Relay):
        async def publish(self, conn: asyncpg.Connection, events: list[tuple[int, Any]]) -> None:
            attempts.append([notification_id for notification_id, _ in events])
            await super().publish(conn, events)

    monkeypatch.setattr(relay, "Relay", TryingRelay)
    # unacknowledged batches time out after 1 s instead of 10 s: within this outage the relay
    # tries (and buffers) the same messages more than once, as it would in a longer one
    monkeypatch.setattr(relay, "ACK_TIMEOUT_SECONDS", 1.0)
    task = asyncio.create_task(run_relay(pool, own_database_url, url, poll_seconds=0.2))
    try:
        expires_at = datetime.now(UTC) + timedelta(seconds=1.5)
        given = [subscribe(ledger, tenant, ref) for ref in withdrawing]
        given += [subscribe(ledger, tenant, ref, expires_at=expires_at) for ref in expiring]
        expected = [str(e) for e in given] + [signal_id(e, "basis.lawful") for e in given]
        await read_model.catch_up()  # as the running projector does: it knows the expiries
        before_outage = await pool.fetchval(HEAD)
        await wait_for(lambda: relayed_up_to(before_outage), 15, "the relay before the outage")

        await asyncio.to_thread(server.stop)
        position_at_outage = await relay_position()
        outage_starts = before_outage + 1
        for ref in withdrawing:
            withdrawn = await asyncio.to_thread(unsubscribe, ledger, tenant, ref)
            expected += [str(withdrawn), signal_id(withdrawn, "basis.lapsed")]
        await read_model.catch_up()
        await sleep_until(expires_at)
        lapses = await DeadlineClock(pool, ledger).tick()
        assert len(lapses) == len(expiring)
        expected += [str(lapse) for lapse in lapses]

        async def tried_twice() -> bool:
            tried = [batch for batch in attempts if batch[-1] >= outage_starts]
            return len(tried) >= 2

        await wait_for(tried_twice, 10, "the relay to try the outage's batch again")
        assert await relay_position() == position_at_outage < outage_starts

        # NATS back on the same address and store: the relay's connection reconnects by itself
        monkeypatch.setattr(grondslag.embedded, "_free_port", lambda: port)
        await asyncio.to_thread(server.start)
        assert server.url == url
        head = await pool.fetchval(HEAD)
        await wait_for(lambda: relayed_up_to(head), 30, "the relay to deliver after the outage")
    finally:
        task.cancel()
        # (a failure above may leave NATS down: see the test on stopping during an outage)
        with contextlib.suppress(asyncio.CancelledError, nats.errors.Error):
            await asyncio.wait_for(task, 10)

    try:
        nc = await nats.connect(url)
        check = nc.jetstream()
        messages = await consume(check, tenant)
        counts = Counter(msg.headers["Nats-Msg-Id"] for msg in messages)
        assert counts == Counter(dict.fromkeys(expected, 1)), "not exactly once"
        assert await stored_count(check, tenant) == len(expected) == 21
        by_type = Counter(msg.subject.removeprefix(f"grondslag.{tenant}.") for msg in messages)
        assert by_type == {
            "consent.given": 6,
            "basis.lawful": 6,
            "consent.withdrawn": 3,
            "basis.lapsed": 6,  # every stop: three withdrawals and three expiries
        }
        stops = Counter()
        for msg in messages:
            body = json.loads(msg.data)
            assert body["id"] == msg.headers["Nats-Msg-Id"]
            if msg.subject.endswith("basis.lapsed"):
                stops[body["data"]["reason"]] += 1
                if body["data"]["reason"] == "expired":
                    assert instant(body["data"]["effective_at"]) == expires_at
        assert stops == {"withdrawn": 3, "expired": 3}
        await nc.drain()
    finally:
        await asyncio.to_thread(server.stop)


# -- (c) re-publishing a batch ------------------------------------------------------------------
class RecordingJetStream:
    """The relay's JetStream context, keeping every PubAck future it hands out."""

    def __init__(self, js: Any):
        self.js, self.acks = js, []

    async def publish_async(self, *args: Any, **kwargs: Any) -> asyncio.Future[PubAck]:
        future = await self.js.publish_async(*args, **kwargs)
        self.acks.append(future)
        return future


async def test_republishing_a_batch_stores_no_second_copy_inside_the_duplicate_window(
    ledger: Ledger, pool: asyncpg.Pool, own_database_url: str, js: Any
) -> None:
    tenant, ref = new_tenant(ledger, REGISTER), "client-1"
    ledger.put_subject(tenant, ref, PersonalData())
    recording = RecordingJetStream(js)
    follower = await follower_at_head(pool, own_database_url, Relay(recording).publish)
    start = await follower.position()
    given, withdrawn = subscribe(ledger, tenant, ref), unsubscribe(ledger, tenant, ref)
    events = {str(given), signal_id(given, "basis.lawful")}
    events |= {str(withdrawn), signal_id(withdrawn, "basis.lapsed")}

    assert await follower.catch_up() == 3
    head = await follower.position()
    first = [future.result() for future in recording.acks]
    assert len(first) == 4 and not any(ack.duplicate for ack in first)
    assert await stored_count(js, tenant) == 4

    # as after a crash between the PubAcks and the commit: the batch goes out again
    await pool.execute(
        "UPDATE grondslag_tracking SET position = $2 WHERE projection = $1", follower.name, start
    )
    recording.acks.clear()
    assert await follower.catch_up() == 3
    assert await follower.position() == head
    again = [future.result() for future in recording.acks]
    assert len(again) == 4 and all(ack.duplicate for ack in again)
    assert [ack.seq for ack in again] == [ack.seq for ack in first]
    assert await stored_count(js, tenant) == 4
    counts = Counter(msg.headers["Nats-Msg-Id"] for msg in await consume(js, tenant))
    assert counts == dict.fromkeys(events, 1)


# -- stopping during an outage -----------------------------------------------------------------
async def test_relay_cancelled_during_a_nats_outage_stops_cleanly(
    pool: asyncpg.Pool, own_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    connections: list[Any] = []

    async def recording_connect(url: str) -> Any:
        connections.append(await connect(url))
        return connections[-1]

    connect = relay.connect
    monkeypatch.setattr(relay, "connect", recording_connect)
    server = await asyncio.to_thread(EmbeddedNats(tmp_path).start)
    task = asyncio.create_task(run_relay(pool, own_database_url, server.url, poll_seconds=0.2))
    try:

        async def connected() -> bool:
            return bool(connections) and connections[-1].is_connected

        async def reconnecting() -> bool:
            return connections[-1].is_reconnecting

        await wait_for(connected, 10, "the relay to connect")
        await asyncio.to_thread(server.stop)
        await wait_for(reconnecting, 10, "the relay to notice the outage")
        task.cancel()
        outcome = await asyncio.gather(asyncio.wait_for(task, 10), return_exceptions=True)
        assert isinstance(outcome[0], asyncio.CancelledError), f"stopping raised {outcome[0]!r}"
        assert connections[-1].is_closed, "the relay's connection keeps reconnecting"
    finally:
        if not task.done():
            task.cancel()
        for nc in connections:
            if not nc.is_closed:
                await nc.close()
        await asyncio.to_thread(server.stop)
