"""A mediation file on contract over the API (R6, R21): lawful from the contract's start,
kept seven years after its end and then expired, never given by consent, and the
bitemporal answer as known before the end was recorded."""

from __future__ import annotations

from api_support import check, created, history, instant, standing
from bases_support import (
    ENDED,
    MEDIATION,
    RETAINED_UNTIL,
    STARTED,
    end,
    establish,
    refused,
    register_mediation,
    status_of,
)


def test_mediation_contract_is_lawful_then_retained_seven_years_after_it_ends(tenant) -> None:
    register_mediation(tenant)
    tenant.put_subject("mediant-1")
    now = created(establish(tenant, "mediant-1", MEDIATION, "contract"))
    assert status_of(now) == (True, "lawful", None)
    assert now["basis"] == "contract" and instant(now["since"]) == instant(STARTED)
    assert now["until"] is None and now["retention_until"] is None

    during = standing(tenant, "mediant-1", MEDIATION, at="2025-09-01T00:00:00Z")
    assert status_of(during) == (True, "lawful", None)
    assert instant(during["since"]) == instant(STARTED)
    before_it = standing(tenant, "mediant-1", MEDIATION, at="2025-03-01T00:00:00Z")
    assert (before_it["lawful"], before_it["status"]) == (False, "none")

    after_end = created(end(tenant, "mediant-1", MEDIATION))
    assert status_of(after_end) == (False, "lapsed", "basis_ended")
    assert instant(after_end["until"]) == instant(ENDED)
    assert instant(after_end["retention_until"]) == instant(RETAINED_UNTIL)
    assert after_end["basis"] == "contract"

    current = standing(tenant, "mediant-1", MEDIATION)
    assert status_of(current) == (False, "lapsed", "basis_ended")
    assert instant(current["retention_until"]) == instant(RETAINED_UNTIL)
    assert instant(current["since"]) == instant(STARTED) and instant(current["until"]) == instant(
        ENDED
    )
    # The contract itself, as it stood before its end: lawful until the end.
    was = standing(tenant, "mediant-1", MEDIATION, at="2026-01-15T00:00:00Z")
    assert status_of(was) == (True, "lawful", None)
    assert instant(was["until"]) == instant(ENDED)
    # Retention still running the moment before it ends; expired from then on.
    kept = standing(tenant, "mediant-1", MEDIATION, at="2033-06-30T15:59:59Z")
    assert status_of(kept) == (False, "lapsed", "basis_ended")
    expired = standing(tenant, "mediant-1", MEDIATION, at="2034-01-01T00:00:00Z")
    assert status_of(expired) == (False, "lapsed", "retention_expired")
    assert instant(expired["retention_until"]) == instant(RETAINED_UNTIL)
    # The lawful period stays in since/until; retention_until says when it expired.
    assert instant(expired["since"]) == instant(STARTED) and instant(expired["until"]) == instant(
        ENDED
    )
    assert check(tenant, ["mediant-1"], MEDIATION, at="2034-01-01T00:00:00Z")["denied"] == [
        {"subject_ref": "mediant-1", "status": "lapsed", "reason": "retention_expired"}
    ]


def test_consent_call_on_the_mediation_contract_is_refused_pointing_at_bases(tenant) -> None:
    register_mediation(tenant)
    tenant.put_subject("mediant-2")
    created(establish(tenant, "mediant-2", MEDIATION, "contract"))
    body = refused(
        tenant,
        "mediant-2",
        lambda: tenant.consent("mediant-2", MEDIATION),
        409,
        rule="R6",
        field="purpose",
    )
    assert "/bases" in body["detail"]
    assert status_of(standing(tenant, "mediant-2", MEDIATION)) == (True, "lawful", None)


def test_bitemporal_answer_shows_the_contract_lawful_as_known_before_its_end(tenant) -> None:
    register_mediation(tenant)
    tenant.put_subject("mediant-3")
    created(establish(tenant, "mediant-3", MEDIATION, "contract"))
    established = history(tenant, "mediant-3")[-1]
    created(end(tenant, "mediant-3", MEDIATION))
    known_then = standing(tenant, "mediant-3", MEDIATION, known_at=established["recorded_at"])
    assert status_of(known_then) == (True, "lawful", None)
    assert standing(tenant, "mediant-3", MEDIATION)["status"] == "lapsed"
