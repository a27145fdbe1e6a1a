"""Non-consent bases and objections over the API, as the practices meet them: a mediation
file on contract and its retention (R6, R21), invoicing on a legal obligation (R1, R21), a
postal newsletter on legitimate interest with its opt-out and the absolute objection (R17,
R19), an objection to legitimate interest awaiting a decision (R18), and the refusals — each
a problem+json naming its rule and field that leaves the history as it was."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from api_support import (
    assert_problem,
    check,
    created,
    denied,
    history,
    instant,
    purpose_body,
    standing,
)

RETENTION_7Y = {"term": "P7Y", "starts": "basis_end"}
ASSESSMENT = (
    "Belangenafweging 2025-02: clients of the practice expect news of similar services; "
    "little data (name, postal address); a free opt-out is offered at intake and in every mailing."
)

MEDIATION = "mediation-file"
INVOICING = "invoicing"
POSTAL = "postal-newsletter"
REMINDERS = "appointment-reminders"
PHOTO = "photo-in-dossier"

STARTED = "2025-03-03T09:00:00Z"
ENDED = "2026-06-30T16:00:00Z"
RETAINED_UNTIL = "2033-06-30T16:00:00Z"  # ENDED + 7 calendar years (R21)


# -- helpers ---------------------------------------------------------------------------------


def register_mediation(tenant) -> None:
    tenant.register_purpose(
        MEDIATION,
        title="Mediation file",
        basis="contract",
        matter="other",
        retention=RETENTION_7Y,
    )


def register_invoicing(tenant) -> None:
    tenant.register_purpose(
        INVOICING,
        title="Invoicing and the fiscal records",
        basis="legal_obligation",
        legal_provision="AWR art. 52",
        matter="property",
        retention=RETENTION_7Y,
    )


def register_postal(tenant) -> None:
    tenant.register_purpose(
        POSTAL,
        title="Postal newsletter",
        basis="legitimate_interest",
        direct_marketing=True,
        matter="other",
        legitimate_interest_assessment=ASSESSMENT,
    )


def register_reminders(tenant) -> None:
    tenant.register_purpose(
        REMINDERS,
        title="Appointment reminders by text message",
        basis="legitimate_interest",
        matter="other",
        legitimate_interest_assessment="Belangenafweging 2025-03: no-shows cost the practice.",
    )


def establish(tenant, ref: str, purpose: str, basis: str, **fields: Any):
    body = {
        "purpose": purpose,
        "basis": basis,
        "reference": "opdracht-2024-17",
        "effective_at": STARTED,
        "recorded_by": "staff:jdevries",
        **fields,
    }
    return tenant.call("POST", f"/v1/subjects/{ref}/bases", json=body)


def end(tenant, ref: str, purpose: str, **fields: Any):
    body = {"effective_at": ENDED, "reason": "assignment completed", **fields}
    return tenant.call("POST", f"/v1/subjects/{ref}/bases/{purpose}/end", json=body)


def lodge(tenant, ref: str, purpose: str, effective_at: str, **fields: Any):
    body = {
        "purpose": purpose,
        "grounds": "I do not want this any more",
        "effective_at": effective_at,
        **fields,
    }
    return tenant.call("POST", f"/v1/subjects/{ref}/objections", json=body)


def decide(tenant, ref: str, purpose: str, upheld: bool, effective_at: str, **fields: Any):
    body = {
        "upheld": upheld,
        "reasons": "objection upheld: no overriding interest" if upheld else "n/a",
        "effective_at": effective_at,
        **fields,
    }
    return tenant.call("POST", f"/v1/subjects/{ref}/objections/{purpose}/decision", json=body)


def status_of(answer: dict) -> tuple[bool, str, str | None]:
    return answer["lawful"], answer["status"], answer["reason"]


def refused(
    tenant,
    ref: str,
    send: Callable[[], Any],
    status: int,
    *,
    rule: str | None = None,
    field: str | None = None,
) -> dict:
    """``send`` is refused with this problem, and the subject's history is unchanged."""
    before = history(tenant, ref)
    body = assert_problem(send(), status, rule=rule, field=field)
    assert history(tenant, ref) == before
    return body


