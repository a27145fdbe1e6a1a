"""Adults with a representative (R15): a curator acts in every matter, a mentor in care, an
administrator (bewindvoerder) in property matters, an authorised person for the purposes of
the mandate; and where the subject's own consent still counts beside them."""

from __future__ import annotations

from datetime import UTC, date, datetime

import msgspec
import pytest

from grondslag.ledger.domain.values import Giver

from builders import (
    ADULT,
    CARE,
    FEB_1,
    MAR_1,
    PROPERTY,
    TEEN,
    give,
    purpose,
    rep,
    represent,
    standing,
    subject,
)


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


@pytest.mark.parametrize("kind", ["curator", "mentor", "administrator"])
def test_r15_curatele_mentorschap_and_bewind_are_for_adults_only(app, refused, kind):
    subject(app, date(2008, 6, 1))  # 18 on 2026-06-01
    with refused("R15") as info:
        represent(app, "rep-1", kind, valid_from=datetime(2026, 5, 31, tzinfo=UTC))
    assert info.value.field == "kind"
    represent(app, "rep-1", kind, valid_from=datetime(2026, 6, 1, tzinfo=UTC))
