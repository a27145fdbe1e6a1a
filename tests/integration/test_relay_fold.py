"""Notifications agree with the API: every message's standing is the ledger's own answer at
``at`` as known at ``known_at`` (when its event was recorded), and every stop reaches
``basis.lapsed`` — whatever caused it — while every start reaches ``basis.lawful``.

Runs on real PostgreSQL and NATS JetStream, on a database of this module's own.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg

from grondslag.ledger.application import Ledger
from grondslag.ledger.domain.values import (
    BasisEnd,
    Establishment,
    Evidence,
    Objection,
    ObjectionDecision,
    PersonalData,
    Representation,
    Retention,
)
from grondslag.ledger.reads.standing import one_standing
from grondslag.projector import current_standing
from grondslag.projector.deadline_clock import DeadlineClock
from grondslag.projector.relay import Relay

from projector_support import REGISTERED, consume, follower_at_head, give, signal_id, terms

NOW = datetime.now(UTC)


def register(ledger: Ledger, tenant: str, code: str, **changes: Any) -> str:
    ledger.register_purpose(tenant, code, terms(code, **changes), REGISTERED)
    return code


def consent(ledger: Ledger, tenant: str, ref: str, code: str, **fields: Any) -> str:
    """A written consent (not marked explicit); answers its event id."""
    written = {"explicit": False, "evidence": Evidence(document_ref="form.pdf")}
    return str(give(ledger, tenant, ref, code, **(written | fields)))


async def published(js: Any, pool: asyncpg.Pool, dsn: str, tenant: str, act: Any) -> list[Any]:
    """Run ``act`` (the commands, or a coroutine function), relay what it recorded, and answer
    every message of the tenant as ``(name, message id, data)``, each standing checked
    against the API's answer to the same question."""
    follower = await follower_at_head(pool, dsn, Relay(js).publish)
    outcome = act()
    if hasattr(outcome, "__await__"):
        await outcome
    await follower.catch_up()
    messages = []
    for msg in await consume(js, tenant):
        data = json.loads(msg.data)["data"]
        if "status" in data:
            await agrees_with_the_api(pool, data)
        messages.append(
            (msg.subject.removeprefix(f"grondslag.{tenant}."), msg.headers["Nats-Msg-Id"], data)
        )
    return messages


async def agrees_with_the_api(pool: asyncpg.Pool, data: dict[str, Any]) -> None:
    """What ``GET …/standing/{purpose}?at=…&known_at=…`` answers is what the message says."""
    api = await one_standing(
        pool,
        data["tenant"],
        data["subject_ref"],
        data["purpose"],
        datetime.fromisoformat(data["at"]),
        datetime.fromisoformat(data["known_at"]),
    )
    assert (data["lawful"], data["status"], data.get("basis")) == (
        api.lawful,
        api.status,
        api.basis,
    )
    for field in ("since", "until"):
        value = data.get(field)
        assert (datetime.fromisoformat(value) if value else None) == getattr(api, field), field
    restricted = "objection" if api.status == "restricted" else None
    assert data.get("reason") == (api.reason or restricted)


def names(messages: list[Any]) -> list[str]:
    return [name for name, _, _ in messages]


async def test_r13_a_parents_consent_for_a_14_year_old_in_care_is_published_pending(
    ledger: Ledger, pool: asyncpg.Pool, own_database_url: str, js: Any
) -> None:
    tenant, ref = f"t-{secrets.token_hex(4)}", "child-1"
    code = register(ledger, tenant, "youth-photos", matter="care")
    born = date(NOW.year - 14, 1, 15)
    ledger.put_subject(tenant, ref, PersonalData(birth_date=born))
    parent = Representation(
        representative_ref="mother",
        kind="parental_authority",
        valid_from=datetime(born.year, 1, 15, tzinfo=UTC),
        evidence=Evidence(document_ref="gezagsregister"),
    )
    ledger.register_representative(tenant, ref, parent)
    events: list[str] = []

    def act() -> None:
        events.append(consent(ledger, tenant, ref, code, representative_ref="mother"))

    messages = await published(js, pool, own_database_url, tenant, act)
    # the relay used to say "lawful" here; the API says pending: the child must consent too
    assert names(messages) == ["consent.given"]
    assert (messages[0][2]["status"], messages[0][2]["lawful"]) == ("pending", False)

    def act_child() -> None:
        events.append(consent(ledger, tenant, ref, code))

    messages = await published(js, pool, own_database_url, tenant, act_child)
    assert names(messages)[-2:] == ["consent.given", "basis.lawful"]  # now it may start
    assert messages[-1][1] == signal_id(events[1], "basis.lawful")
    assert messages[-1][2]["status"] == "lawful"