# -- 1. a mediation file on contract (R6, R21) -------------------------------------------------


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


# -- 2. invoicing on a legal obligation (R1, R21) ----------------------------------------------


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


# -- 3. a postal newsletter on legitimate interest (R17, R19) --------------------------------


def test_auto_subscribed_tool_user_without_opt_out_offer_is_refused(tenant) -> None:
    register_postal(tenant)
    tenant.put_subject("tool-user-7")
    refused(
        tenant,
        "tool-user-7",
        lambda: establish(tenant, "tool-user-7", POSTAL, "legitimate_interest"),
        409,
        rule="R19",
        field="opt_out_offered",
    )
    explicit_false = establish(
        tenant, "tool-user-7", POSTAL, "legitimate_interest", opt_out_offered=False
    )
    assert_problem(explicit_false, 409, rule="R19", field="opt_out_offered")
    assert standing(tenant, "tool-user-7", POSTAL)["status"] == "none"
    assert denied(check(tenant, ["tool-user-7"], POSTAL)) == {"tool-user-7": ("none", None)}


def test_postal_newsletter_objection_is_absolute_at_once(tenant) -> None:
    register_postal(tenant)
    tenant.put_subject("reader-1")
    now = created(
        establish(
            tenant,
            "reader-1",
            POSTAL,
            "legitimate_interest",
            reference="intake-2025-03",
            opt_out_offered=True,
        )
    )
    assert status_of(now) == (True, "lawful", None)
    assert now["basis"] == "legitimate_interest"
    assert check(tenant, ["reader-1"], POSTAL)["allowed"] == ["reader-1"]

    objected_at = "2026-09-14T08:30:00Z"
    after = created(lodge(tenant, "reader-1", POSTAL, objected_at, grounds="stop the mail"))
    assert status_of(after) == (False, "lapsed", "objection")  # R17: no restriction phase
    at_once = standing(tenant, "reader-1", POSTAL, at=objected_at)
    assert status_of(at_once) == (False, "lapsed", "objection")
    assert instant(at_once["until"]) == instant(objected_at) and instant(
        at_once["since"]
    ) == instant(STARTED)
    just_before = standing(tenant, "reader-1", POSTAL, at="2026-09-14T08:29:59Z")
    assert status_of(just_before) == (True, "lawful", None)

    for upheld in (True, False):
        refused(
            tenant,
            "reader-1",
            lambda upheld=upheld: decide(tenant, "reader-1", POSTAL, upheld, objected_at),
            409,
            rule="R17",
            field="upheld",
        )
    # The objection is final: the newsletter cannot be switched back on by a new basis.
    refused(
        tenant,
        "reader-1",
        lambda: establish(
            tenant,
            "reader-1",
            POSTAL,
            "legitimate_interest",
            opt_out_offered=True,
            effective_at="2026-10-01T00:00:00Z",
        ),
        409,
        rule="R17",
    )
    assert check(tenant, ["reader-1"], POSTAL)["denied"] == [
        {"subject_ref": "reader-1", "status": "lapsed", "reason": "objection"}
    ]
    assert status_of(standing(tenant, "reader-1", POSTAL)) == (False, "lapsed", "objection")


# -- 4. objection to legitimate interest: restricted until decided (R18) -----------------------


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


# -- 5. refusals that change nothing -----------------------------------------------------------


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


# -- 6. every purpose side by side -------------------------------------------------------------


