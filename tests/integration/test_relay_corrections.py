"""A rectified birth date is announced when it changes what the age rules say (R13, R14):
a stop on basis.lapsed when the standing is no longer lawful as known after the correction
(a 17-year-old turns out to be 14: in care the parent must consent too), a start on
basis.lawful when it is lawful again; a lapse the correction moved into the past is left to
the deadline clock, which records and publishes it once; a correction that changes nothing
for a standing announces nothing."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, date, datetime
from typing import Any

import asyncpg

from grondslag.ledger.application import Ledger
from grondslag.ledger.domain.ids import event_id, subject_id
from grondslag.ledger.domain.values import Evidence, PersonalData
from grondslag.projector.relay import Relay

from projector_support import REGISTERED, consume, follower_at_head, give, terms

TODAY = datetime.now(UTC).date()


async def _published(js: Any, pool: asyncpg.Pool, dsn: str, tenant: str, act: Any) -> list[Any]:
    follower = await follower_at_head(pool, dsn, Relay(js).publish)
    act()
    await follower.catch_up()
    return [
        (m.subject.removeprefix(f"grondslag.{tenant}."), m.headers["Nats-Msg-Id"], m.data)
        for m in await consume(js, tenant)
    ]


async def test_r13_a_correction_that_makes_the_client_a_minor_in_care_is_a_stop_then_a_start(
    ledger: Ledger, pool: asyncpg.Pool, own_database_url: str, js: Any
) -> None:
    tenant, ref = f"t-{secrets.token_hex(4)}", "client-1"
    ledger.register_purpose(tenant, "care-photos", terms("care-photos", matter="care"), REGISTERED)
    ledger.register_purpose(tenant, "newsletter", terms("newsletter"), REGISTERED)
    adult = date(TODAY.year - 17, 1, 15)
    ledger.put_subject(tenant, ref, PersonalData(birth_date=adult))
    written = {"explicit": False, "evidence": Evidence(document_ref="f.pdf")}
    give(ledger, tenant, ref, "care-photos", **written)

    def correct_to_14() -> None:
        ledger.put_subject(tenant, ref, PersonalData(birth_date=date(TODAY.year - 14, 1, 15)))

    messages = await _published(js, pool, own_database_url, tenant, correct_to_14)
    assert [name for name, _, _ in messages] == ["basis.lapsed"]  # care-photos only
    data = json.loads(messages[0][2])["data"]
    assert (data["purpose"], data["lawful"], data["status"]) == ("care-photos", False, "pending")
    correction = event_id(subject_id(tenant, ref), 2)
    assert data["event_id"] == str(correction)

    def correct_back() -> None:
        ledger.put_subject(tenant, ref, PersonalData(birth_date=adult))

    messages = await _published(js, pool, own_database_url, tenant, correct_back)
    assert [name for name, _, _ in messages][-1:] == ["basis.lawful"]
    assert json.loads(messages[-1][2])["data"]["status"] == "lawful"


async def test_a_correction_that_changes_no_standing_announces_nothing(
    ledger: Ledger, pool: asyncpg.Pool, own_database_url: str, js: Any
) -> None:
    tenant, ref = f"t-{secrets.token_hex(4)}", "client-2"
    ledger.register_purpose(tenant, "newsletter", terms("newsletter"), REGISTERED)
    ledger.put_subject(tenant, ref, PersonalData(birth_date=date(1980, 1, 1)))
    give(ledger, tenant, ref, "newsletter", explicit=False, evidence=Evidence(document_ref="f"))

    def correct() -> None:
        ledger.put_subject(tenant, ref, PersonalData(birth_date=date(1981, 1, 1)))

    assert await _published(js, pool, own_database_url, tenant, correct) == []
