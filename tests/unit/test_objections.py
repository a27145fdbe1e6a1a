"""Objection (art. 21): absolute against direct marketing (R17); against legitimate interest
or public task it restricts processing until the controller decides (R18)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from grondslag.ledger.domain.errors import RuleViolated
from grondslag.ledger.domain.values import (
    BasisEnd,
    Establishment,
    Objection,
    ObjectionDecision,
    PersonalData,
    PurposeTerms,
    Retention,
)

from builders import MINUTE, SUBJECT, TENANT, give, notice, standing

REGISTERED = datetime(2023, 1, 1, tzinfo=UTC)
ESTABLISHED = datetime(2023, 2, 1, 9, 0, tzinfo=UTC)
OBJECTED = datetime(2024, 3, 4, 10, 30, tzinfo=UTC)
DECIDED = datetime(2024, 4, 1, 14, 0, tzinfo=UTC)
LATER = datetime(2024, 9, 1, tzinfo=UTC)


PURPOSES: dict[str, PurposeTerms] = {
    # R17: mail about the practice's own similar services to existing clients (soft opt-in).
    "client-mailing": PurposeTerms(
        title="Mail about our own similar services",
        basis="legitimate_interest",
        notice=notice(),
        direct_marketing=True,
        legitimate_interest_assessment="LIA 2023-01: existing clients, similar services",
    ),
    # R18: legitimate interest that is not marketing.
    "fraud-check": PurposeTerms(
        title="Fraud prevention on invoices",
        basis="legitimate_interest",
        notice=notice(),
        legitimate_interest_assessment="LIA 2023-02: preventing invoice fraud",
    ),
    # R18: a municipality's youth-care task (public task).
    "youth-care-task": PurposeTerms(
        title="Youth-care support under the Jeugdwet",
        basis="public_task",
        notice=notice(),
    ),
    "mediation-file": PurposeTerms(title="Mediation file", basis="contract", notice=notice()),
    "invoicing": PurposeTerms(
        title="Invoicing", basis="legal_obligation", notice=notice(), legal_provision="AWR 52"
    ),
    "newsletter": PurposeTerms(title="Newsletter", basis="consent", notice=notice()),
    "consented-mailing": PurposeTerms(
        title="Offers by e-mail", basis="consent", notice=notice(), direct_marketing=True
    ),
}


def setup(app, purpose: str, **changes: object) -> None:
    app.register_purpose(
        TENANT, purpose, msgspec.structs.replace(PURPOSES[purpose], **changes), REGISTERED
    )
    app.put_subject(TENANT, SUBJECT, PersonalData())


def establish(app, purpose: str, effective_at: datetime = ESTABLISHED):
    return app.establish_basis(
        TENANT,
        SUBJECT,
        purpose,
        Establishment(
            basis=PURPOSES[purpose].basis,
            reference="intake-2023-007",
            effective_at=effective_at,
            recorded_by="staff:anna",
            opt_out_offered=PURPOSES[purpose].direct_marketing,
        ),
    )


def object_to(app, purpose: str, effective_at: datetime = OBJECTED):
    return app.lodge_objection(
        TENANT,
        SUBJECT,
        purpose,
        Objection(
            grounds="I do not want this", effective_at=effective_at, recorded_by="staff:bram"
        ),
    )


def decide(app, purpose: str, upheld: bool, effective_at: datetime = DECIDED):
    return app.decide_objection(
        TENANT,
        SUBJECT,
        purpose,
        ObjectionDecision(
            upheld=upheld,
            reasons="weighed against the subject's situation",
            effective_at=effective_at,
            recorded_by="staff:dpo",
        ),
    )


def end(app, purpose: str, effective_at: datetime):
    return app.end_basis(
        TENANT, SUBJECT, purpose, BasisEnd(effective_at=effective_at, reason="task ended")
    )


def objected(app, purpose: str) -> tuple[str, str]:
    setup(app, purpose)
    established, _ = establish(app, purpose)
    objection, _ = object_to(app, purpose)
    return str(established), str(objection)


# -- R17: objection to direct marketing is absolute --------------------------------------
def test_r17_direct_marketing_is_lawful_until_the_minute_before_the_objection(app):
    objected(app, "client-mailing")
    answer = standing(app, "client-mailing", OBJECTED - MINUTE)
    assert (answer.lawful, answer.status) == (True, "lawful")
    assert (answer.until, answer.changes_at) == (OBJECTED, OBJECTED)


@pytest.mark.parametrize("after", [timedelta(0), MINUTE, timedelta(days=400)])
def test_r17_objection_to_direct_marketing_lapses_it_at_the_objections_effective_time(app, after):
    established, objection = objected(app, "client-mailing")
    answer = standing(app, "client-mailing", OBJECTED + after)
    assert (answer.lawful, answer.status, answer.reason) == (False, "lapsed", "objection")
    assert answer.until == OBJECTED
    assert answer.since == ESTABLISHED
    assert objection in answer.evidence and established in answer.evidence
    assert answer.changes_at is None


def test_r17_the_answer_to_lodging_already_says_lapsed(app):
    setup(app, "client-mailing")
    establish(app, "client-mailing")
    _, answer = object_to(app, "client-mailing")
    assert (answer.status, answer.reason) == ("lapsed", "objection")


@pytest.mark.parametrize("upheld", [True, False])
def test_r17_a_decision_on_a_direct_marketing_objection_is_refused(app, refused, upheld):
    objected(app, "client-mailing")
    with refused("R17") as info:
        decide(app, "client-mailing", upheld=upheld)
    assert info.value.field == "upheld"


def test_r17_re_establishing_direct_marketing_after_the_objection_is_refused(app, refused):
    objected(app, "client-mailing")
    with refused("R17") as info:
        establish(app, "client-mailing", effective_at=LATER)
    assert info.value.field == "purpose"


def test_r17_objection_to_direct_marketing_on_consent_points_to_withdrawal(app, refused):
    setup(app, "consented-mailing")
    with refused("R17") as info:
        object_to(app, "consented-mailing")
    assert "withdrawal" in info.value.detail


# -- R18: objection to legitimate interest or public task restricts at once ----------------
OBJECTABLE = ["fraud-check", "youth-care-task"]


@pytest.mark.parametrize("purpose", OBJECTABLE)
def test_r18_processing_is_lawful_until_the_minute_before_the_objection(app, purpose):
    objected(app, purpose)
    answer = standing(app, purpose, OBJECTED - MINUTE)
    assert (answer.lawful, answer.status, answer.since) == (True, "lawful", ESTABLISHED)
    assert answer.changes_at == OBJECTED


@pytest.mark.parametrize("purpose", OBJECTABLE)
@pytest.mark.parametrize("after", [timedelta(0), MINUTE, timedelta(days=700)])
def test_r18_objection_restricts_processing_from_its_effective_time(app, purpose, after):
    established, objection = objected(app, purpose)
    answer = standing(app, purpose, OBJECTED + after)
    assert (answer.lawful, answer.status, answer.reason) == (False, "restricted", None)
    assert answer.since == OBJECTED
    assert answer.basis == PURPOSES[purpose].basis
    assert answer.evidence == [established, objection]


@pytest.mark.parametrize("purpose", OBJECTABLE)
def test_r18_the_answer_to_lodging_already_says_restricted(app, purpose):
    setup(app, purpose)
    establish(app, purpose)
    _, answer = object_to(app, purpose)
    assert (answer.lawful, answer.status) == (False, "restricted")


@pytest.mark.parametrize("purpose", OBJECTABLE)
def test_r18_upheld_objection_lapses_the_standing_from_the_decision(app, purpose):
    objected(app, purpose)
    decision, _ = decide(app, purpose, upheld=True)

    pending = standing(app, purpose, DECIDED - MINUTE)
    assert pending.status == "restricted"
    assert pending.changes_at == DECIDED
    for at in (DECIDED, DECIDED + MINUTE, LATER):
        answer = standing(app, purpose, at)
        assert (answer.lawful, answer.status, answer.reason) == (False, "lapsed", "objection")
        assert answer.until == DECIDED
        assert str(decision) in answer.evidence


@pytest.mark.parametrize("purpose", OBJECTABLE)
def test_r18_rejected_objection_makes_processing_lawful_again_from_the_decision(app, purpose):
    established, _ = objected(app, purpose)
    decide(app, purpose, upheld=False)

    pending = standing(app, purpose, DECIDED - MINUTE)
    assert (pending.lawful, pending.status, pending.changes_at) == (False, "restricted", DECIDED)
    for at in (DECIDED, DECIDED + MINUTE, LATER):
        answer = standing(app, purpose, at)
        assert (answer.lawful, answer.status, answer.reason) == (True, "lawful", None)
        assert answer.since == DECIDED
        assert answer.evidence == [established]


def test_r18_a_new_objection_after_a_rejection_restricts_again(app):
    objected(app, "fraud-check")
    decide(app, "fraud-check", upheld=False)
    again = LATER
    object_to(app, "fraud-check", effective_at=again)
    assert standing(app, "fraud-check", again - MINUTE).lawful
    answer = standing(app, "fraud-check", again)
    assert (answer.status, answer.since) == ("restricted", again)


def test_r18_a_second_objection_while_one_is_pending_is_refused(app, refused):
    objected(app, "fraud-check")
    with refused("R18") as info:
        object_to(app, "fraud-check", effective_at=OBJECTED + timedelta(days=7))
    assert info.value.field == "purpose"


def test_r18_establishing_again_while_an_objection_is_pending_is_refused(app, refused):
    objected(app, "fraud-check")
    with refused("R1"):
        establish(app, "fraud-check", effective_at=OBJECTED + timedelta(days=7))


@pytest.mark.parametrize("upheld", [True, False])
def test_r18_a_decision_with_no_objection_lodged_is_refused(app, refused, upheld):
    setup(app, "fraud-check")
    establish(app, "fraud-check")
    with refused("R18") as info:
        decide(app, "fraud-check", upheld=upheld)
    assert info.value.field == "effective_at"


def test_r18_a_decision_effective_before_the_objection_is_refused(app, refused):
    objected(app, "fraud-check")
    with refused("R18"):
        decide(app, "fraud-check", upheld=True, effective_at=OBJECTED - MINUTE)


def test_r18_a_decision_at_the_objections_effective_time_is_accepted(app):
    objected(app, "fraud-check")
    decide(app, "fraud-check", upheld=True, effective_at=OBJECTED)
    assert standing(app, "fraud-check", OBJECTED).reason == "objection"


@pytest.mark.parametrize("first", [True, False])
def test_r18_a_second_decision_on_a_decided_objection_is_refused(app, refused, first):
    objected(app, "fraud-check")
    decide(app, "fraud-check", upheld=first)
    with refused("R18"):
        decide(app, "fraud-check", upheld=not first, effective_at=LATER)


def test_r18_objection_to_a_consent_purpose_is_refused_pointing_to_withdrawal(app, refused):
    purpose = "newsletter"
    setup(app, purpose)
    give(app, purpose, ESTABLISHED)
    with refused("R18") as info:
        object_to(app, purpose)
    assert "withdrawal" in info.value.detail
    assert info.value.field == "purpose"
    assert standing(app, purpose, LATER).lawful


@pytest.mark.parametrize("purpose", ["mediation-file", "invoicing"])
def test_r18_objection_to_a_contract_or_legal_obligation_is_refused(app, refused, purpose):
    setup(app, purpose)
    establish(app, purpose)
    with refused("R18") as info:
        object_to(app, purpose)
    assert PURPOSES[purpose].basis in info.value.detail
    assert standing(app, purpose, LATER).lawful


# -- objections and the basis's own life -------------------------------------------------
def test_r18_a_second_objection_after_an_upheld_one_is_refused_and_the_lapse_stands(app, refused):
    objected(app, "fraud-check")
    decide(app, "fraud-check", upheld=True)
    with refused("R18"):
        object_to(app, "fraud-check", effective_at=LATER)
    for at in (LATER, LATER + timedelta(days=60)):
        answer = standing(app, "fraud-check", at)
        assert (answer.status, answer.reason, answer.until) == ("lapsed", "objection", DECIDED)


def test_r18_re_establishing_after_an_upheld_objection_is_refused(app, refused):
    objected(app, "fraud-check")
    decide(app, "fraud-check", upheld=True)
    with refused("R18") as info:
        establish(app, "fraud-check", effective_at=LATER)
    assert info.value.field == "purpose"


@pytest.mark.parametrize("purpose", OBJECTABLE)
def test_r18_objection_when_nothing_was_established_is_refused(app, refused, purpose):
    setup(app, purpose)
    with refused("R18"):
        object_to(app, purpose)
    assert standing(app, purpose, LATER).status == "none"


def test_r18_objection_effective_before_the_basis_took_effect_is_refused(app, refused):
    setup(app, "fraud-check")
    establish(app, "fraud-check")
    with refused("R18"):
        object_to(app, "fraud-check", effective_at=ESTABLISHED - MINUTE)


def test_r18_objection_after_the_basis_ended_is_refused(app, refused):
    setup(app, "fraud-check")
    establish(app, "fraud-check")
    end(app, "fraud-check", OBJECTED - timedelta(days=1))
    with refused("R18"):
        object_to(app, "fraud-check")
    assert standing(app, "fraud-check", LATER).reason == "basis_ended"


def test_r18_ending_the_basis_while_an_objection_is_pending_starts_retention(app):
    setup(app, "youth-care-task", retention=Retention(term="P20Y"))
    establish(app, "youth-care-task")
    object_to(app, "youth-care-task")
    ended = OBJECTED + timedelta(days=10)
    end(app, "youth-care-task", ended)
    assert standing(app, "youth-care-task", ended - MINUTE).status == "restricted"
    for at in (ended, LATER):
        answer = standing(app, "youth-care-task", at)
        assert (answer.status, answer.reason) == ("lapsed", "basis_ended")
        assert answer.retention_until == datetime(2044, 3, 14, 10, 30, tzinfo=UTC)
        assert answer.changes_at == answer.retention_until


@pytest.mark.parametrize("ended_first", [False, True])
def test_r17_a_direct_marketing_objection_with_no_basis_in_force_never_lets_marketing_start(
    app, ended_first
):
    """Either the objection is refused and nothing is recorded, or it is recorded and a
    later soft opt-in is refused (R17). Never: recorded, then silently overridden."""
    setup(app, "client-mailing")
    if ended_first:
        establish(app, "client-mailing")
        end(app, "client-mailing", OBJECTED - timedelta(days=30))
    before = app.recorder.max_notification_id()
    try:
        object_to(app, "client-mailing")
    except RuleViolated:
        assert app.recorder.max_notification_id() == before
        return
    with pytest.raises(RuleViolated) as info:
        establish(app, "client-mailing", effective_at=LATER)
    assert info.value.rule == "R17"


@pytest.mark.parametrize("first", [True, False])
def test_r18_a_second_decision_back_dated_before_the_first_is_refused(app, refused, first):
    """One objection, one decision: a decision dated between the objection and the decision
    already recorded would contradict it (or, sent twice at once, repeat it)."""
    objected(app, "fraud-check")
    decide(app, "fraud-check", upheld=first)
    with refused("R18") as info:
        decide(app, "fraud-check", upheld=not first, effective_at=DECIDED - timedelta(days=7))
    assert info.value.field == "effective_at"
    assert standing(app, "fraud-check", LATER).reason == ("objection" if first else None)


def test_r18_a_new_objection_after_a_rejection_gets_its_own_decision(app):
    objected(app, "fraud-check")
    decide(app, "fraud-check", upheld=False)
    object_to(app, "fraud-check", effective_at=LATER)
    decide(app, "fraud-check", upheld=True, effective_at=LATER + timedelta(days=1))
    assert standing(app, "fraud-check", LATER + timedelta(days=2)).reason == "objection"
