"""Invoicing on a legal obligation over the API (R1, R21): kept seven years after the
obligation ends, and not registered at all without the legal provision it rests on."""

from __future__ import annotations

from api_support import assert_problem, check, created, instant, purpose_body, standing
from bases_support import (
    INVOICING,
    RETAINED_UNTIL,
    RETENTION_7Y,
    end,
    establish,
    register_invoicing,
    status_of,
)


def test_invoicing_on_legal_obligation_is_kept_seven_years_after_it_ends(tenant) -> None:
    register_invoicing(tenant)
    tenant.put_subject("client-inv")
    now = created(
        establish(tenant, "client-inv", INVOICING, "legal_obligation", reference="AWR art. 52")
    )
    assert status_of(now) == (True, "lawful", None)
    assert now["basis"] == "legal_obligation"
    assert check(tenant, ["client-inv"], INVOICING)["allowed"] == ["client-inv"]

    ended = created(end(tenant, "client-inv", INVOICING, reason="client relationship ended"))
    assert status_of(ended) == (False, "lapsed", "basis_ended")
    assert instant(ended["retention_until"]) == instant(RETAINED_UNTIL)
    assert check(tenant, ["client-inv"], INVOICING)["denied"] == [
        {"subject_ref": "client-inv", "status": "lapsed", "reason": "basis_ended"}
    ]
    later = standing(tenant, "client-inv", INVOICING, at="2033-07-01T00:00:00Z")
    assert status_of(later) == (False, "lapsed", "retention_expired")
    assert instant(later["retention_until"]) == instant(RETAINED_UNTIL)


def test_legal_obligation_without_its_legal_provision_is_not_registered(tenant) -> None:
    body = purpose_body(
        INVOICING, title="Invoicing", basis="legal_obligation", retention=RETENTION_7Y
    )
    response = tenant.call("POST", "/v1/purposes", json=body)
    assert_problem(response, 409, rule="R1", field="legal_provision")
    assert_problem(tenant.call("GET", f"/v1/purposes/{INVOICING}"), 404)
    listed = tenant.call("GET", "/v1/purposes")
    assert listed.status_code == 200, listed.text
    assert INVOICING not in listed.text
