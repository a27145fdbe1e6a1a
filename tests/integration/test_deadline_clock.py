"""The deadline clock on real PostgreSQL: date-driven lapses (expiry, end of retention) are
recorded in the log as events, promptly and once each, even with two clocks racing.

The module runs on a database of its own (see test_projector.py for why).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from grondslag.ledger.application import Ledger
from grondslag.ledger.bootstrap import build_ledger
from grondslag.ledger.domain.ids import event_id, standing_id
from grondslag.ledger.domain.values import (
    BasisEnd,
    Establishment,
    PersonalData,
    Retention,
)
from grondslag.ledger.reads.checks import CURRENT_STANDING_TABLE
from grondslag.ledger.reads.pool import create_read_pool
from grondslag.ledger.settings import Settings
from grondslag.projector import current_standing
from grondslag.projector.deadline_clock import DeadlineClock
from grondslag.projector.follower import LogFollower
from grondslag.projector.runner import Projector

from projector_support import (
    LAPSED,
    events_of,
    follower_at_head,
    give,
    new_tenant,
    sleep_until,
    terms,
)

RETENTION_EXPIRED = "ledger.domain.standing:Standing.RetentionExpired"
PURPOSES = {
    "photo": terms("Foto"),
    "mediation": terms("Mediation", basis="contract", retention=Retention("P1D")),
    "mediation-file": terms("Mediation", basis="contract", retention=Retention("P1Y")),
}


# -- fixtures: a database of this module's own ----------------------------------------------
@pytest.fixture
async def read_model(pool: asyncpg.Pool, own_database_url: str) -> LogFollower:
    """A current-standing follower of its own, from the log's head now."""
    return await follower_at_head(pool, own_database_url, current_standing.project)


# -- helpers ---------------------------------------------------------------------------------
def tenant_with(ledger: Ledger, refs: list[str]) -> str:
    """A tenant with ``PURPOSES`` and the subjects ``refs``."""
    tenant = new_tenant(ledger, PURPOSES)
    for ref in refs:
        ledger.put_subject(tenant, ref, PersonalData())
    return tenant


# -- (a) an expiry, noticed within 2 s ----------------------------------------------------------
async def test_expiry_is_recorded_once_as_basis_lapsed_within_two_seconds(
    ledger: Ledger, pool: asyncpg.Pool, own_database_url: str, tmp_path: Path
) -> None:
    tenant = tenant_with(ledger, ["client-1"])
    projector = Projector(
        Settings(
            database_url=own_database_url,
            nats_url=None,
            projection_poll_seconds=0.2,
            audit_key_file=tmp_path / "audit-signing-key.pem",
        )
    )
    await projector.start()
    try:
        expires_at = datetime.now(UTC) + timedelta(seconds=1.5)
        await asyncio.to_thread(give, ledger, tenant, "client-1", expires_at=expires_at)
        standing = standing_id(tenant, "client-1", "photo")
        deadline = expires_at + timedelta(seconds=2)
        while not (lapses := await events_of(pool, standing, LAPSED)):
            assert datetime.now(UTC) < deadline, "no BasisLapsed within 2 s after the expiry"
            await asyncio.sleep(0.05)
        noticed = datetime.now(UTC)
        await asyncio.sleep(0.7)  # a tick or more later: still once
        lapses = await events_of(pool, standing, LAPSED)
    finally:
        await projector.stop()

    assert len(lapses) == 1
    (lapse,) = lapses
    assert lapse.lapse.reason == "expired"
    assert lapse.lapse.effective_at == expires_at
    assert expires_at <= lapse.timestamp <= noticed <= deadline
    row = await pool.fetchrow(
        f"SELECT status, reason, changes_at FROM {CURRENT_STANDING_TABLE} "
        "WHERE tenant = $1 AND subject_ref = $2",
        tenant,
        "client-1",
    )
    assert tuple(row) == ("lapsed", "expired", None)


