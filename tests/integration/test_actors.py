"""Who did it (NEN 7513): every recorded event names the API key, clock or link that
recorded it — in the subject's history, in the canonical bytes the audit log hashes, and in
a verified export bundle. Events recorded before actors existed have none and still verify.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta

import psycopg

from grondslag.ledger.audit import bundle
from grondslag.ledger.domain.subject_request import request_stream_id
from grondslag.ledger.domain.values import Evidence
from grondslag.ledger.keys import key_id_in
from grondslag.ledger.links import _unb64

from api_support import CONSENT, PURPOSE, REF, consent_body
from audit_support import export
from newsletter_support import (
    NEWSLETTER,
    one_click,
    path_of,
    register_newsletter,
    signup,
    subscriber,
    token_of,
    unsubscribe_path,
)
from requests_support import days_ago, received, shown


def actor_id(key: str) -> str:
    return f"key:{key_id_in(key)}"


def history(tenant, ref: str = REF) -> list[dict]:
    response = tenant.call("GET", f"/v1/subjects/{ref}/history")
    assert response.status_code == 200, response.text
    return response.json()["events"]


def one(events: list[dict], type_: str) -> dict:
    (found,) = [e for e in events if e["type"] == type_]
    return found


def test_consent_by_key_a_and_withdrawal_by_key_b_name_each_key(ready) -> None:
    key_a, key_b = ready.key_with("writer"), ready.key_with("writer")
    given = ready.call("POST", f"/v1/subjects/{REF}/consents", key=key_a, json=CONSENT)
    assert given.status_code == 201, given.text
    withdrawn = ready.call(
        "POST",
        f"/v1/subjects/{REF}/consents/{PURPOSE}/withdrawal",
        key=key_b,
        json={"method": "email", "recorded_by": "staff:jdevries"},
    )
    assert withdrawn.status_code == 201, withdrawn.text

    events = history(ready)
    consent, withdrawal = one(events, "ConsentGiven"), one(events, "ConsentWithdrawn")
    assert consent["actor"] == {"id": actor_id(key_a), "tenant": ready.name, "roles": ["writer"]}
    assert withdrawal["actor"]["id"] == actor_id(key_b) != actor_id(key_a)
    # the caller's free text stays what it was: a claim, beside the proven key
    assert consent["details"]["recorded_by"] == "staff:jdevries"
    # the subject itself was put with the tenant's all-roles key
    assert one(events, "SubjectRegistered")["actor"]["id"] == actor_id(ready.key)


def test_the_actor_is_in_the_audit_leaf_and_in_a_verified_bundle(ready) -> None:
    key_a = ready.key_with("writer")
    given = ready.call("POST", f"/v1/subjects/{REF}/consents", key=key_a, json=CONSENT)
    assert given.status_code == 201, given.text
    response = export(ready)
    assert response.status_code == 200, response.text

    verified = bundle.verify(response.content)
    (event,) = [e for e in verified.bundle.events if e.event_id == given.json()["event_id"]]
    assert event.actor == actor_id(key_a)
    canonical = json.loads(event.canonical)
    assert canonical["state"]["actor"] == {
        "id": actor_id(key_a),
        "roles": ["writer"],
        "tenant": ready.name,
    }
    # changing who recorded it, in the bundle's field or in the hashed bytes, fails
    text = response.content.decode()
    forged = text.replace(f'"actor": "{actor_id(key_a)}"', f'"actor": "{actor_id(ready.key)}"')
    assert forged != text
    try:
        bundle.verify(forged.encode())
    except bundle.BundleError as error:
        assert "actor" in str(error) or "byte for byte" in str(error)
    else:
        raise AssertionError("a bundle naming another key verified")


def test_the_deadline_clock_records_its_lapse_as_the_system_actor(ready) -> None:
    expires_at = datetime.now(UTC) + timedelta(seconds=1)
    body = consent_body(expires_at=expires_at.isoformat().replace("+00:00", "Z"))
    given = ready.call("POST", f"/v1/subjects/{REF}/consents", json=body)
    assert given.status_code == 201, given.text
    deadline = time.monotonic() + 10
    while not [e for e in history(ready) if e["type"] == "BasisLapsed"]:
        assert time.monotonic() < deadline, "no lapse recorded by the deadline clock"
        time.sleep(0.1)
    lapse = one(history(ready), "BasisLapsed")
    assert lapse["actor"] == {"id": "system:deadline-clock", "tenant": ready.name}
    assert lapse["purpose"] == PURPOSE


def test_a_one_click_unsubscribe_names_the_link_by_its_token_id_never_the_token(tenant) -> None:
    register_newsletter(tenant)
    subscriber(tenant)
    path = unsubscribe_path(tenant)
    assert one_click(tenant.client, path).status_code == 200
    withdrawal = one(history(tenant, "client-1"), "ConsentWithdrawn")
    token = token_of(path)
    token_id = _unb64(token.split(".")[1]).hex()
    assert withdrawal["actor"] == {
        "id": "public:unsubscribe-link",
        "tenant": tenant.name,
        "link": token_id,
    }
    assert withdrawal["purpose"] == NEWSLETTER
    raw = json.dumps(history(tenant, "client-1"))
    assert token not in raw and token.split(".")[2] not in raw  # the MAC never


def test_a_double_opt_in_confirmation_names_its_link_and_the_signup_its_key(tenant) -> None:
    register_newsletter(tenant)
    signed_up = signup(tenant, "anna@example.nl")
    assert signed_up.status_code == 201, signed_up.text
    ref, path = signed_up.json()["subject_ref"], path_of(signed_up.json()["confirm_url"])
    assert tenant.client.post(path).status_code == 200
    events = history(tenant, ref)
    assert one(events, "SubjectRegistered")["actor"]["id"] == actor_id(tenant.key)
    consent = one(events, "ConsentGiven")
    token_id = _unb64(token_of(path).split(".")[1]).hex()
    assert consent["actor"] == {
        "id": "public:confirmation-link",
        "tenant": tenant.name,
        "link": token_id,
    }


def test_events_recorded_before_actors_have_none_and_still_verify(ready, client) -> None:
    """An event stored without the member (as every event before this change) decodes,
    shows no actor, and its bundle — spelt as bundles were — verifies."""
    ledger = client.app.state.ledger
    event, _ = ledger.give_consent(  # no request, no actor: as the ledger recorded before
        ready.name,
        REF,
        PURPOSE,
        method="written",
        explicit=True,
        notice_version="2025-01",
        evidence=Evidence(document_ref="old.pdf"),
        recorded_by="staff:old",
    )
    assert one(history(ready), "ConsentGiven")["actor"] is None
    response = export(ready)
    assert response.status_code == 200, response.text
    verified = bundle.verify(response.content)
    (old,) = [e for e in verified.bundle.events if e.event_id == str(event)]
    assert old.actor is None and '"actor"' not in old.canonical
    spelt = json.loads(response.content)
    (raw,) = [e for e in spelt["events"] if e["event_id"] == str(event)]
    assert "actor" not in raw  # the field is absent, as in bundles exported before
    assert base64.b64decode(spelt["public_key"])


def test_the_request_clock_records_its_notices_as_the_system_actor(tenant, database_url) -> None:
    """R23: the overdue notice is the request clock's, the request's receipt the key's."""
    tenant.register_purpose()
    tenant.put_subject("client-1")
    request = received(tenant, received_at=days_ago(40))
    deadline = time.monotonic() + 10
    while shown(tenant, request["request_id"])["overdue_noticed_at"] is None:
        assert time.monotonic() < deadline, "the request clock did not notice within 10 s"
        time.sleep(0.05)
    stream = request_stream_id(tenant.name, request["request_id"])
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT topic, state FROM grondslag_events WHERE originator_id = %s "
            "ORDER BY originator_version",
            (stream,),
        ).fetchall()
    actors = {topic.rpartition(".")[2]: json.loads(bytes(state))["actor"] for topic, state in rows}
    assert actors["OverdueNoticed"] == {"id": "system:request-clock", "tenant": tenant.name}
    assert actors["Received"]["id"] == actor_id(tenant.key)
