"""An objection to legitimate interest over the API (R18): processing is restricted from the
objection until the controller decides; upheld it lapses from the decision, rejected with
compelling grounds it is lawful again; and the retention term when the basis ends around
an objection."""

from __future__ import annotations

from api_support import assert_problem, check, created, denied, instant, standing
from bases_support import (
    REMINDERS,
    RETAINED_UNTIL,
    RETENTION_7Y,
    decide,
    end,
    establish,
    lodge,
    refused,
    register_reminders,
    status_of,
)


def test_objection_restricts_until_rejected_with_compelling_grounds(tenant) -> None:
    register_reminders(tenant)
    tenant.put_subject("patient-a")
    created(establish(tenant, "patient-a", REMINDERS, "legitimate_interest", reference="LIA-3"))
    objected_at, decided_at = "2026-10-01T09:00:00Z", "2026-10-15T12:00:00Z"

    restricted = created(lodge(tenant, "patient-a", REMINDERS, objected_at))
    assert status_of(restricted) == (False, "restricted", None)
    assert restricted["basis"] == "legitimate_interest"
    assert instant(restricted["since"]) == instant(objected_at)
    then = standing(tenant, "patient-a", REMINDERS, at="2026-10-02T00:00:00Z")
    assert status_of(then) == (False, "restricted", None)
    assert status_of(standing(tenant, "patient-a", REMINDERS, at="2026-09-30T00:00:00Z")) == (
        True,
        "lawful",
        None,
    )
    assert denied(check(tenant, ["patient-a"], REMINDERS)) == {"patient-a": ("restricted", None)}
    # A second objection while the first awaits its decision is refused.
    refused(
        tenant,
        "patient-a",
        lambda: lodge(tenant, "patient-a", REMINDERS, "2026-10-05T00:00:00Z"),
        409,
        rule="R18",
        field="purpose",
    )

    rejected = created(
        decide(
            tenant,
            "patient-a",
            REMINDERS,
            False,
            decided_at,
            reasons="compelling grounds: reminders prevent missed treatment that endangers care",
        )
    )
    assert status_of(rejected) == (True, "lawful", None)
    assert instant(rejected["since"]) == instant(decided_at)  # lawful again from the decision
    assert status_of(standing(tenant, "patient-a", REMINDERS, at="2026-10-15T11:59:59Z")) == (
        False,
        "restricted",
        None,
    )
    again = standing(tenant, "patient-a", REMINDERS, at=decided_at)
    assert status_of(again) == (True, "lawful", None) and instant(again["since"]) == instant(
        decided_at
    )
    assert check(tenant, ["patient-a"], REMINDERS)["allowed"] == ["patient-a"]
    # Nothing awaits a decision any more.
    refused(
        tenant,
        "patient-a",
        lambda: decide(tenant, "patient-a", REMINDERS, True, "2026-10-20T00:00:00Z"),
        409,
        rule="R18",
        field="effective_at",
    )


def test_objection_upheld_lapses_from_the_decision(tenant) -> None:
    register_reminders(tenant)
    for ref in ("patient-a", "patient-b"):
        tenant.put_subject(ref)
        created(establish(tenant, ref, REMINDERS, "legitimate_interest", reference="LIA-3"))
    objected_at, decided_at = "2026-10-01T09:00:00Z", "2026-10-08T10:00:00Z"
    created(lodge(tenant, "patient-b", REMINDERS, objected_at))
    upheld = created(decide(tenant, "patient-b", REMINDERS, True, decided_at))
    assert status_of(upheld) == (False, "lapsed", "objection")
    assert instant(upheld["until"]) == instant(decided_at)
    assert status_of(standing(tenant, "patient-b", REMINDERS, at="2026-10-05T00:00:00Z")) == (
        False,
        "restricted",
        None,
    )
    assert status_of(standing(tenant, "patient-b", REMINDERS, at=decided_at)) == (
        False,
        "lapsed",
        "objection",
    )
    answer = check(tenant, ["patient-a", "patient-b"], REMINDERS)
    assert answer["allowed"] == ["patient-a"]
    assert denied(answer) == {"patient-b": ("lapsed", "objection")}


def register_retained_reminders(tenant) -> None:
    tenant.register_purpose(
        REMINDERS,
        title="Appointment reminders by text message",
        basis="legitimate_interest",
        matter="other",
        retention=RETENTION_7Y,
        legitimate_interest_assessment="Belangenafweging 2025-03: no-shows cost the practice.",
    )


def test_ending_the_basis_while_an_objection_awaits_decision_starts_retention(tenant) -> None:
    register_retained_reminders(tenant)
    tenant.put_subject("patient-e")
    created(establish(tenant, "patient-e", REMINDERS, "legitimate_interest"))
    created(lodge(tenant, "patient-e", REMINDERS, "2026-01-10T00:00:00Z"))
    ended = created(end(tenant, "patient-e", REMINDERS))  # accepted: restricted is in force
    assert status_of(ended) == (False, "lapsed", "basis_ended")
    assert instant(ended["retention_until"]) == instant(RETAINED_UNTIL)
    later = standing(tenant, "patient-e", REMINDERS, at="2034-01-01T00:00:00Z")
    assert status_of(later) == (False, "lapsed", "retention_expired")


def test_objection_after_the_basis_ended_keeps_the_retention_term(tenant) -> None:
    register_retained_reminders(tenant)
    tenant.put_subject("patient-f")
    created(establish(tenant, "patient-f", REMINDERS, "legitimate_interest"))
    created(end(tenant, "patient-f", REMINDERS))
    before = standing(tenant, "patient-f", REMINDERS)
    assert status_of(before) == (False, "lapsed", "basis_ended")
    response = lodge(tenant, "patient-f", REMINDERS, "2026-08-01T00:00:00Z")
    if response.status_code != 201:  # refusing it (nothing in force to object to) is fine too
        assert_problem(response, 409, rule="R18")
    after = standing(tenant, "patient-f", REMINDERS)
    assert status_of(after) == (False, "lapsed", "basis_ended")
    assert instant(after["retention_until"]) == instant(RETAINED_UNTIL)
    expired = standing(tenant, "patient-f", REMINDERS, at="2034-01-01T00:00:00Z")
    assert status_of(expired) == (False, "lapsed", "retention_expired")