# -- (b) two clocks racing -------------------------------------------------------------------------
async def test_two_clocks_ticking_concurrently_record_one_lapse_per_deadline(
    ledger: Ledger,
    pool: asyncpg.Pool,
    own_database_url: str,
    read_model: LogFollower,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    refs = [f"client-{i}" for i in range(6)]
    tenant = tenant_with(ledger, refs)
    expires_at = datetime.now(UTC) + timedelta(seconds=1)
    for ref in refs:
        give(ledger, tenant, ref, expires_at=expires_at)
    await read_model.catch_up()

    other_ledger = build_ledger(Settings(database_url=own_database_url), 4)
    other_pool = await create_read_pool(own_database_url, min_size=1, max_size=4)
    attempts: Counter[str] = Counter()

    def counting(name: str, app: Ledger) -> Any:
        notice = app.notice_lapse

        def notice_lapse(*args: Any) -> Any:
            attempts[name] += 1
            return notice(*args)

        return notice_lapse

    try:
        monkeypatch.setattr(ledger, "notice_lapse", counting("one", ledger))
        monkeypatch.setattr(other_ledger, "notice_lapse", counting("two", other_ledger))
        clocks = [DeadlineClock(pool, ledger), DeadlineClock(other_pool, other_ledger)]
        await sleep_until(expires_at)
        results = await asyncio.gather(*(clock.tick() for clock in clocks * 3))
    finally:
        await other_pool.close()
        other_ledger.close()

    # every tick saw every deadline due and asked its ledger to record it: they raced
    assert attempts == {"one": 3 * len(refs), "two": 3 * len(refs)}
    recorded = [event for result in results for event in result]
    assert len(recorded) == len(refs)
    in_log = []
    for ref in refs:
        lapses = await events_of(pool, standing_id(tenant, ref, "photo"), LAPSED)
        assert [(e.lapse.reason, e.lapse.effective_at) for e in lapses] == [("expired", expires_at)]
        in_log += [event_id(e.originator_id, e.originator_version) for e in lapses]
    assert sorted(recorded) == sorted(in_log)


# -- (c) the end of retention ---------------------------------------------------------------------
async def test_retention_end_is_recorded_once_as_retention_expired(
    ledger: Ledger, pool: asyncpg.Pool, read_model: LogFollower
) -> None:
    tenant = tenant_with(ledger, ["client-1"])
    now = datetime.now(UTC)
    ledger.establish_basis(
        tenant,
        "client-1",
        "mediation",
        Establishment(basis="contract", reference="k-1", effective_at=now - timedelta(days=3)),
    )
    ended = now - timedelta(days=1) + timedelta(seconds=1.5)  # P1D retention ends in 1.5 s
    ledger.end_basis(tenant, "client-1", "mediation", BasisEnd(effective_at=ended, reason="done"))
    retention_until = ended + timedelta(days=1)
    await read_model.catch_up()
    clock = DeadlineClock(pool, ledger)
    standing = standing_id(tenant, "client-1", "mediation")

    assert await clock.tick() == []  # not yet
    await sleep_until(retention_until)
    first = await clock.tick()
    assert await clock.tick() == []

    expired = await events_of(pool, standing, RETENTION_EXPIRED)
    assert [event_id(e.originator_id, e.originator_version) for e in expired] == [
        UUID(str(e)) for e in first
    ]
    assert [(e.lapse.reason, e.lapse.effective_at) for e in expired] == [
        ("retention_expired", retention_until)
    ]
    assert await events_of(pool, standing, LAPSED) == []


async def test_retention_that_ended_before_the_ledger_learned_of_it_is_recorded_once(
    ledger: Ledger, pool: asyncpg.Pool, read_model: LogFollower
) -> None:
    tenant = tenant_with(ledger, ["client-1"])
    ledger.establish_basis(
        tenant,
        "client-1",
        "mediation-file",
        Establishment(
            basis="contract", reference="k-1", effective_at=datetime(2015, 1, 1, tzinfo=UTC)
        ),
    )
    ledger.end_basis(  # P1Y retention: expired 2017-01-01, long before it was recorded
        tenant,
        "client-1",
        "mediation-file",
        BasisEnd(effective_at=datetime(2016, 1, 1, tzinfo=UTC), reason="done"),
    )
    await read_model.catch_up()
    clock = DeadlineClock(pool, ledger)
    await clock.tick()
    await clock.tick()

    expired = await events_of(
        pool, standing_id(tenant, "client-1", "mediation-file"), RETENTION_EXPIRED
    )
    assert [(e.lapse.reason, e.lapse.effective_at) for e in expired] == [
        ("retention_expired", datetime(2017, 1, 1, tzinfo=UTC))
    ]


async def test_expiry_passed_while_the_read_model_lagged_is_still_recorded_once(
    ledger: Ledger, pool: asyncpg.Pool, read_model: LogFollower
) -> None:
    tenant = tenant_with(ledger, ["client-1"])
    expires_at = datetime.now(UTC) + timedelta(seconds=0.5)
    give(ledger, tenant, "client-1", expires_at=expires_at)
    await sleep_until(expires_at)  # the projector was down over the expiry
    started = time.monotonic()
    await read_model.catch_up()
    clock = DeadlineClock(pool, ledger)
    await clock.tick()
    await clock.tick()
    assert time.monotonic() - started < 2

    lapses = await events_of(pool, standing_id(tenant, "client-1", "photo"), LAPSED)
    assert [(e.lapse.reason, e.lapse.effective_at) for e in lapses] == [("expired", expires_at)]
