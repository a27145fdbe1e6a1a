"""R24 with R23: a restriction request ("afschermen") restricts the purposes it covers from
when it reached the practice, in the transaction that records the request; a purpose with
no standing has nothing to restrict, and one restricted already stays as it was."""

from __future__ import annotations

from api_support import REF, created, history, standing
from requests_support import receive, received

RECEIVED = "2025-04-01T09:00:00Z"


def test_r24_a_restriction_request_restricts_what_it_covers_from_its_receipt(ready) -> None:
    created(ready.consent(effective_at="2025-03-01T10:00:00Z"))
    ready.register_purpose("second-photo")  # registered, no standing: nothing to restrict
    request = received(ready, REF, kind="restriction", received_at=RECEIVED)
    assert request["purposes"] == ["photo-in-dossier", "second-photo"]

    now = standing(ready)
    assert (now["lawful"], now["status"], now["reason"]) == (False, "restricted", "restricted")
    assert standing(ready, at="2025-03-31T09:00:00Z")["status"] == "lawful"  # before receipt
    (restricted,) = [e for e in history(ready) if e["type"] == "ProcessingRestricted"]
    assert restricted["details"]["request_id"] == request["request_id"]
    assert restricted["purpose"] == "photo-in-dossier"
    assert standing(ready, purpose="second-photo")["status"] == "none"


def test_r24_an_access_request_restricts_nothing(ready) -> None:
    created(ready.consent(effective_at="2025-03-01T10:00:00Z"))
    received(ready, REF, kind="access", received_at=RECEIVED)
    assert standing(ready)["status"] == "lawful"
    assert not [e for e in history(ready) if e["type"] == "ProcessingRestricted"]


def test_r24_a_second_restriction_request_leaves_the_first_restriction_as_it_was(ready) -> None:
    created(ready.consent(effective_at="2025-03-01T10:00:00Z"))
    first = received(ready, REF, kind="restriction", received_at=RECEIVED)
    second = receive(ready, REF, kind="restriction")
    assert second.status_code == 201, second.text
    recorded = [e for e in history(ready) if e["type"] == "ProcessingRestricted"]
    assert [e["details"]["request_id"] for e in recorded] == [first["request_id"]]


def test_r24_a_purpose_registered_after_the_receipt_is_restricted_from_its_registration(
    tenant,
) -> None:
    tenant.register_purpose(effective_at="2025-06-01T00:00:00Z")
    tenant.put_subject(REF, birth_date="1990-05-01")
    created(tenant.consent(effective_at="2025-07-01T10:00:00Z"))
    response = receive(tenant, REF, kind="restriction", received_at=RECEIVED)  # 1 April
    assert response.status_code == 201, response.text
    (restricted,) = [e for e in history(tenant) if e["type"] == "ProcessingRestricted"]
    assert restricted["effective_at"].startswith("2025-06-01")
    assert standing(tenant)["status"] == "restricted"
