"""The deadline clock's quarantine on real PostgreSQL: a standing whose lapse cannot be
noticed (its stored events cannot be read) is set aside and left out of the due ones, while
every other due standing is still recorded in the same tick; repaired, ``grondslag
quarantine retry`` records its lapse and releases it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from grondslag.ledger.domain.ids import standing_id
from grondslag.ledger.domain.values import PersonalData
from grondslag.ledger.reads.checks import CURRENT_STANDING_TABLE
from grondslag.ledger.reads.operations import quarantined
from grondslag.projector import current_standing
from grondslag.projector.deadline_clock import NAME as CLOCK
from grondslag.projector.deadline_clock import DeadlineClock
from grondslag.projector.follower import LogFollower

from projector_support import (
    LAPSED,
    PURPOSE,
    Store,
    command,
    events_of,
    give,
    new_tenant,
    sleep_until,
)
from projector_support import set_state as write_state


async def test_a_standing_whose_lapse_cannot_be_noticed_stops_no_other_lapse(
    store: Store, store_pool: asyncpg.Pool
) -> None:
    ledger, tenant = store.ledger, new_tenant(store.ledger)
    refs = ["client-1", "client-2", "client-3"]
    for ref in refs:
        ledger.put_subject(tenant, ref, PersonalData())
    now = datetime.now(UTC)
    # client-1 is due first: without a quarantine it would stand first in line for ever
    expiries = {ref: now + timedelta(seconds=0.5 + 0.2 * i) for i, ref in enumerate(refs)}
    for ref in refs[:2]:
        give(ledger, tenant, ref, expires_at=expiries[ref])
    read_model = LogFollower(store_pool, store.url, current_standing.NAME, current_standing.project)
    await read_model.setup()
    await read_model.catch_up()
    broken = standing_id(tenant, "client-1", PURPOSE)
    original = await write_state(store.url, broken, 1, b"\xff\xfe not an event")
    await sleep_until(expiries["client-2"])

    clock = DeadlineClock(store_pool, ledger)
    recorded = await clock.tick()

    (lapse,) = await events_of(store_pool, standing_id(tenant, "client-2", PURPOSE), LAPSED)
    assert len(recorded) == 1 and lapse.lapse.reason == "expired"
    (held,) = await quarantined(store_pool)
    assert (held.projection, held.scope, held.key) == (CLOCK, "standing", str(broken))
    assert (held.tenant, held.first_held) == (tenant, None)
    assert await clock.tick() == []  # left out of the due ones, not tried each tick

    # another deadline, with room for one due standing per tick: the held one is not it
    give(ledger, tenant, "client-3", expires_at=expiries["client-3"] + timedelta(seconds=1))
    await read_model.catch_up()
    await sleep_until(expiries["client-3"] + timedelta(seconds=1))
    assert len(await DeadlineClock(store_pool, ledger, batch=1).tick()) == 1
    assert await events_of(store_pool, standing_id(tenant, "client-3", PURPOSE), LAPSED)

    # repaired: the retry records the lapse and releases the standing
    await write_state(store.url, broken, 1, original)
    retried = await command(store.url, None, "quarantine", "retry", "--projection", CLOCK)
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert f"{CLOCK} standing {broken}: released" in retried.stdout
    assert await quarantined(store_pool) == []
    (lapse,) = await events_of(store_pool, broken, LAPSED)
    assert (lapse.lapse.reason, lapse.lapse.effective_at) == ("expired", expiries["client-1"])
    row = await store_pool.fetchrow(
        f"SELECT status, reason, changes_at FROM {CURRENT_STANDING_TABLE} "
        "WHERE tenant = $1 AND subject_ref = 'client-1'",
        tenant,
    )
    assert tuple(row) == ("lapsed", "expired", None)
