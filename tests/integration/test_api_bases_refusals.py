"""Refusals on bases and objections over the API: each a problem+json naming its rule and
field (R1, R2, R17, R18, R21, a subject or purpose not found, a time in the future, bad
values) that leaves the subject's history as it was."""

from __future__ import annotations

import pytest

from api_support import assert_problem, created, standing
from bases_support import (
    MEDIATION,
    PHOTO,
    REMINDERS,
    STARTED,
    decide,
    end,
    establish,
    lodge,
    refused,
    register_mediation,
    register_reminders,
    status_of,
)


@pytest.fixture
def practice(tenant):
    """A tenant with every kind of purpose and one registered subject."""
    tenant.register_purpose(PHOTO)
    register_mediation(tenant)
    register_reminders(tenant)
    tenant.put_subject("client-1")
    return tenant


def test_basis_other_than_the_purposes_is_refused_r1(practice) -> None:
    body = refused(
        practice,
        "client-1",
        lambda: establish(practice, "client-1", MEDIATION, "legal_obligation"),
        409,
        rule="R1",
        field="basis",
    )
    assert "contract" in body["detail"]
    assert standing(practice, "client-1", MEDIATION)["status"] == "none"


def test_consent_as_a_basis_is_refused_r1_pointing_at_consents(practice) -> None:
    for purpose in (PHOTO, MEDIATION):
        body = refused(
            practice,
            "client-1",
            lambda purpose=purpose: establish(practice, "client-1", purpose, "consent"),
            409,
            rule="R1",
            field="basis",
        )
        assert "/consents" in body["detail"]


def test_a_second_basis_while_one_is_in_force_is_refused_r1(practice) -> None:
    created(establish(practice, "client-1", MEDIATION, "contract"))
    refused(
        practice,
        "client-1",
        lambda: establish(
            practice, "client-1", MEDIATION, "contract", effective_at="2025-06-01T00:00:00Z"
        ),
        409,
        rule="R1",
        field="effective_at",
    )


def test_a_basis_before_the_purpose_was_registered_is_refused_r2(practice) -> None:
    refused(
        practice,
        "client-1",
        lambda: establish(
            practice, "client-1", MEDIATION, "contract", effective_at="2024-06-01T00:00:00Z"
        ),
        409,
        rule="R2",
        field="effective_at",
    )


def test_objection_to_a_consent_purpose_points_to_withdrawal(practice) -> None:
    assert practice.consent("client-1", PHOTO).status_code == 201
    body = refused(
        practice,
        "client-1",
        lambda: lodge(practice, "client-1", PHOTO, "2026-10-01T00:00:00Z"),
        409,
        field="purpose",
    )
    assert body["rule"] in ("R17", "R18")
    assert "withdrawal" in body["detail"]
    assert status_of(standing(practice, "client-1", PHOTO)) == (True, "lawful", None)


def test_objection_to_consent_based_direct_marketing_points_to_withdrawal(tenant) -> None:
    tenant.register_purpose("email-newsletter", direct_marketing=True, matter="other")
    tenant.put_subject("client-1")
    body = refused(
        tenant,
        "client-1",
        lambda: lodge(tenant, "client-1", "email-newsletter", "2026-10-01T00:00:00Z"),
        409,
        rule="R17",
        field="purpose",
    )
    assert "withdrawal" in body["detail"]


def test_objection_to_a_contract_purpose_is_refused_r18(practice) -> None:
    created(establish(practice, "client-1", MEDIATION, "contract"))
    body = refused(
        practice,
        "client-1",
        lambda: lodge(practice, "client-1", MEDIATION, "2026-10-01T00:00:00Z"),
        409,
        rule="R18",
        field="purpose",
    )
    assert "contract" in body["detail"]
    assert status_of(standing(practice, "client-1", MEDIATION)) == (True, "lawful", None)


def test_ending_a_basis_not_in_force_is_refused_r21(practice) -> None:
    # Nothing established yet.
    refused(practice, "client-1", lambda: end(practice, "client-1", MEDIATION), 409, rule="R21")
    # Before it took effect.
    created(establish(practice, "client-1", MEDIATION, "contract"))
    refused(
        practice,
        "client-1",
        lambda: end(practice, "client-1", MEDIATION, effective_at="2025-02-01T00:00:00Z"),
        409,
        rule="R21",
        field="effective_at",
    )
    # Already ended.
    created(end(practice, "client-1", MEDIATION))
    refused(
        practice,
        "client-1",
        lambda: end(practice, "client-1", MEDIATION, effective_at="2026-07-01T00:00:00Z"),
        409,
        rule="R21",
        field="effective_at",
    )
    # A consent is withdrawn, not ended.
    assert practice.consent("client-1", PHOTO).status_code == 201
    refused(
        practice,
        "client-1",
        lambda: end(practice, "client-1", PHOTO, effective_at="2026-07-01T00:00:00Z"),
        409,
        rule="R21",
    )


