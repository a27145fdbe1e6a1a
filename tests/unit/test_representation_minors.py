"""Who may consent for a minor: under 16 a parent with authority or a guardian (R11), either
of two parents with authority (R12), in care from 12 the parent and the minor together
(R13), and from the 16th birthday the minor alone (R14).

Birthdays are calendar dates in Europe/Amsterdam: the 16th birthday of someone born on
15 January 2010 starts at 2026-01-14 23:00 UTC, of someone born on 15 July 2010 at
2026-07-14 22:00 UTC.
"""

from __future__ import annotations

from datetime import date

import pytest

from grondslag.ledger.domain.minors import turns
from grondslag.ledger.domain.values import Giver

from builders import (
    APR_1,
    CARE,
    CHILD,
    CHILD_12,
    FEB_1,
    JUN_1,
    MAR_1,
    MAY_1,
    MINUTE,
    SEASONS,
    SUMMER_16,
    SUMMER_BIRTH,
    TEEN,
    WINTER_16,
    WINTER_BIRTH,
    give,
    minor_with_parent,
    purpose,
    rep,
    represent,
    standing,
    subject,
    withdraw,
)


# -- R11: under 16 a parent with authority or a guardian consents ------------------------
def test_r11_minor_under_16_cannot_consent_alone(app, refused):
    code = purpose(app)
    subject(app, TEEN)
    with refused("R11") as info:
        give(app, code, FEB_1)
    assert info.value.field == "representative_ref"
    assert "2028-03-10" in info.value.detail  # names the 16th birthday (Amsterdam date)


def test_r11_minor_under_12_cannot_consent_alone_even_in_care(app, refused):
    code = purpose(app, **CARE)
    subject(app, CHILD)
    with refused("R11"):
        give(app, code, FEB_1)


def test_r11_minor_may_consent_alone_to_a_purpose_marked_minor_may_consent(app):
    code = purpose(app, minor_may_consent=True)
    subject(app, CHILD)
    give(app, code, FEB_1)
    answer = standing(app, code, MAR_1)
    assert (answer.lawful, answer.status) == (True, "lawful")
    assert answer.given_by == [Giver("subject")]


@pytest.mark.parametrize("kind", ["parental_authority", "guardian"])
def test_r11_parental_representative_consents_for_a_minor(app, kind):
    code = minor_with_parent(app, TEEN, kind)
    give(app, code, FEB_1, by="mother")
    answer = standing(app, code, MAR_1)
    assert (answer.lawful, answer.status) == (True, "lawful")
    assert answer.given_by == [rep("mother", kind)]


def test_r11_unregistered_parent_is_not_a_representative_and_is_refused_with_r16(app, refused):
    code = minor_with_parent(app, TEEN)
    with refused("R16") as info:
        give(app, code, FEB_1, by="father")
    assert info.value.field == "representative_ref"


@pytest.mark.parametrize("kind", ["parental_authority", "guardian"])
def test_r11_registering_a_parental_representative_without_a_birth_date_is_refused(
    app, refused, kind
):
    subject(app, None)
    with refused("R11") as info:
        represent(app, "mother", kind)
    assert info.value.field == "kind"


# -- R12: two parents with authority ---------------------------------------------------------
def test_r12_one_of_two_parents_consent_makes_it_lawful(app):
    code = minor_with_parent(app, TEEN)
    represent(app, "father", "parental_authority")
    give(app, code, FEB_1, by="mother")
    answer = standing(app, code, MAR_1)
    assert (answer.lawful, answer.status) == (True, "lawful")
    assert answer.given_by == [rep("mother", "parental_authority")]


def test_r12_the_other_parents_withdrawal_ends_it(app):
    code = minor_with_parent(app, TEEN)
    represent(app, "father", "parental_authority")
    give(app, code, FEB_1, by="mother")
    _, answer = withdraw(app, code, MAY_1, by="father")
    assert answer.reason == "withdrawn"

    assert standing(app, code, MAY_1 - MINUTE).lawful
    after = standing(app, code, JUN_1)
    assert (after.lawful, after.status, after.reason) == (False, "lapsed", "withdrawn")
    assert after.until == MAY_1


