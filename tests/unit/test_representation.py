"""Who may consent for whom: minors (R11–R14) and adults with a representative (R15, R16).

Birthdays are calendar dates in Europe/Amsterdam: the 16th birthday of someone born on
15 January 2010 starts at 2026-01-14 23:00 UTC, of someone born on 15 July 2010 at
2026-07-14 22:00 UTC.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import msgspec
import pytest
from grondslag.ledger.domain.errors import NotFound
from grondslag.ledger.domain.minors import turns
from grondslag.ledger.domain.values import (
    Evidence,
    Giver,
    Notice,
    PersonalData,
    PurposeTerms,
    Representation,
    RepresentationEnd,
)

TENANT = "practice-a"
SUBJECT = "client-001"
MINUTE = timedelta(minutes=1)
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
COURT = Evidence(document_ref="court-decision-2020-17", sha256="c" * 64)
FORM = Evidence(document_ref="consent-form-1", sha256="b" * 64)

JAN_1 = datetime(2025, 1, 1, tzinfo=UTC)
FEB_1 = datetime(2025, 2, 1, tzinfo=UTC)
MAR_1 = datetime(2025, 3, 1, tzinfo=UTC)
APR_1 = datetime(2025, 4, 1, tzinfo=UTC)
MAY_1 = datetime(2025, 5, 1, tzinfo=UTC)
JUN_1 = datetime(2025, 6, 1, tzinfo=UTC)

ADULT = date(1960, 4, 4)
# 12 to 16 during 2025: 12th birthday 2024-03-09 23:00 UTC, 16th 2028-03-09 23:00 UTC.
TEEN = date(2012, 3, 10)
# Under 12 during 2025: 12th birthday 2027-05-19 22:00 UTC (summer time).
CHILD = date(2015, 5, 20)
CHILD_12 = datetime(2027, 5, 19, 22, 0, tzinfo=UTC)
# Turns 16 in winter time (2026-01-14 23:00 UTC) and in summer time (2026-07-14 22:00 UTC).
WINTER_BIRTH = date(2010, 1, 15)
WINTER_16 = datetime(2026, 1, 14, 23, 0, tzinfo=UTC)
SUMMER_BIRTH = date(2010, 7, 15)
SUMMER_16 = datetime(2026, 7, 14, 22, 0, tzinfo=UTC)
SEASONS = pytest.mark.parametrize(
    ("born", "sixteenth"),
    [(WINTER_BIRTH, WINTER_16), (SUMMER_BIRTH, SUMMER_16)],
    ids=["winter", "summer"],
)

CARE = {
    "matter": "care",
    "special_categories": ("health",),
    "special_condition": "explicit_consent",
}
PROPERTY = {"matter": "property"}


def notice(version: str = "n1") -> Notice:
    return Notice(version=version, url=f"https://example.nl/privacy/{version}", sha256="a" * 64)


def terms(**changes: object) -> PurposeTerms:
    base = PurposeTerms(title="Newsletter", basis="consent", notice=notice())
    return msgspec.structs.replace(base, **changes)


def purpose(app, code: str = "newsletter", **changes: object) -> str:
    app.register_purpose(TENANT, code, terms(**changes), EPOCH)
    return code


def subject(app, born: date | None) -> None:
    app.put_subject(TENANT, SUBJECT, PersonalData(birth_date=born))


def represent(app, ref: str, kind: str, valid_from: datetime = EPOCH, **extra: object):
    return app.register_representative(
        TENANT,
        SUBJECT,
        Representation(
            representative_ref=ref, kind=kind, valid_from=valid_from, evidence=COURT, **extra
        ),
    )


def end(app, ref: str, effective_at: datetime):
    return app.end_representation(
        TENANT,
        SUBJECT,
        RepresentationEnd(representative_ref=ref, effective_at=effective_at, reason="court"),
    )


def give(app, code: str, at: datetime, by: str | None = None):
    """A written, explicit consent (valid for every purpose, incl. special categories)."""
    return app.give_consent(
        TENANT,
        SUBJECT,
        code,
        method="written",
        explicit=True,
        notice_version="n1",
        evidence=FORM,
        recorded_by="staff:anna",
        effective_at=at,
        representative_ref=by,
    )


def withdraw(app, code: str, at: datetime, by: str | None = None):
    return app.withdraw_consent(
        TENANT,
        SUBJECT,
        code,
        method="email",
        recorded_by="staff:bram",
        effective_at=at,
        representative_ref=by,
    )


def standing(app, code: str, at: datetime, known_at: datetime | None = None):
    return app.standing(TENANT, SUBJECT, code, at=at, known_at=known_at)


def rep(ref: str, kind: str) -> Giver:
    return Giver("representative", ref, kind)


def moment() -> datetime:
    """Now, strictly after every event already recorded and before any recorded next."""
    time.sleep(0.002)
    now = datetime.now(UTC)
    time.sleep(0.002)
    return now


def minor_with_parent(app, born: date, kind: str = "parental_authority", **changes: object):
    code = purpose(app, **changes)
    subject(app, born)
    represent(app, "mother", kind)
    return code


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


# -- R15: adults with a representative, scope per kind -------------------------------------
@pytest.mark.parametrize("matter", [CARE, PROPERTY, {"matter": "other"}], ids=lambda m: m["matter"])
def test_r15_curator_acts_in_all_matters(app, matter):
    code = purpose(app, **matter)
    subject(app, ADULT)
    represent(app, "curator-1", "curator")
    give(app, code, FEB_1, by="curator-1")
    answer = standing(app, code, MAR_1)
    assert (answer.lawful, answer.given_by) == (True, [rep("curator-1", "curator")])


@pytest.mark.parametrize("matter", [CARE, PROPERTY, {"matter": "other"}], ids=lambda m: m["matter"])
def test_r15_under_curatele_the_subjects_own_consent_is_refused(app, refused, matter):
    code = purpose(app, **matter)
    subject(app, ADULT)
    represent(app, "curator-1", "curator", subject_competent_for=("care", "property", "other"))
    with refused("R15") as info:
        give(app, code, FEB_1)
    assert info.value.field == "representative_ref"


def test_r15_subjects_own_consent_counts_outside_the_curators_period(app):
    code = purpose(app)
    subject(app, ADULT)
    represent(app, "curator-1", "curator", valid_from=MAR_1)
    give(app, code, FEB_1)
    assert standing(app, code, FEB_1).given_by == [Giver("subject")]


def test_r15_mentor_consents_in_care(app):
    code = purpose(app, **CARE)
    subject(app, ADULT)
    represent(app, "mentor-1", "mentor")
    give(app, code, FEB_1, by="mentor-1")
    answer = standing(app, code, MAR_1)
    assert (answer.lawful, answer.given_by) == (True, [rep("mentor-1", "mentor")])


@pytest.mark.parametrize("matter", ["property", "other"])
def test_r15_mentor_cannot_consent_outside_care(app, refused, matter):
    code = purpose(app, matter=matter)
    subject(app, ADULT)
    represent(app, "mentor-1", "mentor")
    with refused("R15") as info:
        give(app, code, FEB_1, by="mentor-1")
    assert info.value.field == "representative_ref"


def test_r15_under_a_mentor_the_subjects_own_care_consent_is_refused(app, refused):
    code = purpose(app, **CARE)
    subject(app, ADULT)
    represent(app, "mentor-1", "mentor")
    with refused("R15"):
        give(app, code, FEB_1)


def test_r15_under_a_mentor_the_subject_competent_for_care_consents_in_care(app):
    code = purpose(app, **CARE)
    subject(app, ADULT)
    represent(app, "mentor-1", "mentor", subject_competent_for=("care",))
    give(app, code, FEB_1)
    assert standing(app, code, MAR_1).given_by == [Giver("subject")]


@pytest.mark.parametrize("matter", ["property", "other"])
def test_r15_under_a_mentor_the_subject_consents_outside_care(app, matter):
    code = purpose(app, matter=matter)
    subject(app, ADULT)
    represent(app, "mentor-1", "mentor")
    give(app, code, FEB_1)
    assert standing(app, code, MAR_1).lawful


def test_r15_administrator_consents_in_property_matters(app):
    code = purpose(app, **PROPERTY)
    subject(app, ADULT)
    represent(app, "bewind-1", "administrator")
    give(app, code, FEB_1, by="bewind-1")
    answer = standing(app, code, MAR_1)
    assert (answer.lawful, answer.given_by) == (True, [rep("bewind-1", "administrator")])


def test_bewindvoerder_cannot_consent_to_health_data(app, refused):
    code = purpose(app, **CARE)
    subject(app, ADULT)
    represent(app, "bewind-1", "administrator")
    with refused("R15") as info:
        give(app, code, FEB_1, by="bewind-1")
    assert info.value.field == "representative_ref"
    assert "bewindvoerder" in info.value.detail


def test_r15_administrator_cannot_consent_in_other_matters(app, refused):
    code = purpose(app, matter="other")
    subject(app, ADULT)
    represent(app, "bewind-1", "administrator")
    with refused("R15"):
        give(app, code, FEB_1, by="bewind-1")


def test_r15_under_an_administrator_the_subjects_own_property_consent_is_refused(app, refused):
    code = purpose(app, **PROPERTY)
    subject(app, ADULT)
    represent(app, "bewind-1", "administrator", subject_competent_for=("care",))
    with refused("R15"):
        give(app, code, FEB_1)


def test_r15_under_an_administrator_the_subject_competent_for_property_consents(app):
    code = purpose(app, **PROPERTY)
    subject(app, ADULT)
    represent(app, "bewind-1", "administrator", subject_competent_for=("property",))
    give(app, code, FEB_1)
    assert standing(app, code, MAR_1).given_by == [Giver("subject")]


def test_r15_under_an_administrator_the_subject_consents_to_care(app):
    code = purpose(app, **CARE)
    subject(app, ADULT)
    represent(app, "bewind-1", "administrator")
    give(app, code, FEB_1)
    assert standing(app, code, MAR_1).lawful


def test_r15_authorised_person_consents_for_the_purposes_of_the_mandate(app):
    code = purpose(app)
    purpose(app, "research")
    subject(app, ADULT)
    represent(app, "daughter", "authorised_person", purposes=(code, "research"))
    give(app, code, FEB_1, by="daughter")
    give(app, "research", FEB_1, by="daughter")
    answer = standing(app, code, MAR_1)
    assert (answer.lawful, answer.given_by) == (True, [rep("daughter", "authorised_person")])


def test_r15_authorised_person_cannot_consent_outside_the_mandate(app, refused):
    code = purpose(app)
    purpose(app, "research")
    subject(app, ADULT)
    represent(app, "daughter", "authorised_person", purposes=("research",))
    with refused("R15") as info:
        give(app, code, FEB_1, by="daughter")
    assert info.value.field == "representative_ref"


def test_r15_authorised_person_with_a_mandate_naming_no_purposes_is_refused(app, refused):
    subject(app, ADULT)
    with refused("R15") as info:
        represent(app, "daughter", "authorised_person")
    assert info.value.field == "purposes"


def test_r15_an_authorised_person_does_not_bar_the_subjects_own_consent(app):
    code = purpose(app, **CARE)
    subject(app, ADULT)
    represent(app, "daughter", "authorised_person", purposes=(code,))
    give(app, code, FEB_1)
    assert standing(app, code, MAR_1).given_by == [Giver("subject")]


@pytest.mark.parametrize(
    ("kind", "born", "matter"),
    [
        ("parental_authority", TEEN, {}),
        ("guardian", TEEN, {}),
        ("curator", ADULT, {}),
        ("mentor", ADULT, CARE),
        ("administrator", ADULT, PROPERTY),
        ("authorised_person", ADULT, {}),
    ],
)
def test_given_by_names_the_representative_and_its_capacity(app, kind, born, matter):
    code = purpose(app, **matter)
    subject(app, born)
    extra = {"purposes": (code,)} if kind == "authorised_person" else {}
    represent(app, "rep-1", kind, **extra)
    give(app, code, FEB_1, by="rep-1")
    at_feb = standing(app, code, MAR_1)
    assert at_feb.given_by == [Giver("representative", "rep-1", kind)]
    assert msgspec.to_builtins(at_feb.given_by) == [
        {"party": "representative", "representative_ref": "rep-1", "capacity": kind}
    ]


# -- R16: a representation's validity period -----------------------------------------------
def representative(app, **extra: object) -> str:
    code = purpose(app, **extra)
    subject(app, ADULT)
    represent(app, "curator-1", "curator", valid_from=FEB_1, valid_until=MAY_1)
    return code


def test_r16_representatives_consent_before_valid_from_is_refused(app, refused):
    code = representative(app)
    with refused("R16") as info:
        give(app, code, FEB_1 - MINUTE, by="curator-1")
    assert info.value.field == "effective_at"
    give(app, code, FEB_1, by="curator-1")


def test_r16_representatives_consent_from_valid_until_is_refused(app, refused):
    code = representative(app)
    for at in (MAY_1, MAY_1 + MINUTE):
        with refused("R16") as info:
            give(app, code, at, by="curator-1")
        assert info.value.field == "effective_at"
    give(app, code, MAY_1 - MINUTE, by="curator-1")


def test_r16_consents_lapse_at_valid_until(app):
    code = representative(app)
    give(app, code, MAR_1, by="curator-1")
    assert standing(app, code, MAY_1 - MINUTE).lawful
    after = standing(app, code, MAY_1)
    assert (after.status, after.reason, after.until) == (
        "lapsed",
        "representative_authority_ended",
        MAY_1,
    )


def test_r16_ending_a_representation_lapses_its_consents_at_the_end(app):
    code = purpose(app)
    subject(app, ADULT)
    represent(app, "curator-1", "curator", valid_from=FEB_1)
    give(app, code, FEB_1, by="curator-1")
    end(app, "curator-1", APR_1)

    before = standing(app, code, APR_1 - MINUTE)
    assert (before.lawful, before.until, before.changes_at) == (True, APR_1, APR_1)
    for at in (APR_1, MAY_1):
        after = standing(app, code, at)
        assert (after.lawful, after.status) == (False, "lapsed")
        assert after.reason == "representative_authority_ended"
        assert after.until == APR_1


def test_r16_consents_survive_the_end_when_the_purpose_says_so(app):
    code = purpose(app, survives_authority_end=True)
    subject(app, ADULT)
    represent(app, "curator-1", "curator", valid_from=FEB_1)
    give(app, code, FEB_1, by="curator-1")
    end(app, "curator-1", APR_1)
    after = standing(app, code, MAY_1)
    assert (after.lawful, after.reason) == (True, None)
    assert after.given_by == [rep("curator-1", "curator")]


def test_r16_ending_one_representation_leaves_anothers_consent_standing(app):
    code = purpose(app, **CARE)
    subject(app, ADULT)
    represent(app, "mentor-1", "mentor", valid_from=FEB_1)
    represent(app, "mentor-2", "mentor", valid_from=FEB_1)
    give(app, code, FEB_1, by="mentor-1")
    give(app, code, MAR_1, by="mentor-2")
    end(app, "mentor-1", APR_1)
    after = standing(app, code, MAY_1)
    assert (after.lawful, after.given_by) == (True, [rep("mentor-2", "mentor")])


def test_r16_consent_after_the_end_is_refused(app, refused):
    code = purpose(app)
    subject(app, ADULT)
    represent(app, "curator-1", "curator", valid_from=FEB_1)
    end(app, "curator-1", APR_1)
    for at in (APR_1, MAY_1):
        with refused("R16"):
            give(app, code, at, by="curator-1")
    give(app, code, APR_1 - MINUTE, by="curator-1")


def test_r16_withdrawal_by_a_representative_after_the_end_is_refused(app, refused):
    code = purpose(app, survives_authority_end=True)
    subject(app, ADULT)
    represent(app, "curator-1", "curator", valid_from=FEB_1)
    give(app, code, FEB_1, by="curator-1")
    end(app, "curator-1", APR_1)
    with refused("R16"):
        withdraw(app, code, MAY_1, by="curator-1")


def test_r16_ending_twice_is_refused(app, refused):
    subject(app, ADULT)
    represent(app, "curator-1", "curator", valid_from=FEB_1)
    end(app, "curator-1", APR_1)
    with refused("R16") as info:
        end(app, "curator-1", MAY_1)
    assert info.value.field == "representative_ref"


def test_r16_ending_before_the_representation_began_is_refused(app, refused):
    subject(app, ADULT)
    represent(app, "curator-1", "curator", valid_from=FEB_1)
    with refused("R16") as info:
        end(app, "curator-1", JAN_1)
    assert info.value.field == "effective_at"


def test_r16_ending_an_unknown_representation_is_not_found(app):
    subject(app, ADULT)
    before = app.recorder.max_notification_id()
    with pytest.raises(NotFound):
        end(app, "nobody", APR_1)
    assert app.recorder.max_notification_id() == before


def test_r16_valid_until_not_after_valid_from_is_refused(app, refused):
    subject(app, ADULT)
    for until in (FEB_1, FEB_1 - MINUTE):
        with refused("R16") as info:
            represent(app, "curator-1", "curator", valid_from=FEB_1, valid_until=until)
        assert info.value.field == "valid_until"


def test_r16_registering_a_representative_that_is_already_registered_is_refused(app, refused):
    subject(app, ADULT)
    represent(app, "curator-1", "curator", valid_from=FEB_1)
    with refused("R16"):
        represent(app, "curator-1", "curator", valid_from=MAR_1)


def test_r16_an_end_recorded_later_does_not_change_what_was_known_before_it(app):
    code = purpose(app)
    subject(app, ADULT)
    represent(app, "curator-1", "curator", valid_from=FEB_1)
    give(app, code, FEB_1, by="curator-1")
    before_end = moment()
    end(app, "curator-1", APR_1)
    after_end = moment()

    then = standing(app, code, MAY_1, known_at=before_end)
    assert (then.lawful, then.status, then.until, then.reason) == (True, "lawful", None, None)
    assert then.given_by == [rep("curator-1", "curator")]
    now = standing(app, code, MAY_1, known_at=after_end)
    assert (now.status, now.reason, now.until) == (
        "lapsed",
        "representative_authority_ended",
        APR_1,
    )
    assert standing(app, code, MAR_1, known_at=before_end).until is None
    assert standing(app, code, MAR_1, known_at=after_end).until == APR_1


def test_r16_an_ended_representative_cannot_be_registered_anew_under_the_same_ref(app, refused):
    code = purpose(app)
    subject(app, ADULT)
    represent(app, "curator-1", "curator", valid_from=FEB_1)
    give(app, code, FEB_1, by="curator-1")
    end(app, "curator-1", MAR_1)
    with refused("R16") as info:
        represent(app, "curator-1", "curator", valid_from=MAY_1)
    assert info.value.field == "representative_ref"
    represent(app, "curator-2", "curator", valid_from=MAY_1)

    # the consent the first representation gave stays lapsed at its end, also afterwards
    for at in (APR_1, JUN_1):
        answer = standing(app, code, at)
        assert (answer.status, answer.reason) == ("lapsed", "representative_authority_ended")
        assert answer.until == MAR_1


def test_r16_consent_given_after_a_retroactive_end_is_not_counted(app):
    code = purpose(app)
    subject(app, ADULT)
    represent(app, "curator-1", "curator", valid_from=FEB_1)
    give(app, code, APR_1, by="curator-1")
    end(app, "curator-1", MAR_1)  # learnt later: the curatele ended on 1 March
    answer = standing(app, code, MAY_1)
    assert (answer.lawful, answer.given_by) == (False, [])


def test_r16_consent_given_after_a_retroactive_end_is_not_counted_even_if_it_survives(app):
    code = purpose(app, survives_authority_end=True)
    subject(app, ADULT)
    represent(app, "curator-1", "curator", valid_from=FEB_1)
    give(app, code, APR_1, by="curator-1")
    end(app, "curator-1", MAR_1)  # learnt later: the curatele ended on 1 March
    answer = standing(app, code, MAY_1)
    assert (answer.lawful, answer.given_by) == (False, [])


def test_r14_parents_consent_given_at_16_per_a_corrected_birth_date_is_not_counted(app):
    code = minor_with_parent(app, WINTER_BIRTH, survives_authority_end=True)
    give(app, code, APR_1, by="mother")  # the subject is 15 per the recorded birth date
    subject(app, date(2008, 1, 15))  # corrected: the subject was 16 since January 2024
    answer = standing(app, code, MAY_1)
    assert (answer.lawful, answer.given_by) == (False, [])


@pytest.mark.parametrize("kind", ["curator", "mentor", "administrator"])
def test_r15_curatele_mentorschap_and_bewind_are_for_adults_only(app, refused, kind):
    subject(app, date(2008, 6, 1))  # 18 on 2026-06-01
    with refused("R15") as info:
        represent(app, "rep-1", kind, valid_from=datetime(2026, 5, 31, tzinfo=UTC))
    assert info.value.field == "kind"
    represent(app, "rep-1", kind, valid_from=datetime(2026, 6, 1, tzinfo=UTC))


def test_r13_a_minor_alone_suffices_for_care_offered_directly_to_minors(app):
    code = purpose(app, "youth-chat", minor_may_consent=True, **CARE)
    subject(app, TEEN)
    give(app, code, FEB_1)
    answer = standing(app, code, MAR_1)
    assert (answer.status, answer.given_by, answer.missing) == ("lawful", [Giver("subject")], [])
