"""A poison event is quarantined, never a stop for others.

Tenant A's consent is made undecodable in ``grondslag_events`` (as after a disk fault or a
bad upgrade) before the projector ever saw it; tenant B's consent expires two seconds later.
B's lapse must still be recorded by the deadline clock and published on NATS, A's stream
must be listed as quarantined (metric, readiness, ``grondslag quarantine list``), and once
the bytes are repaired ``grondslag quarantine retry`` must project what was held: the read
model row, the audit log (``grondslag audit check`` passes), the NATS message.

Each test runs on a database of its own; the commands run as subprocesses, as an operator
runs them, against a running projector.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

from grondslag.ledger.api.app import create_app
from grondslag.ledger.domain.ids import event_id, standing_id
from grondslag.ledger.domain.values import PersonalData
from grondslag.ledger.reads.checks import CURRENT_STANDING_TABLE
from grondslag.projector.runner import Projector

from projector_support import (
    HEAD,
    LAPSED,
    PURPOSE,
    Store,
    command,
    consume,
    events_of,
    give,
    new_tenant,
    quarantined,
    set_state,
    signal_id,
    wait_for,
)

METRICS_KEY = "quarantine-test-metrics-key"  # the bootstrap tenant's: sees every series
METRICS = {"Authorization": f"Bearer {METRICS_KEY}"}


async def row_of(pool: asyncpg.Pool, tenant: str, ref: str) -> tuple[Any, ...] | None:
    row = await pool.fetchrow(
        f"SELECT status, reason FROM {CURRENT_STANDING_TABLE} "
        "WHERE tenant = $1 AND subject_ref = $2",
        tenant,
        ref,
    )
    return tuple(row) if row else None


async def tree_size(pool: asyncpg.Pool, tenant: str) -> int:
    size = await pool.fetchval("SELECT size FROM grondslag_audit_trees WHERE tenant = $1", tenant)
    return size or 0


async def test_an_undecodable_event_of_one_tenant_stops_nothing_for_another(
    store: Store, nats_url: str, js: Any
) -> None:
    ledger, url = store.ledger, store.url
    a, b = new_tenant(ledger), new_tenant(ledger)
    ledger.put_subject(a, "client-1", PersonalData())
    a_consent = give(ledger, a, "client-1")
    a_standing = standing_id(a, "client-1", PURPOSE)
    original = await set_state(url, a_standing, 2, b'{"consent": {"purpose": ')  # not JSON
    ledger.put_subject(b, "client-1", PersonalData())
    expires_at = datetime.now(UTC) + timedelta(seconds=2)
    b_consent = give(ledger, b, "client-1", expires_at=expires_at)
    b_standing = standing_id(b, "client-1", PURPOSE)

    settings = store.settings(nats_url)
    projector = Projector(settings)
    await projector.start()
    try:
        assert projector.pool is not None
        pool = projector.pool

        async def lapsed() -> bool:
            return bool(await events_of(pool, b_standing, LAPSED))

        # B's expiry is noticed within a tick or two, and published
        await wait_for(lapsed, 2 + 2.5, "B's BasisLapsed in the log")
        (lapse,) = await events_of(pool, b_standing, LAPSED)
        # the relay's three: the checkpointer's witness copy comes first or not, as its
        # first tick finds B's tree or not (it did under parallel workers)
        messages = await consume(js, b, until=3, relayed_only=True)
        assert [m.subject for m in messages] == [
            f"grondslag.{b}.consent.given",
            f"grondslag.{b}.basis.lawful",
            f"grondslag.{b}.basis.lapsed",
        ]
        assert json.loads(messages[0].data)["id"] == str(b_consent)
        lapsed_id = str(event_id(lapse.originator_id, lapse.originator_version))
        assert json.loads(messages[2].data)["id"] == lapsed_id

        async def b_row_lapsed() -> bool:
            return await row_of(pool, b, "client-1") == ("lapsed", "expired")

        await wait_for(b_row_lapsed, 3, "B's read model row to show the lapse")
        assert await row_of(pool, a, "client-1") is None  # held, not guessed

        # A is set aside, for each projection that could not handle it
        held = await quarantined(pool)
        assert {(q["projection"], q["key"], q["tenant"]) for q in held} == {
            ("current_standing", str(a_standing), a),
            ("nats_relay", str(a_standing), a),
            ("audit_log", a, a),
        }
        errors = {q["projection"]: q["error"] for q in held}
        assert errors["current_standing"].startswith("UndecodableEvent: notification "), errors
        assert errors["nats_relay"] == errors["current_standing"]
        assert errors["audit_log"].startswith("JSONDecodeError: "), errors

        # A's other streams go on where only the stream is held; the audit log holds A whole
        ledger.put_subject(a, "client-2", PersonalData())
        a_later = give(ledger, a, "client-2")

        async def a_later_projected() -> bool:
            return await row_of(pool, a, "client-2") == ("lawful", None)

        await wait_for(a_later_projected, 3, "A's other standing in the read model")
        later_message, _ = await consume(js, a, until=2)  # its report and basis.lawful
        assert json.loads(later_message.data)["id"] == str(a_later)
        assert await tree_size(pool, a) == 0
        assert len(await quarantined(pool)) == 3

        async def caught_up() -> bool:
            head = await pool.fetchval(HEAD)
            positions = await pool.fetch("SELECT projection, position FROM grondslag_tracking")
            projections = {row[0] for row in positions}
            return len(projections) == 4 and all(row[1] == head for row in positions)

        await wait_for(caught_up, 5, "every projection at the log's head")
        # any unhandled event: unready; the bootstrap key may scrape /metrics
        strict = replace(settings, ready_max_lag_seconds=0.0, bootstrap_key=METRICS_KEY)
        async with AsyncTestClient(create_app(strict)) as api:
            metrics = (await api.get("/metrics", headers=METRICS)).text
            for projection in ("current_standing", "nats_relay", "audit_log"):
                line = f'grondslag_quarantined_streams{{projection="{projection}"}} 1.0'
                assert re.search(f"^{re.escape(line)}$", metrics, re.M), metrics
            ready = await api.get("/health/ready")
            assert ready.status_code == 200, ready.text  # the held events are not lag
            assert ready.json()["status"] == "degraded"
            checks = ready.json()["checks"]
            named = [name for name in checks if name.startswith("quarantine:")]
            assert sorted(named) == [
                "quarantine:audit_log",
                "quarantine:current_standing",
                "quarantine:nats_relay",
            ], checks
            assert checks["quarantine:current_standing"].startswith("1 held")
            # public: no tenant, no stream, no error (``grondslag quarantine list`` names them)
            for secret in (a, str(a_standing), errors["current_standing"]):
                assert secret not in ready.text, ready.text
            assert all(v == "ok" for k, v in checks.items() if k not in named), checks

        listing = await command(url, nats_url, "quarantine", "list")
        assert listing.returncode == 0, listing.stderr
        for projection, key in (
            ("current_standing", str(a_standing)),
            ("nats_relay", str(a_standing)),
            ("audit_log", a),
        ):
            line = next(x for x in listing.stdout.splitlines() if projection in x and key in x)
            assert a in line and errors[projection] in line, line

        # a retry before the repair keeps the key, with the error
        failed = await command(url, nats_url, "quarantine", "retry", str(a_standing))
        assert failed.returncode == 1, failed.stdout + failed.stderr
        assert len(await quarantined(pool)) == 3

        # repaired: the retry releases A and projects what was held, in order
        await set_state(url, a_standing, 2, original)
        retried = await command(url, nats_url, "quarantine", "retry")
        assert retried.returncode == 0, retried.stdout + retried.stderr
        assert await quarantined(pool) == []
        assert await row_of(pool, a, "client-1") == ("lawful", None)
        a_messages = await consume(js, a, until=4)
        assert [(m.subject, json.loads(m.data)["id"]) for m in a_messages] == [
            (f"grondslag.{a}.consent.given", str(a_later)),
            (f"grondslag.{a}.basis.lawful", signal_id(a_later, "basis.lawful")),
            (f"grondslag.{a}.consent.given", str(a_consent)),  # held, then sent on release
            (f"grondslag.{a}.basis.lawful", signal_id(a_consent, "basis.lawful")),
        ]
        assert await tree_size(pool, a) == 7
        check = await command(url, nats_url, "audit", "check")
        assert check.returncode == 0, check.stdout + check.stderr
        logged = rf"^{a}: ok — 7 events, .*, 0 events not yet in the audit log$"
        assert re.search(logged, check.stdout, re.M), check.stdout

        await wait_for(caught_up, 5, "every projection at the log's head")
        async with AsyncTestClient(create_app(strict)) as api:
            metrics = (await api.get("/metrics", headers=METRICS)).text
            assert 'grondslag_quarantined_streams{projection="current_standing"} 0.0' in metrics
            ready = await api.get("/health/ready")
            assert ready.status_code == 200, ready.text
            assert ready.json()["status"] == "ok"
            assert not [k for k in ready.json()["checks"] if k.startswith("quarantine:")]
        assert (await command(url, nats_url, "quarantine", "list")).stdout.strip() == (
            "nothing is quarantined"
        )
    finally:
        await projector.stop()
