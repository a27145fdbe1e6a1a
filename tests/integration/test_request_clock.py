"""The request clock and the relay on real PostgreSQL and NATS (R23): an open request's
due date, near and passed, is recorded once each (``DueSoonNoticed``, ``OverdueNoticed``)
and published once each (``request.due_soon``, ``request.overdue``), however often and
however many clocks tick; ``request.received`` carries references only. The request index
says what each request's fold says, also when rebuilt from the log.

The module runs on a database of its own (see test_projector.py for why).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from grondslag.ledger.application import Ledger
from grondslag.ledger.bootstrap import build_ledger
from grondslag.ledger.domain.errors import RuleViolated
from grondslag.ledger.domain.request_values import Answer, IdentityCheck, RequestIntake
from grondslag.ledger.domain.values import PersonalData
from grondslag.ledger.reads.pool import create_read_pool
from grondslag.ledger.reads.requests import REQUESTS_TABLE
from grondslag.ledger.settings import Settings
from grondslag.projector import request_index
from grondslag.projector.relay import Relay
from grondslag.projector.request_clock import RequestClock

from projector_support import consume, follower_at_head, new_tenant

LEAD = timedelta(days=20)
COLUMNS = "tenant, request_id, status, due_at, answered_at, late, due_soon_noticed_for, " + (
    "overdue_noticed, stream_version"
)


def receive(ledger: Ledger, tenant: str, ref: str, days_ago: float, **fields: Any) -> str:
    intake = RequestIntake(
        kind=fields.pop("kind", "access"),
        received_at=datetime.now(UTC) - timedelta(days=days_ago),
        channel="email",
        identity=IdentityCheck(method="known_contact_details", verified_by="staff:test"),
        **fields,
    )
    return ledger.receive_request(tenant, ref, intake).request_id


def practice(ledger: Ledger, refs: list[str]) -> str:
    tenant = new_tenant(ledger)
    for ref in refs:
        ledger.put_subject(tenant, ref, PersonalData(email=f"{ref}@example.nl"))
    return tenant


async def test_due_soon_and_overdue_are_recorded_and_published_once_however_many_clocks_tick(
    ledger: Ledger, pool: asyncpg.Pool, own_database_url: str, js: Any
) -> None:
    await request_index.create_tables(pool)
    tenant = practice(ledger, ["client-1", "client-2", "client-3"])
    index = await follower_at_head(pool, own_database_url, request_index.project)
    relay = await follower_at_head(pool, own_database_url, Relay(js).publish)
    overdue = receive(ledger, tenant, "client-1", days_ago=45)  # due two weeks ago
    soon = receive(ledger, tenant, "client-2", days_ago=15)  # due in two weeks or so
    later = receive(ledger, tenant, "client-3", days_ago=0)  # due in a month
    await index.catch_up()

    other_ledger = build_ledger(Settings(database_url=own_database_url), 2)
    other_pool = await create_read_pool(own_database_url, min_size=1, max_size=2)
    try:
        clocks = [RequestClock(pool, ledger, LEAD), RequestClock(other_pool, other_ledger, LEAD)]
        recorded = []
        for _ in range(4):  # two clocks racing, ticking again and again
            for events in await asyncio.gather(*(clock.tick() for clock in clocks * 2)):
                recorded += events
            await index.catch_up()
    finally:
        await other_pool.close()
        other_ledger.close()
    assert len(recorded) == len(set(recorded)) == 2

    history = {rid: ledger.subject_request(tenant, rid).history for rid in (overdue, soon, later)}
    assert [h.type for h in history[overdue]] == ["OverdueNoticed"]  # too late to warn
    assert [h.type for h in history[soon]] == ["DueSoonNoticed"]
    assert history[later] == []

    await relay.catch_up()
    await relay.catch_up()  # once more: nothing is published twice
    messages = await consume(js, tenant, relayed_only=True)
    by_type = Counter(m.subject.removeprefix(f"grondslag.{tenant}.") for m in messages)
    assert by_type == {"request.received": 3, "request.overdue": 1, "request.due_soon": 1}
    ids = Counter(m.headers["Nats-Msg-Id"] for m in messages)
    assert set(ids.values()) == {1}
    notices = {m.subject.rsplit(".", 1)[-1]: json.loads(m.data) for m in messages}
    assert notices["overdue"]["data"]["request_id"] == overdue
    assert notices["overdue"]["id"] == history[overdue][0].event_id
    assert notices["due_soon"]["data"]["request_id"] == soon


async def test_request_received_is_published_with_references_only(
    ledger: Ledger, pool: asyncpg.Pool, own_database_url: str, js: Any
) -> None:
    tenant = practice(ledger, ["client-9"])
    relay = await follower_at_head(pool, own_database_url, Relay(js).publish)
    rid = receive(ledger, tenant, "client-9", days_ago=1, kind="erasure", note="per brief")
    await relay.catch_up()
    (message,) = await consume(js, tenant, until=1, relayed_only=True)
    body = json.loads(message.data)
    request = ledger.subject_request(tenant, rid)
    assert body["type"] == "nl.grondslag.request.received.v1"
    assert (
        body["id"] == message.headers["Nats-Msg-Id"] == str(request_event_id(ledger, tenant, rid))
    )
    assert body["subject"] == f"client-9/requests/{rid}"
    data = body["data"]
    assert (data["subject_ref"], data["request_id"], data["kind"]) == ("client-9", rid, "erasure")
    assert data["purposes"] == ["photo"]
    assert data["due_at"] == request.due_at.isoformat().replace("+00:00", "Z")
    assert data["status"] == "open" and data["late"] is False
    text = message.data.decode()
    for personal in ("client-9@example.nl", "staff:test", "per brief", "known_contact"):
        assert personal not in text


def request_event_id(ledger: Ledger, tenant: str, rid: str) -> Any:
    from grondslag.ledger.domain.ids import event_id

    return event_id(ledger.subject_request(tenant, rid).id, 1)


async def test_the_request_index_says_what_the_fold_says_and_a_rebuild_gives_the_same(
    ledger: Ledger, pool: asyncpg.Pool, own_database_url: str
) -> None:
    await request_index.create_tables(pool)
    tenant = practice(ledger, ["client-1", "client-2"])
    index = await follower_at_head(pool, own_database_url, request_index.project)
    late = receive(ledger, tenant, "client-1", days_ago=40)
    ledger.answer_request(
        tenant,
        late,
        Answer(outcome="refused", reasons="manifestly unfounded", answered_at=datetime.now(UTC)),
    )
    receive(ledger, tenant, "client-2", days_ago=3)
    await index.catch_up()
    query = f"SELECT {COLUMNS} FROM {REQUESTS_TABLE} WHERE tenant = $1 ORDER BY request_id"
    projected = [tuple(row) for row in await pool.fetch(query, tenant)]
    now = datetime.now(UTC)
    folded = sorted(
        request_index.row_of(ledger.subject_request(tenant, row[1]), now) for row in projected
    )
    assert [(r[0], r[1], r[4], r[6], r[7], r[8], r[9], r[10], r[11]) for r in folded] == projected
    assert [row[2] for row in projected].count("answered") == 1
    assert any(row[5] for row in projected)  # the late answer

    await pool.execute(f"UPDATE {REQUESTS_TABLE} SET status = 'forged' WHERE tenant = $1", tenant)
    assert await request_index.rebuild(pool) >= 2
    assert [tuple(row) for row in await pool.fetch(query, tenant)] == projected


async def test_two_answers_racing_record_one_and_refuse_the_other_r23(
    ledger: Ledger, own_database_url: str
) -> None:
    tenant = practice(ledger, ["client-5"])
    other = build_ledger(Settings(database_url=own_database_url), 2)
    outcomes: list[str] = []

    def answer(app: Ledger, outcome: str) -> None:
        try:
            app.answer_request(
                tenant, rid, Answer(outcome=outcome, reasons="r", answered_at=datetime.now(UTC))
            )
            outcomes.append(f"recorded {outcome}")
        except RuleViolated as refused:
            outcomes.append(refused.rule or "")

    try:
        for _ in range(5):  # the race is won by either; the loser is always refused
            outcomes.clear()
            rid = receive(ledger, tenant, "client-5", days_ago=2)
            await asyncio.gather(
                asyncio.to_thread(answer, ledger, "fulfilled"),
                asyncio.to_thread(answer, other, "refused"),
            )
            assert sorted(o.startswith("recorded") for o in outcomes) == [False, True], outcomes
            assert "R23" in outcomes
            history = ledger.subject_request(tenant, rid).history
            assert [h.type for h in history] == ["Answered"]
    finally:
        other.close()