def test_r12_a_parents_withdrawal_ends_both_parents_consents(app):
    code = minor_with_parent(app, TEEN)
    represent(app, "father", "parental_authority")
    give(app, code, FEB_1, by="mother")
    give(app, code, MAR_1, by="father")
    assert len(standing(app, code, APR_1).given_by) == 2
    withdraw(app, code, MAY_1, by="mother")
    after = standing(app, code, JUN_1)
    assert (after.status, after.reason, after.given_by) == ("lapsed", "withdrawn", [])


# -- R13: in care between 12 and 16 both the parent and the minor ------------------------
def test_r13_care_between_12_and_16_parent_only_is_pending_on_the_subject(app):
    code = minor_with_parent(app, TEEN, **CARE)
    give(app, code, FEB_1, by="mother")
    answer = standing(app, code, MAR_1)
    assert (answer.lawful, answer.status, answer.missing) == (False, "pending", ["subject"])
    assert answer.given_by == [rep("mother", "parental_authority")]


def test_r13_care_between_12_and_16_child_only_is_pending_on_the_parent(app):
    code = minor_with_parent(app, TEEN, **CARE)
    give(app, code, FEB_1)
    answer = standing(app, code, MAR_1)
    assert (answer.lawful, answer.status) == (False, "pending")
    assert answer.missing == ["parental_authority"]
    assert answer.given_by == [Giver("subject")]


def test_r13_care_between_12_and_16_parent_and_child_together_are_lawful(app):
    code = minor_with_parent(app, TEEN, **CARE)
    give(app, code, FEB_1, by="mother")
    give(app, code, MAR_1)
    assert standing(app, code, MAR_1 - MINUTE).status == "pending"
    answer = standing(app, code, APR_1)
    assert (answer.lawful, answer.status, answer.missing) == (True, "lawful", [])
    assert answer.given_by == [rep("mother", "parental_authority"), Giver("subject")]
    assert answer.since == MAR_1


def test_r13_care_under_12_the_parent_alone_is_lawful_until_the_12th_birthday(app):
    code = minor_with_parent(app, CHILD, **CARE)
    give(app, code, FEB_1, by="mother")
    answer = standing(app, code, MAR_1)
    assert (answer.lawful, answer.status) == (True, "lawful")
    assert answer.changes_at == CHILD_12 == turns(CHILD, 12)
    assert answer.until == CHILD_12

    assert standing(app, code, CHILD_12 - MINUTE).lawful
    at_12 = standing(app, code, CHILD_12)
    assert (at_12.lawful, at_12.status, at_12.missing) == (False, "pending", ["subject"])
    assert standing(app, code, CHILD_12 + MINUTE).status == "pending"


def test_r13_a_parent_may_not_co_decide_in_a_purpose_that_is_not_care(app):
    code = minor_with_parent(app, TEEN)  # matter "other": the parent alone decides
    give(app, code, FEB_1, by="mother")
    answer = standing(app, code, MAR_1)
    assert (answer.lawful, answer.missing) == (True, [])


def test_r13_from_16_the_childs_care_consent_stands_alone_when_the_parents_lapses(app):
    code = minor_with_parent(app, WINTER_BIRTH, **CARE)
    give(app, code, FEB_1, by="mother")
    give(app, code, MAR_1)
    assert standing(app, code, APR_1).lawful
    after = standing(app, code, WINTER_16 + MINUTE)
    assert (after.lawful, after.status) == (True, "lawful")
    assert after.given_by == [Giver("subject")]
    assert standing(app, code, APR_1).changes_at == WINTER_16


def test_r13_a_minor_alone_suffices_for_care_offered_directly_to_minors(app):
    code = purpose(app, "youth-chat", minor_may_consent=True, **CARE)
    subject(app, TEEN)
    give(app, code, FEB_1)
    answer = standing(app, code, MAR_1)
    assert (answer.status, answer.given_by, answer.missing) == ("lawful", [Giver("subject")], [])


# -- R14: at 16 a parent's authority ends --------------------------------------------------
@SEASONS
def test_r14_parents_consent_lapses_at_midnight_amsterdam_on_the_16th_birthday(
    app, born, sixteenth
):
    assert turns(born, 16) == sixteenth
    code = minor_with_parent(app, born)
    give(app, code, FEB_1, by="mother")

    before = standing(app, code, sixteenth - MINUTE)
    assert (before.lawful, before.status) == (True, "lawful")
    for at in (sixteenth, sixteenth + MINUTE):
        after = standing(app, code, at)
        assert (after.lawful, after.status) == (False, "lapsed")
        assert after.reason == "subject_reached_age_of_consent"
        assert after.until == sixteenth
        assert after.given_by == []


