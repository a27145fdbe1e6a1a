"""Non-consent bases: one basis per purpose version (R1), the soft opt-in for direct
marketing on legitimate interest (R19), and the retention term after a basis ends (R21)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from grondslag.ledger.domain.values import BasisEnd, Establishment, PersonalData, Retention

from builders import MINUTE, SUBJECT, TENANT, give, notice, register, standing

OTHER = "client-002"
MEDIATION = "mediation-file"

REGISTERED = datetime(2015, 1, 1, tzinfo=UTC)
# A mediation file: the mediation contract runs from March 2017 to June 2018, the file is
# kept 7 years after the contract ended, until 30 June 2025 at noon.
MEDIATION_STARTS = datetime(2017, 3, 1, 9, 0, tzinfo=UTC)
MEDIATION_ENDS = datetime(2018, 6, 30, 12, 0, tzinfo=UTC)
MEDIATION_KEPT_UNTIL = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)
# A change of basis that takes effect on 1 January 2021.
BASIS_CHANGE = datetime(2021, 1, 1, tzinfo=UTC)


def setup(app, purpose: str = MEDIATION, **changes: object) -> None:
    """The purpose, a mediation file on contract unless ``changes`` say otherwise, in force
    since 2015, and two subjects."""
    register(
        app, purpose, REGISTERED, **({"title": "Mediation file", "basis": "contract"} | changes)
    )
    app.put_subject(TENANT, SUBJECT, PersonalData())
    app.put_subject(TENANT, OTHER, PersonalData())


def establish(
    app,
    purpose: str = MEDIATION,
    basis: str = "contract",
    effective_at: datetime = MEDIATION_STARTS,
    subject: str = SUBJECT,
    **extra: object,
):
    return app.establish_basis(
        TENANT,
        subject,
        purpose,
        Establishment(
            basis=basis,
            reference="agreement-2017-014",
            effective_at=effective_at,
            recorded_by="staff:anna",
            **extra,
        ),
    )


def end(
    app,
    purpose: str = MEDIATION,
    effective_at: datetime = MEDIATION_ENDS,
    subject: str = SUBJECT,
):
    return app.end_basis(
        TENANT,
        subject,
        purpose,
        BasisEnd(effective_at=effective_at, reason="mediation concluded", recorded_by="staff:bram"),
    )


def revise_to_legal_obligation(app, purpose: str = MEDIATION) -> None:
    app.revise_purpose(
        TENANT,
        purpose,
        {"basis": "legal_obligation", "legal_provision": "Wwft art. 33", "notice": notice("n2")},
        True,
        BASIS_CHANGE,
    )


# -- R1: the establishment must match the purpose's basis ---------------------------------
@pytest.mark.parametrize(
    "basis", ["legal_obligation", "vital_interests", "public_task", "legitimate_interest"]
)
def test_r1_establishment_on_another_basis_than_the_purposes_is_refused(app, refused, basis):
    setup(app)
    with refused("R1") as info:
        establish(app, basis=basis)
    assert info.value.field == "basis"
    assert "contract" in info.value.detail


def test_r1_establishment_on_the_purposes_own_basis_makes_it_lawful_from_its_effective_time(app):
    setup(app)
    event, _ = establish(app)
    assert standing(app, MEDIATION, MEDIATION_STARTS - MINUTE).status == "none"
    answer = standing(app, MEDIATION, MEDIATION_STARTS)
    assert (answer.lawful, answer.status, answer.basis) == (True, "lawful", "contract")
    assert answer.since == MEDIATION_STARTS
    assert answer.evidence == [str(event)]
    assert standing(app, MEDIATION, MEDIATION_STARTS - MINUTE).changes_at == MEDIATION_STARTS


def test_r1_consent_is_never_recorded_through_the_bases_endpoint(app, refused):
    setup(app, "newsletter", title="Newsletter", basis="consent")
    with refused("R1") as info:
        establish(app, "newsletter", basis="consent")
    assert info.value.field == "basis"
    assert "/consents" in info.value.detail


def test_r1_a_second_establishment_while_one_is_in_force_is_refused(app, refused):
    setup(app)
    establish(app)
    with refused("R1") as info:
        establish(app, effective_at=MEDIATION_STARTS + timedelta(days=30))
    assert info.value.field == "effective_at"


def test_r1_a_second_establishment_at_the_same_instant_is_refused(app, refused):
    setup(app)
    establish(app)
    with refused("R1"):
        establish(app, effective_at=MEDIATION_STARTS)


def test_r1_a_new_contract_after_the_first_ended_is_accepted_and_lawful_again(app):
    setup(app)
    establish(app)
    end(app)
    again = MEDIATION_ENDS + timedelta(days=90)
    event, _ = establish(app, effective_at=again)
    assert standing(app, MEDIATION, again - MINUTE).status == "lapsed"
    answer = standing(app, MEDIATION, again)
    assert (answer.status, answer.since, answer.evidence) == ("lawful", again, [str(event)])


def test_r1_the_same_basis_for_another_subject_is_independent(app):
    setup(app)
    establish(app)
    establish(app, subject=OTHER)
    assert standing(app, MEDIATION, MEDIATION_STARTS, subject=OTHER).lawful


# -- R1: a change of basis is a new purpose version, from its effective date ---------------
def test_r1_old_basis_is_accepted_until_the_minute_before_the_change(app):
    setup(app)
    revise_to_legal_obligation(app)
    establish(app, effective_at=BASIS_CHANGE - MINUTE)
    answer = standing(app, MEDIATION, BASIS_CHANGE - MINUTE)
    assert (answer.status, answer.basis) == ("lawful", "contract")


def test_r1_new_basis_before_the_change_takes_effect_is_refused(app, refused):
    setup(app)
    revise_to_legal_obligation(app)
    with refused("R1") as info:
        establish(app, basis="legal_obligation", effective_at=BASIS_CHANGE - MINUTE)
    assert info.value.field == "basis"


def test_r1_old_basis_from_the_change_on_is_refused(app, refused):
    setup(app)
    revise_to_legal_obligation(app)
    with refused("R1") as info:
        establish(app, basis="contract", effective_at=BASIS_CHANGE)
    assert "legal_obligation" in info.value.detail


def test_r1_new_basis_from_the_change_on_is_accepted(app):
    setup(app)
    revise_to_legal_obligation(app)
    establish(app, basis="legal_obligation", effective_at=BASIS_CHANGE)
    answer = standing(app, MEDIATION, BASIS_CHANGE)
    assert (answer.lawful, answer.basis, answer.since) == (True, "legal_obligation", BASIS_CHANGE)


def test_r1_the_answer_names_the_basis_of_the_version_in_force_at_the_time_asked(app):
    setup(app)
    revise_to_legal_obligation(app)
    assert standing(app, MEDIATION, BASIS_CHANGE - MINUTE).basis == "contract"
    assert standing(app, MEDIATION, BASIS_CHANGE).basis == "legal_obligation"


def test_r1_new_basis_after_the_change_is_accepted_even_if_the_old_one_was_established(app):
    setup(app)
    revise_to_legal_obligation(app)
    establish(app, basis="contract", effective_at=MEDIATION_STARTS)
    event, _ = establish(app, basis="legal_obligation", effective_at=BASIS_CHANGE)
    answer = standing(app, MEDIATION, BASIS_CHANGE)
    assert (answer.lawful, answer.basis, answer.evidence) == (
        True,
        "legal_obligation",
        [str(event)],
    )


def test_r1_a_contract_does_not_cover_the_purpose_after_its_basis_changed(app):
    setup(app)
    revise_to_legal_obligation(app)
    establish(app, basis="contract", effective_at=MEDIATION_STARTS)
    before = standing(app, MEDIATION, BASIS_CHANGE - MINUTE)
    assert (before.lawful, before.basis, before.changes_at) == (True, "contract", BASIS_CHANGE)
    for at in (BASIS_CHANGE, BASIS_CHANGE + MINUTE):
        after = standing(app, MEDIATION, at)
        assert (after.lawful, after.status, after.basis) == (False, "lapsed", "legal_obligation")
        assert after.until == BASIS_CHANGE


# -- R19: direct marketing on legitimate interest needs the recorded opt-out ---------------
def soft_opt_in(app) -> None:
    setup(
        app,
        "client-mailing",
        title="Mail about our own similar services",
        basis="legitimate_interest",
        legitimate_interest_assessment="LIA 2017-02: existing clients, similar services",
        direct_marketing=True,
    )


def test_r19_direct_marketing_on_legitimate_interest_without_opt_out_offered_is_refused(
    app, refused
):
    soft_opt_in(app)
    with refused("R19") as info:
        establish(app, "client-mailing", basis="legitimate_interest")
    assert info.value.field == "opt_out_offered"


def test_r19_direct_marketing_with_the_opt_out_offered_at_collection_is_accepted(app):
    soft_opt_in(app)
    establish(app, "client-mailing", basis="legitimate_interest", opt_out_offered=True)
    answer = standing(app, "client-mailing", MEDIATION_STARTS)
    assert (answer.lawful, answer.basis) == (True, "legitimate_interest")


def test_r19_legitimate_interest_that_is_not_direct_marketing_needs_no_opt_out(app):
    setup(
        app,
        "fraud-check",
        title="Fraud prevention",
        basis="legitimate_interest",
        legitimate_interest_assessment="LIA 2017-03",
    )
    establish(app, "fraud-check", basis="legitimate_interest")
    assert standing(app, "fraud-check", MEDIATION_STARTS).lawful


# -- R21: the retention term starts when the basis ends -----------------------------------
def mediation(app, **changes: object) -> None:
    setup(app, retention=Retention(term="P7Y"), **changes)
    establish(app)
    end(app)


def test_r21_mediation_file_is_lawful_until_the_minute_the_contract_ends(app):
    mediation(app)
    answer = standing(app, MEDIATION, MEDIATION_ENDS - MINUTE)
    assert (answer.lawful, answer.status) == (True, "lawful")
    assert (answer.since, answer.until, answer.changes_at) == (
        MEDIATION_STARTS,
        MEDIATION_ENDS,
        MEDIATION_ENDS,
    )
    assert answer.retention_until is None


def test_r21_ended_contract_lapses_with_seven_years_retention(app):
    mediation(app)
    for at in (MEDIATION_ENDS, MEDIATION_ENDS + MINUTE, MEDIATION_KEPT_UNTIL - MINUTE):
        answer = standing(app, MEDIATION, at)
        assert (answer.lawful, answer.status, answer.reason) == (False, "lapsed", "basis_ended")
        assert answer.retention_until == MEDIATION_KEPT_UNTIL
        assert answer.until == MEDIATION_ENDS
        assert answer.since == MEDIATION_STARTS


def test_r21_changes_at_while_basis_ended_is_the_end_of_retention(app):
    mediation(app)
    assert standing(app, MEDIATION, MEDIATION_ENDS).changes_at == MEDIATION_KEPT_UNTIL
    assert (
        standing(app, MEDIATION, MEDIATION_KEPT_UNTIL - MINUTE).changes_at == MEDIATION_KEPT_UNTIL
    )


def test_r21_retention_expires_at_its_end_and_stays_expired(app):
    mediation(app)
    for at in (
        MEDIATION_KEPT_UNTIL,
        MEDIATION_KEPT_UNTIL + MINUTE,
        datetime(2040, 1, 1, tzinfo=UTC),
    ):
        answer = standing(app, MEDIATION, at)
        assert (answer.lawful, answer.status, answer.reason) == (
            False,
            "lapsed",
            "retention_expired",
        )
        assert answer.retention_until == MEDIATION_KEPT_UNTIL
        assert answer.changes_at is None


def test_r21_the_answer_to_ending_names_the_basis_end_and_its_evidence(app):
    setup(app, retention=Retention(term="P7Y"))
    established, _ = establish(app)
    ended, _ = end(app)
    answer = standing(app, MEDIATION, MEDIATION_ENDS)
    assert answer.evidence == [str(established), str(ended)]


@pytest.mark.parametrize(
    ("title", "basis", "extra", "term", "ended", "kept_until"),
    [
        (
            "Invoicing",
            "legal_obligation",
            {"legal_provision": "AWR art. 52"},
            "P7Y",
            datetime(2018, 12, 31, 23, 0, tzinfo=UTC),
            datetime(2025, 12, 31, 23, 0, tzinfo=UTC),
        ),
        (
            "Youth-care file",
            "contract",
            {},
            "P20Y",
            datetime(2020, 2, 29, 8, 30, tzinfo=UTC),
            datetime(2040, 2, 29, 8, 30, tzinfo=UTC),
        ),
        (
            "Medical file started on a leap day",
            "contract",
            {},
            "P7Y",
            datetime(2020, 2, 29, 8, 30, tzinfo=UTC),
            datetime(2027, 2, 28, 8, 30, tzinfo=UTC),
        ),
    ],
)
def test_r21_retention_runs_the_purposes_term_from_the_end_of_the_basis(
    app, title, basis, extra, term, ended, kept_until
):
    setup(app, "file", title=title, basis=basis, retention=Retention(term=term), **extra)
    establish(app, "file", basis=basis, effective_at=datetime(2017, 1, 1, tzinfo=UTC))
    end(app, "file", effective_at=ended)

    assert standing(app, "file", ended - MINUTE).lawful
    kept = standing(app, "file", kept_until - MINUTE)
    assert (kept.status, kept.reason, kept.retention_until) == ("lapsed", "basis_ended", kept_until)
    assert kept.changes_at == kept_until
    expired = standing(app, "file", kept_until)
    assert (expired.status, expired.reason) == ("lapsed", "retention_expired")
    assert (expired.retention_until, expired.changes_at) == (kept_until, None)


def test_r21_retention_starting_at_collection_counts_from_the_establishment(app):
    setup(app, retention=Retention(term="P7Y", starts="collection"))
    establish(app, effective_at=datetime(2016, 1, 1, tzinfo=UTC))
    end(app, effective_at=datetime(2019, 5, 1, tzinfo=UTC))
    kept_until = datetime(2023, 1, 1, tzinfo=UTC)

    assert (
        standing(app, MEDIATION, datetime(2019, 5, 1, tzinfo=UTC) - MINUTE).retention_until is None
    )
    kept = standing(app, MEDIATION, kept_until - MINUTE)
    assert (kept.reason, kept.retention_until, kept.changes_at) == (
        "basis_ended",
        kept_until,
        kept_until,
    )
    expired = standing(app, MEDIATION, kept_until)
    assert (expired.reason, expired.retention_until) == ("retention_expired", kept_until)


def test_r21_purpose_without_retention_stays_basis_ended_without_an_end(app):
    setup(app)
    establish(app)
    end(app)
    for at in (MEDIATION_ENDS, datetime(2060, 1, 1, tzinfo=UTC)):
        answer = standing(app, MEDIATION, at)
        assert (answer.lawful, answer.status, answer.reason) == (False, "lapsed", "basis_ended")
        assert answer.retention_until is None
        assert answer.changes_at is None


def test_r21_ending_when_nothing_was_established_is_refused(app, refused):
    setup(app)
    with refused("R21") as info:
        end(app)
    assert info.value.field == "effective_at"


def test_r21_ending_before_the_basis_took_effect_is_refused(app, refused):
    setup(app)
    establish(app)
    with refused("R21"):
        end(app, effective_at=MEDIATION_STARTS - MINUTE)


def test_r21_ending_a_basis_that_already_ended_is_refused(app, refused):
    mediation(app)
    with refused("R21"):
        end(app, effective_at=MEDIATION_ENDS + timedelta(days=1))


def test_r21_a_consent_is_not_ended_through_the_bases_endpoint(app, refused):
    setup(app, "newsletter", title="Newsletter", basis="consent")
    give(app, "newsletter", MEDIATION_STARTS)
    with refused("R21"):
        end(app, "newsletter", effective_at=MEDIATION_ENDS)


def test_r21_ending_one_subjects_contract_leaves_anothers_in_force(app):
    mediation(app)
    establish(app, subject=OTHER)
    assert standing(app, MEDIATION, MEDIATION_ENDS, subject=OTHER).lawful
    assert standing(app, MEDIATION, MEDIATION_ENDS).reason == "basis_ended"


def test_r21_changes_at_is_the_retention_end_after_the_term_was_revised(app):
    mediation(app)
    app.revise_purpose(
        TENANT, MEDIATION, {"retention": Retention(term="P20Y")}, False, BASIS_CHANGE
    )
    answer = standing(app, MEDIATION, BASIS_CHANGE + timedelta(days=1))
    assert answer.reason == "basis_ended"
    assert answer.retention_until is not None
    assert answer.changes_at == answer.retention_until


def test_r21_a_contract_displaced_by_a_change_of_basis_starts_its_retention(app):
    setup(app, retention=Retention(term="P7Y"))
    establish(app)
    revise_to_legal_obligation(app)
    answer = standing(app, MEDIATION, BASIS_CHANGE + MINUTE)
    assert (answer.lawful, answer.status) == (False, "lapsed")
    assert answer.retention_until == datetime(2028, 1, 1, tzinfo=UTC)
    assert answer.changes_at == answer.retention_until