def test_all_purposes_view_lists_consent_and_other_bases_side_by_side(tenant) -> None:
    tenant.register_purpose(PHOTO)
    register_mediation(tenant)
    register_invoicing(tenant)
    register_reminders(tenant)
    register_postal(tenant)
    tenant.put_subject("client-9")
    assert tenant.consent("client-9", PHOTO).status_code == 201
    created(establish(tenant, "client-9", MEDIATION, "contract"))
    created(end(tenant, "client-9", MEDIATION))
    created(establish(tenant, "client-9", INVOICING, "legal_obligation"))
    created(establish(tenant, "client-9", REMINDERS, "legitimate_interest"))
    created(lodge(tenant, "client-9", REMINDERS, "2026-10-01T00:00:00Z"))

    response = tenant.call("GET", "/v1/subjects/client-9/standing")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["subject_ref"] == "client-9"
    seen = {
        p["purpose"]: (p["basis"], p["status"], p["reason"], instant(p["retention_until"]))
        for p in body["purposes"]
    }
    assert seen == {
        PHOTO: ("consent", "lawful", None, None),
        MEDIATION: ("contract", "lapsed", "basis_ended", instant(RETAINED_UNTIL)),
        INVOICING: ("legal_obligation", "lawful", None, None),
        REMINDERS: ("legitimate_interest", "restricted", None, None),
        POSTAL: ("legitimate_interest", "none", None, None),
    }
    lawful = {p["purpose"] for p in body["purposes"] if p["lawful"]}
    assert lawful == {PHOTO, INVOICING}
    for answer in body["purposes"]:  # the same answers as the one-purpose view
        one = standing(tenant, "client-9", answer["purpose"], at=answer["at"])
        assert status_of(one) == status_of(answer)
        assert one["retention_until"] == answer["retention_until"]


# -- 7. history ------------------------------------------------------------------------------


def test_history_lists_bases_and_objections_with_their_details(tenant) -> None:
    register_mediation(tenant)
    register_reminders(tenant)
    tenant.put_subject("client-h")
    established = created_id(establish(tenant, "client-h", MEDIATION, "contract"))
    ended = created_id(end(tenant, "client-h", MEDIATION, reason="mediation completed"))
    li = created_id(
        establish(tenant, "client-h", REMINDERS, "legitimate_interest", reference="LIA-3")
    )
    lodged = created_id(
        lodge(tenant, "client-h", REMINDERS, "2026-10-01T09:00:00Z", grounds="texts at night")
    )
    decided = created_id(
        decide(
            tenant,
            "client-h",
            REMINDERS,
            False,
            "2026-10-15T12:00:00Z",
            reasons="compelling grounds: missed appointments harm the treatment",
            recorded_by="staff:fdpo",
        )
    )
    events = history(tenant, "client-h")
    assert [e["type"] for e in events] == [
        "SubjectRegistered",
        "BasisEstablished",
        "BasisEnded",
        "BasisEstablished",
        "ObjectionLodged",
        "ObjectionDecided",
    ]
    by_id = {e["event_id"]: e for e in events}
    assert list(by_id)[1:] == [established, ended, li, lodged, decided]

    e = by_id[established]
    assert e["purpose"] == MEDIATION and instant(e["effective_at"]) == instant(STARTED)
    assert e["details"]["basis"] == "contract"
    assert e["details"]["reference"] == "opdracht-2024-17"
    assert e["details"]["recorded_by"] == "staff:jdevries"
    e = by_id[ended]
    assert e["purpose"] == MEDIATION and instant(e["effective_at"]) == instant(ENDED)
    assert e["details"]["reason"] == "mediation completed"
    e = by_id[li]
    assert e["purpose"] == REMINDERS
    assert (e["details"]["basis"], e["details"]["reference"]) == ("legitimate_interest", "LIA-3")
    e = by_id[lodged]
    assert e["purpose"] == REMINDERS and instant(e["effective_at"]) == instant(
        "2026-10-01T09:00:00Z"
    )
    assert e["details"]["grounds"] == "texts at night"
    e = by_id[decided]
    assert e["purpose"] == REMINDERS and instant(e["effective_at"]) == instant(
        "2026-10-15T12:00:00Z"
    )
    assert e["details"]["upheld"] is False
    assert e["details"]["reasons"].startswith("compelling grounds:")
    assert e["details"]["recorded_by"] == "staff:fdpo"
    recorded = [instant(e["recorded_at"]) for e in events]
    assert recorded == sorted(recorded)
    # The standing cites the events that prove it.
    answer = standing(tenant, "client-h", REMINDERS)
    assert answer["evidence"] == [li]
    lapsed = standing(tenant, "client-h", MEDIATION)
    assert lapsed["evidence"] == [established, ended]


def created_id(response) -> str:
    assert response.status_code == 201, response.text
    return response.json()["event_id"]
