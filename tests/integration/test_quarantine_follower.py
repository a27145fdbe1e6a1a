"""The follower's quarantine on real PostgreSQL: a handler that crashes on one stream holds
that stream alone (the others' work in the same batch commits, the position moves on), its
later events wait and are handled in log order on release; a subject change does not
stumble over a quarantined standing of the subject; the audit log keys an event of a
stream nobody indexed by that stream, and never lets a leaf overtake a logged one.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import asyncpg

from grondslag.ledger.domain.ids import standing_id, subject_id
from grondslag.ledger.domain.values import PersonalData
from grondslag.ledger.persistence.postgres import EVENTS_TABLE, STREAMS_TABLE
from grondslag.ledger.reads.checks import CURRENT_STANDING_TABLE
from grondslag.ledger.reads.operations import quarantined
from grondslag.projector import audit_log, current_standing
from grondslag.projector.follower import LogFollower
from grondslag.projector.keys import by_tenant
from grondslag.projector.release import release_key

from projector_support import (
    HEAD,
    PURPOSE,
    REGISTERED,
    Store,
    give,
    new_tenant,
    set_state,
    terms,
    withdraw,
)


async def following(pool: asyncpg.Pool, url: str, handler: Any, **options: Any) -> LogFollower:
    follower = LogFollower(pool, url, f"test-{secrets.token_hex(4)}", handler, **options)
    await follower.setup()
    return follower


async def statuses(pool: asyncpg.Pool, tenant: str) -> dict[str, tuple[str, str | None]]:
    rows = await pool.fetch(
        f"SELECT subject_ref, status, reason FROM {CURRENT_STANDING_TABLE} WHERE tenant = $1",
        tenant,
    )
    return {row["subject_ref"]: (row["status"], row["reason"]) for row in rows}


async def test_a_handler_crash_on_one_stream_holds_that_stream_alone_until_released(
    store: Store, store_pool: asyncpg.Pool
) -> None:
    ledger, tenant = store.ledger, new_tenant(store.ledger)
    refs = [f"client-{i}" for i in range(4)]
    for ref in refs:
        ledger.put_subject(tenant, ref, PersonalData())
    poisoned = {standing_id(tenant, "client-1", PURPOSE)}
    calls: list[list[int]] = []

    async def crashing(conn: asyncpg.Connection, events: list[tuple[int, Any]]) -> None:
        calls.append([notification_id for notification_id, _ in events])
        if any(event.originator_id in poisoned for _, event in events):
            raise KeyError("a handler bug that this stream's events bring out")
        await current_standing.project(conn, events)

    follower = await following(store_pool, store.url, crashing)
    assert await follower.catch_up() > 0  # the tenant's opening events
    for ref in refs:
        give(ledger, tenant, ref)
    key = str(standing_id(tenant, "client-1", PURPOSE))
    opened, given = [
        row[0]
        for row in await store_pool.fetch(
            f"SELECT notification_id FROM {EVENTS_TABLE} WHERE originator_id = $1::uuid "
            "ORDER BY notification_id",
            key,
        )
    ]

    calls.clear()
    assert await follower.catch_up() == 2 * len(refs)  # one batch: handled or held
    assert await follower.position() == await store_pool.fetchval(HEAD)
    assert len(calls) == 1 + len(refs), "the batch once, then each stream on its own"
    assert await statuses(store_pool, tenant) == {
        ref: ("lawful", None) for ref in refs if ref != "client-1"
    }, "the other streams' work in the batch is committed"
    (held,) = [q for q in await quarantined(store_pool) if q.projection == follower.name]
    assert (held.scope, held.key, held.tenant, held.first_held) == ("stream", key, tenant, opened)
    assert held.error.startswith("KeyError: ")

    # later events of the held stream wait; every other stream goes on
    withdrawn = [
        await withdrawn_at(store_pool, ledger, tenant, ref) for ref in ("client-1", "client-2")
    ]
    calls.clear()
    assert await follower.catch_up() == 2
    assert [nid for call in calls for nid in call] == [withdrawn[1]]
    assert (await statuses(store_pool, tenant))["client-2"] == ("lapsed", "withdrawn")
    assert "client-1" not in await statuses(store_pool, tenant)

    # a retry that fails again keeps the key, with the new error
    assert (await release_key(follower, "stream", key) or "").startswith("KeyError: ")
    (held,) = [q for q in await quarantined(store_pool) if q.projection == follower.name]
    assert (held.attempts, held.first_held) == (2, opened)

    # the bug fixed: the release handles what was held, in log order, and the stream goes on
    poisoned.clear()
    calls.clear()
    assert await release_key(follower, "stream", key) is None
    assert calls == [[opened, given, withdrawn[0]]]
    assert [q for q in await quarantined(store_pool) if q.projection == follower.name] == []
    assert (await statuses(store_pool, tenant))["client-1"] == ("lapsed", "withdrawn")
    give(ledger, tenant, "client-1")
    assert await follower.catch_up() == 1
    assert (await statuses(store_pool, tenant))["client-1"] == ("lawful", None)


async def withdrawn_at(pool: asyncpg.Pool, ledger: Any, tenant: str, ref: str) -> int:
    """Withdraw the consent; answers the withdrawal's notification id."""
    withdraw(ledger, tenant, ref)
    return await pool.fetchval(
        f"SELECT max(notification_id) FROM {EVENTS_TABLE} WHERE originator_id = $1",
        standing_id(tenant, ref, PURPOSE),
    )


