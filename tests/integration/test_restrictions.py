"""Restriction of processing over the API and NATS (art. 18; R24): POST …/restrictions makes
each named purpose restricted (not lawful) until POST …/restrictions/{purpose}/lift; a lift
without a restriction in force is 409 naming R24; the restriction is published as a stop on
basis.lapsed with reason ``restricted``, and the lift as a start on basis.lawful."""

from __future__ import annotations

import json
import secrets
from typing import Any

import asyncpg

from grondslag.ledger.application import Ledger
from grondslag.ledger.domain.values import Evidence, PersonalData, Restriction, RestrictionLift
from grondslag.projector.relay import Relay

from api_support import REF, assert_problem, created, history, standing
from projector_support import REGISTERED, consume, follower_at_head, give, signal_id, terms

RESTRICTIONS = f"/v1/subjects/{REF}/restrictions"


def test_r24_restriction_over_the_api_until_lifted(ready) -> None:
    created(ready.consent(effective_at="2025-03-01T10:00:00Z"))
    ready.register_purpose("second-photo")
    created(ready.consent(purpose="second-photo", effective_at="2025-03-01T10:00:00Z"))
    body = {
        "purposes": ["photo-in-dossier", "second-photo"],
        "reasons": "the client disputes the accuracy of the photo (art. 18(1)(a))",
        "request_id": "req-2025-17",
        "effective_at": "2025-04-01T09:00:00Z",
        "recorded_by": "staff:jdevries",
    }
    response = ready.call("POST", RESTRICTIONS, json=body)
    assert response.status_code == 201, response.text
    answers = response.json()["restricted"]
    assert [a["standing"]["status"] for a in answers] == ["restricted", "restricted"]
    assert answers[0]["standing"]["reason"] == "restricted"
    now = standing(ready)
    assert (now["lawful"], now["status"], now["reason"]) == (False, "restricted", "restricted")
    assert standing(ready, at="2025-03-15T00:00:00Z")["status"] == "lawful"
    recorded = [e for e in history(ready) if e["type"] == "ProcessingRestricted"]
    assert len(recorded) == 2 and recorded[0]["details"]["request_id"] == "req-2025-17"
    evidence = {r["type"] for r in now["evidence_records"]}
    assert {"ConsentGiven", "ProcessingRestricted"} <= evidence

    again = ready.call("POST", RESTRICTIONS, json=body | {"effective_at": None})
    assert_problem(again, 409, rule="R24")

    lift = {"reasons": "accuracy verified", "recorded_by": "staff:jdevries"}
    lifted = ready.call("POST", f"{RESTRICTIONS}/photo-in-dossier/lift", json=lift)
    assert created(lifted)["status"] == "lawful"
    assert standing(ready)["status"] == "lawful"
    assert standing(ready, purpose="second-photo")["status"] == "restricted"
    twice = ready.call("POST", f"{RESTRICTIONS}/photo-in-dossier/lift", json=lift)
    assert_problem(twice, 409, rule="R24", field="effective_at")


def test_r24_refusals_and_roles(ready) -> None:
    lift = {"reasons": "none was in force"}
    assert_problem(ready.call("POST", f"{RESTRICTIONS}/photo-in-dossier/lift", json=lift), 409)
    unknown = {"purposes": ["no-such-purpose"], "reasons": "x"}
    assert_problem(ready.call("POST", RESTRICTIONS, json=unknown), 409, rule="R2")
    # the refusal names the purpose as the body does: its place in `purposes`
    second = {"purposes": ["photo-in-dossier", "no-such-purpose"], "reasons": "x"}
    assert_problem(ready.call("POST", RESTRICTIONS, json=second), 409, field="purposes[1]")
    assert_problem(
        ready.call(
            "POST",
            "/v1/subjects/nobody/restrictions",
            json=unknown | {"purposes": ["photo-in-dossier"]},
        ),
        404,
    )
    empty = ready.call("POST", RESTRICTIONS, json={"purposes": [], "reasons": "x"})
    assert_problem(empty, 422, field="purposes")
    reader = ready.key_with("reader")
    body = {"purposes": ["photo-in-dossier"], "reasons": "x"}
    assert ready.call("POST", RESTRICTIONS, json=body, key=reader).status_code == 403


async def test_r24_restriction_is_a_stop_on_basis_lapsed_and_its_lift_a_start(
    ledger: Ledger, pool: asyncpg.Pool, own_database_url: str, js: Any
) -> None:
    tenant, ref = f"t-{secrets.token_hex(4)}", "client-1"
    ledger.register_purpose(tenant, "photos", terms("photos"), REGISTERED)
    ledger.put_subject(tenant, ref, PersonalData())
    give(ledger, tenant, ref, "photos", explicit=False, evidence=Evidence(document_ref="f.pdf"))
    follower = await follower_at_head(pool, own_database_url, Relay(js).publish)
    restricted, _ = ledger.restrict(
        tenant, ref, "photos", Restriction(reasons="disputed", effective_at=_now())
    )
    lifted, _ = ledger.lift_restriction(
        tenant, ref, "photos", RestrictionLift(reasons="settled", effective_at=_now())
    )
    await follower.catch_up()
    messages = [
        (m.subject.removeprefix(f"grondslag.{tenant}."), m.headers["Nats-Msg-Id"], m.data)
        for m in await consume(js, tenant)
    ]
    messages = [(name, mid, json.loads(raw)["data"]) for name, mid, raw in messages]
    names = [name for name, _, _ in messages]
    assert names[-4:] == ["basis.restricted", "basis.lapsed", "basis.restored", "basis.lawful"]
    stop = messages[-3]
    assert stop[1] == signal_id(restricted, "basis.lapsed")
    assert (stop[2]["lawful"], stop[2]["status"], stop[2]["reason"]) == (
        False,
        "restricted",
        "restricted",
    )
    start = messages[-1]
    assert start[1] == signal_id(lifted, "basis.lawful") and start[2]["status"] == "lawful"


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def test_a_restriction_sent_again_under_its_idempotency_key_is_recorded_once(ready) -> None:
    created(ready.consent())
    body = {"purposes": ["photo-in-dossier"], "reasons": "accuracy disputed"}
    headers = {"Idempotency-Key": "restrict-17"}
    first = ready.call("POST", RESTRICTIONS, json=body, headers=headers)
    again = ready.call("POST", RESTRICTIONS, json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json() == first.json()
    assert [e["type"] for e in history(ready)].count("ProcessingRestricted") == 1
