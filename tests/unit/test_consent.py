"""Giving and withdrawing consent (R4, R6, R7, R8, R9)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from grondslag.ledger.domain.ids import event_id, standing_id
from grondslag.ledger.domain.standing import Standing
from grondslag.ledger.domain.values import Consent, Giver, PersonalData

from builders import (
    APR_1,
    EVIDENCE,
    FEB_1,
    JAN_1,
    JUL_1,
    JUN_1,
    MAR_1,
    MAY_1,
    SUBJECT,
    TENANT,
    give,
    notice,
    setup,
    standing,
    terms,
    withdraw,
)


def standing_version(app, purpose: str = "newsletter") -> int:
    return app.repository.get(standing_id(TENANT, SUBJECT, purpose)).version


# -- R4: explicit consent ------------------------------------------------------------------
@pytest.mark.parametrize("method", ["verbal", "web_form", "double_opt_in"])
def test_r4_consent_marked_explicit_by_a_non_explicit_method_is_refused(app, refused, method):
    setup(app)
    with refused("R4") as info:
        give(app, method=method, explicit=True)
    assert info.value.field == "method"


def test_r4_special_category_purpose_refuses_consent_that_is_not_explicit(app, refused):
    setup(app, special_categories=("health",), special_condition="explicit_consent")
    with refused("R4") as info:
        give(app, method="written", explicit=False)
    assert info.value.field == "explicit"


def test_r4_special_category_purpose_refuses_verbal_consent_claimed_explicit(app, refused):
    setup(app, special_categories=("health",), special_condition="explicit_consent")
    with refused("R4"):
        give(app, method="verbal", explicit=True)


@pytest.mark.parametrize("method", ["written", "email", "signed_electronic"])
def test_r4_written_explicit_consent_is_accepted_for_a_special_category_purpose(app, method):
    setup(app, special_categories=("health",), special_condition="explicit_consent")
    _, answer = give(app, method=method, explicit=True)
    assert standing(app, at=MAR_1).lawful
    assert answer.evidence


def test_r4_a_refused_consent_leaves_an_existing_standing_unchanged(app, refused):
    setup(app)
    give(app)
    version = standing_version(app)
    with refused("R4"):
        give(app, method="verbal", explicit=True, effective_at=MAR_1)
    assert standing_version(app) == version


# -- R6: a contract is not consent --------------------------------------------------------
def test_r6_contract_purpose_is_never_given_by_consent(app, refused):
    setup(app, "care-file", basis="contract")
    with refused("R6") as info:
        give(app, "care-file")
    assert info.value.field == "purpose"
    assert "/bases" in info.value.detail


@pytest.mark.parametrize(
    ("basis", "extra"),
    [
        ("legal_obligation", {"legal_provision": "AWR art. 52"}),
        ("vital_interests", {}),
        ("public_task", {}),
        ("legitimate_interest", {"legitimate_interest_assessment": "LIA 2025-01"}),
    ],
)
def test_r6_purpose_on_another_non_consent_basis_is_refused(app, refused, basis, extra):
    setup(app, "core", basis=basis, **extra)
    with refused("R1") as info:
        give(app, "core")
    assert info.value.field == "purpose"


def test_r6_consent_while_a_contract_version_is_in_force_is_refused(app, refused):
    app.register_purpose(TENANT, "file", terms(basis="contract"), JAN_1)
    app.revise_purpose(TENANT, "file", {"basis": "consent", "notice": notice("n2")}, True, JUN_1)
    app.put_subject(TENANT, SUBJECT, PersonalData())
    with refused("R6"):
        give(app, "file", notice_version="n2", effective_at=MAR_1)


def test_r1_consent_before_a_later_change_of_basis_takes_effect_is_accepted(app):
    app.register_purpose(TENANT, "optional", terms(), JAN_1)
    app.revise_purpose(
        TENANT, "optional", {"basis": "contract", "notice": notice("n2")}, True, JUN_1
    )
    app.put_subject(TENANT, SUBJECT, PersonalData())
    give(app, "optional", effective_at=MAR_1)
    assert standing(app, at=APR_1, purpose="optional").lawful


# -- R7: proof of consent -------------------------------------------------------------------
def test_r7_recorded_consent_keeps_everything_needed_to_prove_it(app):
    setup(app)
    app.revise_purpose(
        TENANT, "newsletter", {"recipients": ("Mailer BV",), "notice": notice("n2")}, True, FEB_1
    )
    before = datetime.now(UTC)
    event, answer = give(
        app,
        method="signed_electronic",
        explicit=True,
        notice_version="n2",
        effective_at=MAR_1,
        expires_at=JUL_1,
    )
    after = datetime.now(UTC)

    stored = app.repository.get(standing_id(TENANT, SUBJECT, "newsletter"))
    [fact] = stored.facts
    assert fact.statement == Consent(
        method="signed_electronic",
        explicit=True,
        notice_version="n2",
        purpose_version=2,
        evidence=EVIDENCE,
        effective_at=MAR_1,
        recorded_by="staff:anna",
        representative_ref=None,
        expires_at=JUL_1,
    )
    assert fact.event_id == event
    assert answer.evidence == [str(event)]
    assert standing(app, at=APR_1).given_by == [Giver("subject")]

    [given] = [e for e in app.events.get(stored.id) if isinstance(e, Standing.ConsentGiven)]
    assert event_id(given.originator_id, given.originator_version) == event
    assert fact.recorded_at == given.timestamp
    assert before <= fact.recorded_at <= after
    assert fact.recorded_at.tzinfo is not None


def test_r7_unknown_notice_version_is_refused(app, refused):
    setup(app)
    with refused("R7") as info:
        give(app, notice_version="n9")
    assert info.value.field == "notice_version"


def test_r7_notice_of_another_purpose_is_refused(app, refused):
    setup(app)
    app.register_purpose(TENANT, "events", terms(title="Events", notice=notice("events-1")), JAN_1)
    with refused("R7"):
        give(app, notice_version="events-1")


# -- R8: withdrawal ---------------------------------------------------------------------------
def test_r8_withdrawal_recorded_later_ends_the_standing_at_its_effective_time(app):
    setup(app)
    give(app, effective_at=FEB_1)
    withdraw(app, effective_at=MAY_1)

    assert standing(app, at=MAR_1).lawful
    lapsed = standing(app, at=JUN_1)
    assert (lapsed.lawful, lapsed.status, lapsed.reason) == (False, "lapsed", "withdrawn")
    assert lapsed.until == MAY_1
    at_effect = standing(app, at=MAY_1)
    assert (at_effect.status, at_effect.reason) == ("lapsed", "withdrawn")


def test_r8_processing_before_the_withdrawal_stays_lawful(app):
    setup(app)
    give(app, effective_at=FEB_1)
    withdraw(app, effective_at=MAY_1)
    just_before = standing(app, at=MAY_1 - timedelta(microseconds=1))
    assert just_before.lawful and just_before.status == "lawful"
    assert just_before.since == FEB_1
    assert just_before.changes_at == MAY_1


def test_r8_withdrawal_in_the_future_is_refused(app, refused):
    setup(app)
    give(app)
    version = standing_version(app)
    with refused("R8") as info:
        withdraw(app, effective_at=datetime.now(UTC) + timedelta(days=1))
    assert info.value.field == "effective_at"
    assert standing_version(app) == version


def test_r8_withdrawing_when_there_is_no_consent_is_refused(app, refused):
    setup(app)
    with refused("R8"):
        withdraw(app)


def test_r8_withdrawing_twice_is_refused(app, refused):
    setup(app)
    give(app)
    withdraw(app, effective_at=MAY_1)
    with refused("R8"):
        withdraw(app, effective_at=JUN_1)


def test_r8_withdrawal_effective_before_the_consent_is_refused(app, refused):
    setup(app)
    give(app, effective_at=MAR_1)
    with refused("R8"):
        withdraw(app, effective_at=FEB_1)


def test_r8_withdrawal_without_a_time_takes_effect_now(app):
    setup(app)
    give(app)
    before = datetime.now(UTC)
    _, answer = withdraw(app, effective_at=None)
    after = datetime.now(UTC)
    assert answer.reason == "withdrawn"
    assert answer.until is not None and before <= answer.until <= after


# -- R9: expiry -------------------------------------------------------------------------------
def test_r9_consent_lapses_at_its_expiry(app):
    setup(app)
    give(app, effective_at=FEB_1, expires_at=JUN_1)
    expired = standing(app, at=JUN_1)
    assert (expired.lawful, expired.status, expired.reason) == (False, "lapsed", "expired")
    assert expired.until == JUN_1
    assert standing(app, at=JUL_1).reason == "expired"


def test_r9_until_and_changes_at_are_the_expiry_while_lawful(app):
    setup(app)
    give(app, effective_at=FEB_1, expires_at=JUN_1)
    answer = standing(app, at=MAR_1)
    assert answer.lawful
    assert answer.until == JUN_1
    assert answer.changes_at == JUN_1


@pytest.mark.parametrize("expires_at", [JAN_1, FEB_1])
def test_r9_expiry_not_after_the_effective_time_is_refused(app, refused, expires_at):
    setup(app)
    with refused("R9") as info:
        give(app, effective_at=FEB_1, expires_at=expires_at)
    assert info.value.field == "expires_at"