async def test_a_subject_change_skips_a_quarantined_standing_of_the_subject(
    store: Store, store_pool: asyncpg.Pool
) -> None:
    ledger, tenant = store.ledger, new_tenant(store.ledger)
    ledger.register_purpose(tenant, "newsletter", terms("Nieuwsbrief"), REGISTERED)
    ledger.put_subject(tenant, "client-1", PersonalData())
    give(ledger, tenant, "client-1")
    give(ledger, tenant, "client-1", "newsletter")
    photo = standing_id(tenant, "client-1", PURPOSE)
    await set_state(store.url, photo, 2, b'{"consent": ')
    follower = LogFollower(store_pool, store.url, current_standing.NAME, current_standing.project)
    await follower.setup()
    await follower.catch_up()
    assert [(q.projection, q.key) for q in await quarantined(store_pool)] == [
        (current_standing.NAME, str(photo))
    ]

    # a change of the subject reaches all its standings, but the held one
    ledger.put_subject(tenant, "client-1", PersonalData(email="j.jansen@example.nl"))
    assert await follower.catch_up() == 1
    assert [(q.projection, q.key) for q in await quarantined(store_pool)] == [
        (current_standing.NAME, str(photo))
    ], "the subject's stream was quarantined for its quarantined standing"
    assert str(subject_id(tenant, "client-1")) not in {q.key for q in await quarantined(store_pool)}


async def test_the_audit_log_keys_an_unindexed_stream_by_itself_and_keeps_log_order(
    store: Store, store_pool: asyncpg.Pool
) -> None:
    from grondslag.ledger.audit import store as audit_store

    await audit_store.create_tables(store_pool)
    follower = LogFollower(
        store_pool, store.url, audit_log.NAME, audit_log.append, raw=True, keys=by_tenant
    )
    await follower.setup()
    ledger, first, second = store.ledger, new_tenant(store.ledger), new_tenant(store.ledger)
    stray = uuid.uuid4()  # an event of a stream the stream index does not know
    await store_pool.execute(
        f"INSERT INTO {EVENTS_TABLE} (originator_id, originator_version, topic, state) "
        "VALUES ($1, 1, 'ledger.domain.subject:Subject.PersonalDataRecorded', $2)",
        stray,
        b'{"timestamp": "2026-01-01T00:00:00+00:00"}',
    )
    ledger.put_subject(second, "client-1", PersonalData())
    await follower.catch_up()

    (held,) = await quarantined(store_pool)
    assert (held.scope, held.key, held.tenant) == ("stream", str(stray), None)
    assert "StreamWithoutTenant" in held.error
    sizes = dict(await store_pool.fetch("SELECT tenant, size FROM grondslag_audit_trees"))
    assert (sizes[first], sizes[second]) == (1, 2), "no tenant waits for the stray stream"

    # indexed after the fact under a tenant whose tree went on: it cannot join it in log
    # order, so it stays quarantined rather than break the tree
    await store_pool.execute(
        f"INSERT INTO {STREAMS_TABLE} (originator_id, tenant, kind, subject_ref) "
        "VALUES ($1, $2, 'subject', 'client-9')",
        stray,
        second,
    )
    error = await release_key(follower, "stream", str(stray))
    assert error is not None and error.startswith("OutOfLogOrder: "), error
    assert [q.key for q in await quarantined(store_pool)] == [str(stray)]
    assert (
        dict(await store_pool.fetch("SELECT tenant, size FROM grondslag_audit_trees"))[second] == 2
    )