def test_unknown_purpose_is_refused_r2(practice) -> None:
    sends = [
        lambda: establish(practice, "client-1", "no-such-purpose", "contract"),
        lambda: end(practice, "client-1", "no-such-purpose"),
        lambda: lodge(practice, "client-1", "no-such-purpose", "2026-10-01T00:00:00Z"),
        lambda: decide(practice, "client-1", "no-such-purpose", True, "2026-10-01T00:00:00Z"),
    ]
    for send in sends:
        refused(practice, "client-1", send, 409, rule="R2", field="purpose")


def test_unknown_subject_is_404_and_not_created(practice) -> None:
    sends = [
        lambda: establish(practice, "nobody", MEDIATION, "contract"),
        lambda: end(practice, "nobody", MEDIATION),
        lambda: lodge(practice, "nobody", REMINDERS, "2026-10-01T00:00:00Z"),
        lambda: decide(practice, "nobody", REMINDERS, True, "2026-10-01T00:00:00Z"),
    ]
    for send in sends:
        assert_problem(send(), 404)
    assert_problem(practice.call("GET", "/v1/subjects/nobody/history"), 404)
    assert_problem(practice.call("GET", f"/v1/subjects/nobody/standing/{MEDIATION}"), 404)


def test_effective_at_in_the_future_is_a_problem_not_a_500(practice) -> None:
    created(establish(practice, "client-1", MEDIATION, "contract"))
    created(establish(practice, "client-1", REMINDERS, "legitimate_interest"))
    future = "2099-01-01T00:00:00Z"
    sends = [
        lambda: end(practice, "client-1", MEDIATION, effective_at=future),
        lambda: lodge(practice, "client-1", REMINDERS, future),
        lambda: establish(practice, "client-1", MEDIATION, "contract", effective_at=future),
    ]
    for send in sends:
        body = refused(practice, "client-1", send, 422, field="effective_at")
        assert "future" in body["detail"]
    created(lodge(practice, "client-1", REMINDERS, "2026-10-01T00:00:00Z"))
    refused(
        practice,
        "client-1",
        lambda: decide(practice, "client-1", REMINDERS, False, future),
        422,
        field="effective_at",
    )
    assert status_of(standing(practice, "client-1", MEDIATION)) == (True, "lawful", None)


def test_naive_effective_at_is_422(practice) -> None:
    created(establish(practice, "client-1", MEDIATION, "contract"))
    naive = "2026-06-30T16:00:00"
    sends = [
        lambda: establish(
            practice, "client-1", REMINDERS, "legitimate_interest", effective_at=naive
        ),
        lambda: end(practice, "client-1", MEDIATION, effective_at=naive),
        lambda: lodge(practice, "client-1", REMINDERS, naive),
        lambda: decide(practice, "client-1", REMINDERS, True, naive),
    ]
    for send in sends:
        refused(practice, "client-1", send, 422, field="effective_at")
    naive_query = practice.call(
        "GET", f"/v1/subjects/client-1/standing/{MEDIATION}", params={"at": naive}
    )
    assert_problem(naive_query, 422, field="at")


def test_unknown_field_and_bad_values_are_422(practice) -> None:
    sends = {
        "legal_basis_note": lambda: establish(
            practice, "client-1", MEDIATION, "contract", legal_basis_note="x"
        ),
        "retention": lambda: end(practice, "client-1", MEDIATION, retention="P1Y"),
        "basis": lambda: lodge(practice, "client-1", REMINDERS, STARTED, basis="contract"),
        "upheld_by": lambda: decide(
            practice, "client-1", REMINDERS, True, STARTED, upheld_by="staff:x"
        ),
    }
    for name, send in sends.items():
        refused(practice, "client-1", send, 422, field=name)
    refused(
        practice,
        "client-1",
        lambda: establish(practice, "client-1", MEDIATION, "tacit_agreement"),
        422,
        field="basis",
    )
    refused(
        practice,
        "client-1",
        lambda: establish(practice, "client-1", MEDIATION, "contract", reference=""),
        422,
        field="reference",
    )
    refused(
        practice,
        "client-1",
        lambda: decide(practice, "client-1", REMINDERS, True, STARTED, reasons=""),
        422,
        field="reasons",
    )
