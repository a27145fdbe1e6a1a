"""Nothing is stored that the fold cannot answer: dates and terms outside the range the
ledger accepts (``ledger/domain/bounds.py``) are 422 naming the field, and nothing is stored.

Each case was a stored event that answered 500 ("year 12024 is out of range") and then broke
every later question about the subject, the batch checks and the projector: a retention of
``P9999Y`` whose basis ends, a birth date of 9999-12-30, an expiry in the year 9999.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from api_support import ANY_VERSION, CONSENTS, PURPOSE, REF, assert_problem, register_of, snapshot


def contract_purpose(tenant, term: str = "P7Y") -> str:
    tenant.register_purpose(
        "mediation-file", basis="contract", retention={"term": term, "starts": "basis_end"}
    )
    return "mediation-file"


@pytest.mark.parametrize("term", ["P9999Y", "P116Y", "P1400M", "P50000D", "P99999999999999999999Y"])
def test_a_retention_term_beyond_115_years_is_refused_and_nothing_is_registered(
    tenant, term: str
) -> None:
    before = register_of(tenant)
    body = {
        "code": "mediation-file",
        "title": "Mediation",
        "basis": "contract",
        "retention": {"term": term, "starts": "basis_end"},
        "notice": {"version": "1", "url": "https://example.nl/p", "sha256": "a" * 64},
        "effective_at": "2025-01-01T00:00:00Z",
    }
    assert_problem(tenant.call("POST", "/v1/purposes", json=body), 422, field="retention.term")
    assert register_of(tenant) == before


def test_a_revision_to_a_retention_beyond_115_years_is_refused(tenant) -> None:
    code = contract_purpose(tenant)
    before = register_of(tenant)
    revision = {
        "material": False,
        "retention": {"term": "P9999Y", "starts": "basis_end"},
        "effective_at": "2025-06-01T00:00:00Z",
    }
    response = tenant.call(
        "POST", f"/v1/purposes/{code}/revisions", headers=ANY_VERSION, json=revision
    )
    assert_problem(response, 422, field="retention.term")
    assert register_of(tenant) == before


def test_r21_the_longest_accepted_term_still_answers_when_its_basis_ends(ready) -> None:
    """P115Y from a basis end in 2085 lands in 2200's neighbourhood: still answerable."""
    code = contract_purpose(ready, "P115Y")
    ref = "client-2"
    ready.put_subject(ref)
    basis = {
        "purpose": code,
        "basis": "contract",
        "reference": "c",
        "effective_at": "2025-01-01T00:00:00Z",
    }
    assert ready.call("POST", f"/v1/subjects/{ref}/bases", json=basis).status_code == 201
    end = {"reason": "done", "effective_at": datetime.now(UTC).isoformat()}
    response = ready.call("POST", f"/v1/subjects/{ref}/bases/{code}/end", json=end)
    assert response.status_code == 201, response.text
    standing = ready.call("GET", f"/v1/subjects/{ref}/standing/{code}")
    assert standing.status_code == 200
    assert standing.json()["retention_until"].startswith(str(datetime.now(UTC).year + 115))


@pytest.mark.parametrize(
    "birth_date",
    ["9999-12-31", "9999-12-30", "1899-12-31", (date.today() + timedelta(days=2)).isoformat()],
)
def test_a_birth_date_in_the_future_or_before_1900_is_refused_and_nothing_is_stored(
    ready, birth_date: str
) -> None:
    before = snapshot(ready)
    response = ready.call("PUT", f"/v1/subjects/{REF}", json={"birth_date": birth_date})
    assert_problem(response, 422, field="birth_date")
    new = ready.call("PUT", "/v1/subjects/newcomer", json={"birth_date": birth_date})
    assert_problem(new, 422, field="birth_date")
    assert ready.call("GET", "/v1/subjects/newcomer/history").status_code == 404
    assert snapshot(ready) == before
    # the subject can still withdraw, be checked, and be read: nothing poisoned it
    assert ready.consent(REF).status_code == 201


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("expires_at", "9999-12-31T23:59:59Z"),
        ("expires_at", "2200-01-01T00:00:00Z"),
        ("effective_at", "0001-01-01T00:00:00Z"),
        ("effective_at", "1899-12-31T23:59:59Z"),
        ("effective_at", "9999-12-31T23:59:59-01:00"),
        ("effective_at", "9999-12-31T23:59:59-23:59"),  # year 10000 once in UTC
    ],
)
def test_a_consent_date_outside_1900_to_2200_is_refused_and_nothing_is_stored(
    ready, field: str, value: str
) -> None:
    before = snapshot(ready)
    assert_problem(ready.consent(REF, **{field: value}), 422, field=field)
    assert snapshot(ready) == before


def test_a_consent_dated_ahead_of_the_clock_is_refused(ready) -> None:
    before = snapshot(ready)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert_problem(ready.consent(REF, effective_at=tomorrow), 422, field="effective_at")
    assert snapshot(ready) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [("valid_from", "0001-01-01T00:00:00Z"), ("valid_until", "9999-12-31T00:00:00Z")],
)
def test_a_representation_period_outside_1900_to_2200_is_refused(
    ready, field: str, value: str
) -> None:
    body: dict[str, Any] = {
        "representative_ref": "curator-1",
        "kind": "curator",
        "valid_from": "2020-01-01T00:00:00Z",
        "evidence": {"document_ref": "beschikking"},
        field: value,
    }
    before = snapshot(ready)
    response = ready.call("POST", f"/v1/subjects/{REF}/representatives", json=body)
    assert_problem(response, 422, field=field)
    assert snapshot(ready) == before


def test_a_basis_end_outside_1900_to_2200_is_refused(ready) -> None:
    code = contract_purpose(ready)
    basis = {
        "purpose": code,
        "basis": "contract",
        "reference": "c",
        "effective_at": "2025-01-01T00:00:00Z",
    }
    assert ready.call("POST", f"/v1/subjects/{REF}/bases", json=basis).status_code == 201
    response = ready.call(
        "POST",
        f"/v1/subjects/{REF}/bases/{code}/end",
        json={"reason": "x", "effective_at": "1800-01-01T00:00:00Z"},
    )
    assert_problem(response, 422, field="effective_at")
    assert ready.call("GET", f"/v1/subjects/{REF}/standing/{code}").json()["lawful"] is True


def test_after_every_refusal_the_subject_can_still_withdraw(ready) -> None:
    assert ready.consent(REF).status_code == 201
    for bad in ("1800-01-01", "9999-12-30"):  # the last one stays, were it stored
        ready.call("PUT", f"/v1/subjects/{REF}", json={"birth_date": bad})
        ready.consent(REF, expires_at="9999-12-31T00:00:00Z")
    response = ready.call(
        "POST",
        f"{CONSENTS}/{PURPOSE}/withdrawal",
        json={"method": "email", "recorded_by": "staff:a"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["standing"]["reason"] == "withdrawn"
    checks = ready.call("POST", "/v1/checks", json={"purpose": PURPOSE, "subject_refs": [REF]})
    assert checks.status_code == 200 and checks.json()["allowed"] == []
