"""The art. 30 register: what a purpose must say to be registered (R1, R2, R3, R5)."""

from __future__ import annotations

import pytest

from grondslag.ledger.domain.values import PersonalData

from builders import FEB_1, JAN_1, MAR_1, SUBJECT, TENANT, give, notice, terms


# -- R1: exactly one art. 6 basis, with what that basis needs -----------------------------
def test_r1_legal_obligation_without_legal_provision_is_refused(app, refused):
    with refused("R1") as info:
        app.register_purpose(TENANT, "tax-records", terms(basis="legal_obligation"), JAN_1)
    assert info.value.field == "legal_provision"


def test_r1_legal_obligation_citing_its_provision_is_registered(app):
    purpose = app.register_purpose(
        TENANT,
        "tax-records",
        terms(basis="legal_obligation", legal_provision="AWR art. 52"),
        JAN_1,
    )
    assert app.purpose(TENANT, "tax-records").latest.terms.legal_provision == "AWR art. 52"
    assert purpose.latest.number == 1


def test_r1_legitimate_interest_without_assessment_is_refused(app, refused):
    with refused("R1") as info:
        app.register_purpose(TENANT, "fraud-check", terms(basis="legitimate_interest"), JAN_1)
    assert info.value.field == "legitimate_interest_assessment"


def test_r1_legitimate_interest_with_written_assessment_is_registered(app):
    app.register_purpose(
        TENANT,
        "fraud-check",
        terms(basis="legitimate_interest", legitimate_interest_assessment="LIA 2025-01, signed"),
        JAN_1,
    )
    assert app.purpose(TENANT, "fraud-check").latest.terms.basis == "legitimate_interest"


def test_r1_a_revision_is_held_to_the_same_register_rules(app, refused):
    app.register_purpose(
        TENANT,
        "tax-records",
        terms(basis="legal_obligation", legal_provision="AWR art. 52"),
        JAN_1,
    )
    with refused("R1"):
        app.revise_purpose(TENANT, "tax-records", {"legal_provision": None}, False, FEB_1)
    assert len(app.purpose(TENANT, "tax-records").versions) == 1


# -- R2: nothing is recorded against a purpose that is not registered ---------------------
def test_r2_registering_the_same_purpose_twice_is_refused(app, refused):
    app.register_purpose(TENANT, "newsletter", terms(), JAN_1)
    with refused("R2"):
        app.register_purpose(TENANT, "newsletter", terms(title="Other title"), FEB_1)
    purpose = app.purpose(TENANT, "newsletter")
    assert [v.terms.title for v in purpose.versions] == ["Newsletter"]


def test_r2_consent_against_an_unregistered_purpose_is_refused(app, refused):
    app.put_subject(TENANT, SUBJECT, PersonalData())
    with refused("R2") as info:
        give(app, "newsletter", MAR_1)
    assert info.value.field == "purpose"


def test_r2_another_tenants_purpose_is_not_registered_for_this_tenant(app, refused):
    app.register_purpose("practice-b", "newsletter", terms(), JAN_1)
    app.put_subject(TENANT, SUBJECT, PersonalData())
    with refused("R2"):
        give(app, "newsletter", MAR_1)


def test_r2_consent_effective_before_the_purpose_took_effect_is_refused(app, refused):
    app.register_purpose(TENANT, "newsletter", terms(), FEB_1)
    app.put_subject(TENANT, SUBJECT, PersonalData())
    with refused("R2") as info:
        give(app, "newsletter", JAN_1)
    assert info.value.field == "effective_at"


def test_r2_consent_from_the_purposes_effective_time_on_is_recorded(app):
    app.register_purpose(TENANT, "newsletter", terms(), FEB_1)
    app.put_subject(TENANT, SUBJECT, PersonalData())
    _, answer = give(app, "newsletter", FEB_1)
    assert answer.lawful and answer.since == FEB_1


# -- R3: special categories and criminal data --------------------------------------------
@pytest.mark.parametrize(
    "category",
    [
        "health",
        "religion",
        "sexual_life",
        "ethnicity",
        "political_opinion",
        "union_membership",
        "genetic",
        "biometric",
    ],
)
def test_r3_special_categories_need_an_art9_condition(app, refused, category):
    with refused("R3") as info:
        app.register_purpose(TENANT, "care-file", terms(special_categories=(category,)), JAN_1)
    assert info.value.field == "special_condition"


def test_r3_special_categories_with_an_art9_condition_are_registered(app):
    app.register_purpose(
        TENANT,
        "care-file",
        terms(basis="contract", special_categories=("health",), special_condition="health_care"),
        JAN_1,
    )
    assert app.purpose(TENANT, "care-file").latest.terms.special_condition == "health_care"


def test_r3_legitimate_interest_never_covers_special_categories(app, refused):
    with refused("R3"):
        app.register_purpose(
            TENANT,
            "care-analytics",
            terms(
                basis="legitimate_interest",
                legitimate_interest_assessment="LIA",
                special_categories=("health",),
                special_condition="legal_claims",
            ),
            JAN_1,
        )


def test_r3_criminal_data_needs_an_art10_ground(app, refused):
    with refused("R3") as info:
        app.register_purpose(
            TENANT,
            "screening",
            terms(basis="contract", special_categories=("criminal",)),
            JAN_1,
        )
    assert info.value.field == "legal_provision"


def test_r3_criminal_data_citing_its_ground_is_registered(app):
    app.register_purpose(
        TENANT,
        "screening",
        terms(basis="contract", special_categories=("criminal",), legal_provision="UAVG art. 33"),
        JAN_1,
    )
    assert app.purpose(TENANT, "screening").latest.terms.special_categories == ("criminal",)


def test_r3_a_revision_adding_a_special_category_needs_the_condition_too(app, refused):
    app.register_purpose(TENANT, "intake", terms(basis="contract"), JAN_1)
    with refused("R3"):
        app.revise_purpose(
            TENANT,
            "intake",
            {"special_categories": ("health",), "notice": notice("n2")},
            True,
            FEB_1,
        )
    assert len(app.purpose(TENANT, "intake").versions) == 1


# -- R5: the BSN only where a law prescribes it ------------------------------------------
def test_r5_bsn_on_consent_is_refused_even_citing_a_law(app, refused):
    with refused("R5"):
        app.register_purpose(
            TENANT,
            "declaration",
            terms(special_categories=("bsn",), legal_provision="Wet aanvullende bepalingen"),
            JAN_1,
        )


def test_r5_bsn_without_a_legal_provision_is_refused(app, refused):
    with refused("R5") as info:
        app.register_purpose(
            TENANT,
            "declaration",
            terms(basis="contract", special_categories=("bsn",)),
            JAN_1,
        )
    assert info.value.field == "legal_provision"


def test_r5_bsn_under_a_legal_obligation_citing_the_law_is_registered(app):
    app.register_purpose(
        TENANT,
        "declaration",
        terms(
            basis="legal_obligation",
            special_categories=("bsn",),
            legal_provision="Wet gebruik burgerservicenummer in de zorg, art. 4",
        ),
        JAN_1,
    )
    assert app.purpose(TENANT, "declaration").latest.terms.basis == "legal_obligation"
