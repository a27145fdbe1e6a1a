"""R22: an erasure is published — a ``basis.lapsed`` stop (reason ``erased``) for every
standing a consent covered, and ``subject.erased`` with references only (never the e-mail
address or the birth date), each under a deterministic id: the event's own.

The module runs on a database of its own (see test_projector.py for why)."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, date, datetime
from typing import Any

import asyncpg

from grondslag.ledger.application import ErasureRequest, Ledger
from grondslag.ledger.domain.request_values import IdentityCheck, RequestIntake
from grondslag.ledger.domain.values import Establishment, PersonalData
from grondslag.projector.relay import Relay

from projector_support import consume, follower_at_head, give, new_tenant, terms

NEWSLETTER, PHOTO, FILE = "newsletter", "photo", "client-file"
REGISTER = {
    NEWSLETTER: terms("Nieuwsbrief"),
    PHOTO: terms("Foto"),
    FILE: terms("Dossier", basis="contract"),
}
ERASURE_REQUEST = RequestIntake(
    kind="erasure",
    received_at=datetime(2026, 1, 5, 9, tzinfo=UTC),
    channel="email",
    identity=IdentityCheck(method="known_in_person", verified_by="staff:x"),
)


async def test_r22_erasure_publishes_each_lapse_and_subject_erased_with_references_only(
    ledger: Ledger, pool: asyncpg.Pool, own_database_url: str, js: Any
) -> None:
    tenant, ref = new_tenant(ledger, REGISTER), f"client-{secrets.token_hex(3)}"
    email, birth_date = f"e.{secrets.token_hex(3)}@example.nl", date(1979, 4, 23)
    ledger.put_subject(tenant, ref, PersonalData(email=email, birth_date=birth_date))
    give(ledger, tenant, ref, NEWSLETTER)
    give(ledger, tenant, ref, PHOTO)
    ledger.establish_basis(
        tenant,
        ref,
        FILE,
        Establishment(basis="contract", reference="a-1", effective_at=datetime.now(UTC)),
    )
    follower = await follower_at_head(pool, own_database_url, Relay(js).publish)

    request = ledger.receive_request(tenant, ref, ERASURE_REQUEST)
    erasure = ErasureRequest(recorded_by="staff:x", request_id=request.request_id)
    outcome = ledger.erase(tenant, ref, erasure)
    assert not outcome.complete  # the contract is in force: its file is held
    assert {lapse.purpose for lapse in outcome.lapsed} == {NEWSLETTER, PHOTO}
    await follower.catch_up()

    messages = await consume(js, tenant, until=3)
    by_subject = {m.subject: json.loads(m.data) for m in messages}
    assert sorted(m.subject for m in messages) == [
        f"grondslag.{tenant}.basis.lapsed",
        f"grondslag.{tenant}.basis.lapsed",
        f"grondslag.{tenant}.subject.erased",
    ]
    stops = [json.loads(m.data) for m in messages if m.subject.endswith("basis.lapsed")]
    assert {(s["data"]["purpose"], s["data"]["reason"]) for s in stops} == {
        (NEWSLETTER, "erased"),
        (PHOTO, "erased"),
    }
    assert {s["id"] for s in stops} == {lapse.event_id for lapse in outcome.lapsed}
    erased = by_subject[f"grondslag.{tenant}.subject.erased"]
    assert erased["id"] == outcome.event_id == erased["data"]["event_id"]
    assert erased["type"] == "nl.grondslag.subject.erased.v1"
    assert erased["data"]["erased"] == [NEWSLETTER, PHOTO]
    assert erased["data"]["held"] == [FILE]
    assert erased["data"]["complete"] is False
    assert erased["data"]["request_id"] == request.request_id
    for message in messages:
        text = message.data.decode()
        for personal in (email, email.split("@")[0], birth_date.isoformat(), "23-04-1979"):
            assert personal not in text
