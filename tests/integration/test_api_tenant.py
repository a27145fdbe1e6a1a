"""The controller's identity (PUT/GET /v1/tenant): 201 the first time, 200 after, an
identical PUT records nothing, who the controller was at T as known at K (bitemporal), a
promised answer term longer than one month refused (R23), and the roles."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from api_support import assert_problem

IDENTITY: dict[str, Any] = {
    "display_name": "Praktijk De Linde",
    "postal_address": "Lindelaan 4\n7511 AB Enschede",
    "email": "privacy@praktijkdelinde.example",
    "privacy_statement_url": "https://praktijkdelinde.example/privacy",
    "dpo": {"name": "mr. A. Jansen", "contact": "fg@praktijkdelinde.example"},
    "promised_term": "P4W",
    "languages": ["nl", "en"],
}


def put(tenant: Any, **fields: Any) -> Any:
    return tenant.call("PUT", "/v1/tenant", json={**IDENTITY, **fields})


def test_first_put_answers_201_then_200_and_an_identical_put_records_nothing(tenant) -> None:
    first = put(tenant, effective_at="2025-01-01T00:00:00Z")
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["recorded"] is True
    assert body["identity"]["display_name"] == "Praktijk De Linde"
    # the default complaint address is the Autoriteit Persoonsgegevens'
    assert body["identity"]["complaint_url"] == (
        "https://autoriteitpersoonsgegevens.nl/een-tip-of-klacht-indienen-bij-de-ap"
    )
    again = put(tenant)
    assert again.status_code == 200, again.text
    assert again.json()["recorded"] is False
    moved = put(tenant, postal_address="Beukenlaan 1\n7511 CD Enschede")
    assert moved.status_code == 200 and moved.json()["recorded"] is True
    got = tenant.call("GET", "/v1/tenant")
    assert got.status_code == 200, got.text
    assert got.json()["identity"]["postal_address"].startswith("Beukenlaan")


def test_who_the_controller_was_at_t_as_known_at_k(tenant) -> None:
    assert put(tenant, effective_at="2025-01-01T00:00:00Z").status_code == 201
    time.sleep(0.01)
    between = datetime.now(UTC).isoformat()
    time.sleep(0.01)
    # recorded later: the practice was renamed on 1 June
    renamed = put(tenant, display_name="Linde Zorg", effective_at="2025-06-01T00:00:00Z")
    assert renamed.status_code == 200, renamed.text

    def name(**params: str) -> str:
        response = tenant.call("GET", "/v1/tenant", params=params)
        assert response.status_code == 200, response.text
        return response.json()["identity"]["display_name"]

    assert name() == "Linde Zorg"
    assert name(at="2025-05-31T23:59:59Z") == "Praktijk De Linde"
    assert name(at="2025-07-01T00:00:00Z", known_at=between) == "Praktijk De Linde"
    before = tenant.call("GET", "/v1/tenant", params={"at": "2024-12-31T00:00:00Z"})
    assert_problem(before, 404)


def test_no_identity_is_404(tenant) -> None:
    assert_problem(tenant.call("GET", "/v1/tenant"), 404)


def test_a_promised_term_longer_than_one_month_is_refused_by_r23(tenant) -> None:
    for term in ("P5W", "P29D", "P4W1D", "P2M", "P0D", "P"):
        assert_problem(put(tenant, promised_term=term), 409, rule="R23", field="promised_term")
    assert_problem(put(tenant, promised_term="four weeks"), 422, field="promised_term")
    assert put(tenant, promised_term="P28D").status_code == 201
    assert put(tenant, promised_term="P1M").status_code == 200
    assert tenant.call("GET", "/v1/tenant").json()["identity"]["promised_term"] == "P1M"


def test_unknown_fields_and_bad_urls_are_refused(tenant) -> None:
    assert put(tenant, colour="green").status_code in (400, 422)
    assert_problem(
        put(tenant, privacy_statement_url="javascript:x"), 422, field="privacy_statement_url"
    )
    assert_problem(put(tenant, email="not an address"), 422, field="email")


def test_only_admin_may_put_and_every_key_may_read(tenant) -> None:
    reader, writer = tenant.key_with("reader"), tenant.key_with("writer")
    refused = tenant.call("PUT", "/v1/tenant", key=writer, json=IDENTITY)
    assert refused.status_code == 403
    assert tenant.call("PUT", "/v1/tenant", key=reader, json=IDENTITY).status_code == 403
    assert put(tenant).status_code == 201
    assert tenant.call("GET", "/v1/tenant", key=reader).status_code == 200
    assert tenant.call("GET", "/v1/tenant", key=writer).status_code == 200


def test_another_tenants_identity_is_not_seen(tenant, make_tenant) -> None:
    assert put(tenant).status_code == 201
    other = make_tenant()
    assert_problem(other.call("GET", "/v1/tenant"), 404)


def test_the_identity_is_a_leaf_of_the_tenants_audit_log(tenant) -> None:
    from grondslag.ledger.domain.ids import controller_id, event_id

    from audit_support import proof_of

    assert put(tenant).status_code == 201
    recorded = event_id(controller_id(tenant.name), 2)  # Opened is version 1
    proof = proof_of(tenant, str(recorded))
    assert proof["event_id"] == str(recorded)


def test_a_request_shows_the_term_the_practice_promised_when_it_was_received(tenant) -> None:
    from requests_support import received

    tenant.register_purpose()
    tenant.put_subject("client-1")
    assert put(tenant, effective_at="2025-01-01T00:00:00Z").status_code == 201  # P4W
    assert put(tenant, promised_term="P3W", effective_at="2026-01-01T00:00:00Z").status_code == 200
    answer = received(tenant, received_at="2025-11-03T10:00:00Z")
    assert answer["promised_term"] == "P4W"  # the promise when the request reached it
    assert answer["promised_by"] == "2025-12-01T23:00:00Z"  # end of Monday 1 December
    later = received(tenant, received_at="2026-02-02T10:00:00Z")
    assert later["promised_term"] == "P3W"


def test_without_an_identity_a_request_has_no_promised_term(tenant) -> None:
    from requests_support import received

    tenant.register_purpose()
    tenant.put_subject("client-1")
    answer = received(tenant)
    assert (answer["promised_term"], answer["promised_by"]) == (None, None)


def test_an_identity_sent_again_under_its_idempotency_key_answers_as_first(tenant) -> None:
    headers = {"Idempotency-Key": "tenant-1"}
    first = tenant.call("PUT", "/v1/tenant", json=IDENTITY, headers=headers)
    again = tenant.call("PUT", "/v1/tenant", json=IDENTITY, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.json()["recorded"] is True