@SEASONS
def test_r14_until_and_changes_at_of_a_parents_consent_are_the_16th_birthday(app, born, sixteenth):
    code = minor_with_parent(app, born)
    give(app, code, FEB_1, by="mother")
    answer = standing(app, code, MAR_1)
    assert answer.until == sixteenth
    assert answer.changes_at == sixteenth
    assert answer.since == FEB_1


@SEASONS
def test_r14_parents_consent_survives_the_16th_birthday_when_the_purpose_says_so(
    app, born, sixteenth
):
    code = minor_with_parent(app, born, survives_authority_end=True)
    give(app, code, FEB_1, by="mother")
    after = standing(app, code, sixteenth + MINUTE)
    assert (after.lawful, after.status, after.reason) == (True, "lawful", None)
    assert after.given_by == [rep("mother", "parental_authority")]
    assert standing(app, code, MAR_1).until is None


@SEASONS
def test_r14_parents_consent_dated_on_or_after_the_16th_birthday_is_refused(
    app, refused, born, sixteenth
):
    code = minor_with_parent(app, born)
    for at in (sixteenth, sixteenth + MINUTE):
        with refused("R14") as info:
            give(app, code, at, by="mother")
        assert info.value.field == "representative_ref"


@SEASONS
def test_r14_parents_consent_a_minute_before_the_16th_birthday_is_accepted(app, born, sixteenth):
    code = minor_with_parent(app, born)
    give(app, code, sixteenth - MINUTE, by="mother")
    assert standing(app, code, sixteenth - MINUTE).lawful
    assert standing(app, code, sixteenth).reason == "subject_reached_age_of_consent"


@SEASONS
def test_r14_from_the_16th_birthday_the_subject_consents_alone(app, refused, born, sixteenth):
    code = minor_with_parent(app, born)
    with refused("R11"):
        give(app, code, sixteenth - MINUTE)
    give(app, code, sixteenth)
    answer = standing(app, code, sixteenth + MINUTE)
    assert (answer.lawful, answer.given_by) == (True, [Giver("subject")])


def test_r14_parent_cannot_withdraw_after_the_16th_birthday_but_the_subject_can(app, refused):
    code = minor_with_parent(app, WINTER_BIRTH, survives_authority_end=True)
    give(app, code, FEB_1, by="mother")
    with refused("R14"):
        withdraw(app, code, WINTER_16 + MINUTE, by="mother")
    withdraw(app, code, WINTER_16 + MINUTE)
    after = standing(app, code, WINTER_16 + 2 * MINUTE)
    assert (after.status, after.reason) == ("lapsed", "withdrawn")


@pytest.mark.parametrize("kind", ["parental_authority", "guardian"])
@SEASONS
def test_r14_registering_a_parent_from_the_16th_birthday_is_refused(
    app, refused, kind, born, sixteenth
):
    subject(app, born)
    for valid_from in (sixteenth, sixteenth + MINUTE):
        with refused("R14") as info:
            represent(app, "mother", kind, valid_from=valid_from)
        assert info.value.field == "valid_from"
    represent(app, "mother", kind, valid_from=sixteenth - MINUTE)


def test_r14_a_guardians_consent_also_lapses_at_16(app):
    code = minor_with_parent(app, SUMMER_BIRTH, "guardian")
    give(app, code, FEB_1, by="mother")
    assert standing(app, code, SUMMER_16).reason == "subject_reached_age_of_consent"


def test_r14_parents_consent_given_at_16_per_a_corrected_birth_date_is_not_counted(app):
    code = minor_with_parent(app, WINTER_BIRTH, survives_authority_end=True)
    give(app, code, APR_1, by="mother")  # the subject is 15 per the recorded birth date
    subject(app, date(2008, 1, 15))  # corrected: the subject was 16 since January 2024
    answer = standing(app, code, MAY_1)
    assert (answer.lawful, answer.given_by) == (False, [])