async def test_r9_a_consent_recorded_after_its_expiry_is_published_lapsed_never_lawful(
    ledger: Ledger, pool: asyncpg.Pool, own_database_url: str, js: Any
) -> None:
    tenant, ref = f"t-{secrets.token_hex(4)}", "client-1"
    code = register(ledger, tenant, "photos")
    ledger.put_subject(tenant, ref, PersonalData())

    def act() -> None:
        consent(
            ledger,
            tenant,
            ref,
            code,
            effective_at=NOW - timedelta(days=30),
            expires_at=NOW - timedelta(days=1),
        )

    messages = await published(js, pool, own_database_url, tenant, act)
    assert names(messages) == ["consent.given"]  # no basis.lawful: it never was, as known
    data = messages[0][2]
    assert (data["status"], data["reason"], data["lawful"]) == ("lapsed", "expired", False)


async def test_r18_an_objection_is_a_stop_and_its_rejection_a_start(
    ledger: Ledger, pool: asyncpg.Pool, own_database_url: str, js: Any
) -> None:
    tenant, ref = f"t-{secrets.token_hex(4)}", "client-1"
    code = register(
        ledger,
        tenant,
        "fraud-check",
        basis="legitimate_interest",
        legitimate_interest_assessment="weighed on 2025-01-01",
    )
    ledger.put_subject(tenant, ref, PersonalData())
    start = NOW - timedelta(days=10)
    basis = Establishment(basis="legitimate_interest", reference="li-1", effective_at=start)
    ledger.establish_basis(tenant, ref, code, basis)
    objected = Objection(grounds="personal situation", effective_at=NOW - timedelta(days=2))
    events: list[str] = []

    def act() -> None:
        events.append(str(ledger.lodge_objection(tenant, ref, code, objected)[0]))

    messages = await published(js, pool, own_database_url, tenant, act)
    assert names(messages) == ["basis.restricted", "basis.lapsed"]
    assert messages[1][1] == signal_id(events[0], "basis.lapsed")
    stop = messages[1][2]
    assert (stop["status"], stop["reason"], stop["lawful"]) == ("restricted", "objection", False)

    rejected = ObjectionDecision(upheld=False, reasons="compelling grounds", effective_at=NOW)
    messages = await published(
        js,
        pool,
        own_database_url,
        tenant,
        lambda: ledger.decide_objection(tenant, ref, code, rejected),
    )
    assert names(messages)[-2:] == ["basis.restored", "basis.lawful"]


async def test_r17_r21_direct_marketing_objection_basis_end_and_retention_reach_basis_lapsed(
    ledger: Ledger, pool: asyncpg.Pool, own_database_url: str, js: Any
) -> None:
    tenant, ref = f"t-{secrets.token_hex(4)}", "client-1"
    marketing = register(
        ledger,
        tenant,
        "offers",
        basis="legitimate_interest",
        direct_marketing=True,
        legitimate_interest_assessment="soft opt-in for existing clients",
    )
    contract = register(ledger, tenant, "file", basis="contract", retention=Retention(term="P1D"))
    ledger.put_subject(tenant, ref, PersonalData())
    began = NOW - timedelta(days=10)
    ledger.establish_basis(
        tenant,
        ref,
        marketing,
        Establishment(
            basis="legitimate_interest",
            reference="client",
            effective_at=began,
            opt_out_offered=True,
        ),
    )
    ledger.establish_basis(
        tenant, ref, contract, Establishment(basis="contract", reference="c-1", effective_at=began)
    )
    read_model = await follower_at_head(pool, own_database_url, current_standing.project)

    def act() -> None:
        objection = Objection(grounds="no more mail", effective_at=NOW - timedelta(hours=1))
        ledger.lodge_objection(tenant, ref, marketing, objection)
        end = BasisEnd(reason="file closed", effective_at=NOW - timedelta(days=3))
        ledger.end_basis(tenant, ref, contract, end)

    messages = await published(js, pool, own_database_url, tenant, act)
    assert names(messages) == ["basis.lapsed", "basis.lapsed"]
    assert [m[2]["reason"] for m in messages] == ["objection", "retention_expired"]

    await read_model.catch_up()
    clock = DeadlineClock(pool, ledger)
    noticed: list[Any] = []

    async def tick() -> None:
        noticed.extend(await clock.tick())

    messages = await published(js, pool, own_database_url, tenant, tick)
    assert len(noticed) == 1  # RetentionExpired, noticed once
    assert names(messages)[-2:] == ["retention.expired", "basis.lapsed"]
    assert messages[-1][1] == signal_id(noticed[0], "basis.lapsed")
    assert messages[-1][2]["reason"] == "retention_expired"
