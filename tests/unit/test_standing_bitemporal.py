"""The bitemporal answer: what applied at ``at``, as known at ``known_at``.

Late records never rewrite history; they add knowledge (docs/design.md §2).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid5

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from grondslag.ledger.domain.facts import Fact
from grondslag.ledger.domain.purpose_versions import PurposeVersion, known_versions
from grondslag.ledger.domain.standing_at import standing_at
from grondslag.ledger.domain.values import Consent, Evidence, Withdrawal

from builders import (
    APR_1,
    FEB_1,
    JUN_1,
    MAR_1,
    MAY_1,
    TENANT,
    give,
    moment,
    notice,
    setup,
    standing,
    terms,
    withdraw,
)


def test_late_withdrawal_does_not_change_what_was_known_before_it_was_recorded(app):
    setup(app)
    give(app, effective_at=FEB_1)
    before_withdrawal = moment()
    withdraw(app, effective_at=MAR_1)
    after_withdrawal = moment()

    as_known_then = standing(app, at=APR_1, known_at=before_withdrawal)
    assert as_known_then.lawful and as_known_then.status == "lawful"
    assert as_known_then.known_at == before_withdrawal
    assert as_known_then.until is None

    as_known_now = standing(app, at=APR_1, known_at=after_withdrawal)
    assert (as_known_now.status, as_known_now.reason) == ("lapsed", "withdrawn")
    assert as_known_now.until == MAR_1
    now = standing(app, at=APR_1)
    assert msgspec.structs.replace(now, known_at=after_withdrawal) == as_known_now


def test_late_withdrawal_keeps_processing_before_it_lawful_in_every_view(app):
    setup(app)
    give(app, effective_at=FEB_1)
    before_withdrawal = moment()
    withdraw(app, effective_at=MAR_1)
    for known_at in (before_withdrawal, moment()):
        assert standing(app, at=FEB_1 + timedelta(days=10), known_at=known_at).lawful


def test_evidence_lists_the_event_ids_that_prove_the_answer(app):
    setup(app)
    consent_id, given_answer = give(app, effective_at=FEB_1)
    withdrawal_id, withdrawn_answer = withdraw(app, effective_at=MAR_1)
    assert given_answer.evidence == [str(consent_id)]
    assert standing(app, at=FEB_1).evidence == [str(consent_id)]
    assert standing(app, at=APR_1).evidence == [str(consent_id), str(withdrawal_id)]
    assert withdrawn_answer.evidence == [str(consent_id), str(withdrawal_id)]
    assert len({consent_id, withdrawal_id}) == 2


def test_status_is_none_when_nothing_was_recorded(app):
    setup(app)
    answer = standing(app, at=APR_1)
    assert (answer.lawful, answer.status, answer.reason) == (False, "none", None)
    assert answer.evidence == []
    assert answer.basis == "consent"
    assert answer.since is None and answer.until is None and answer.changes_at is None


def test_status_is_none_as_known_before_the_consent_was_recorded(app):
    setup(app)
    before_consent = moment()
    give(app, effective_at=FEB_1)
    answer = standing(app, at=APR_1, known_at=before_consent)
    assert (answer.lawful, answer.status, answer.evidence) == (False, "none", [])


def test_status_is_none_before_the_consent_takes_effect_and_says_when_it_changes(app):
    setup(app)
    give(app, effective_at=MAR_1)
    answer = standing(app, at=FEB_1)
    assert (answer.lawful, answer.status) == (False, "none")
    assert answer.changes_at == MAR_1


def test_nothing_about_a_purpose_is_known_before_it_was_registered(app):
    before_register = moment()
    setup(app)
    give(app, effective_at=FEB_1)
    answer = standing(app, at=APR_1, known_at=before_register)
    assert (answer.lawful, answer.status, answer.basis) == (False, "none", None)


def test_late_material_revision_does_not_change_what_was_known_before_it(app):
    setup(app)
    give(app, effective_at=FEB_1)
    before_revision = moment()
    app.revise_purpose(
        TENANT, "newsletter", {"recipients": ("Survey BV",), "notice": notice("n2")}, True, MAY_1
    )
    assert standing(app, at=JUN_1, known_at=before_revision).lawful
    assert standing(app, at=JUN_1).reason == "notice_revised"


# -- property: the answer depends only on what was recorded by known_at ------------------
EFFECTIVE_0 = datetime(2025, 1, 1, tzinfo=UTC)
RECORDED_0 = datetime(2026, 1, 1, tzinfo=UTC)
NAMESPACE = UUID("00000000-0000-0000-0000-00000000f00d")
TERMS = terms()
days = st.integers(min_value=0, max_value=60).map(lambda d: EFFECTIVE_0 + timedelta(days=d))
recorded = st.integers(min_value=0, max_value=100).map(lambda s: RECORDED_0 + timedelta(seconds=s))


@st.composite
def consents(draw) -> Consent:
    effective_at = draw(days)
    lasts = draw(st.none() | st.integers(min_value=1, max_value=30))
    return Consent(
        method="written",
        explicit=False,
        notice_version=draw(st.sampled_from(["n1", "n2"])),
        purpose_version=1,
        evidence=Evidence(document_ref="form"),
        effective_at=effective_at,
        recorded_by="staff",
        expires_at=None if lasts is None else effective_at + timedelta(days=lasts),
    )


withdrawals = st.builds(
    Withdrawal, method=st.just("email"), effective_at=days, recorded_by=st.just("staff")
)


@st.composite
def histories(draw) -> list[Fact]:
    statements = draw(st.lists(st.tuples(consents() | withdrawals, recorded), max_size=12))
    return [
        Fact(event_id=uuid5(NAMESPACE, str(i)), recorded_at=recorded_at, statement=statement)
        for i, (statement, recorded_at) in enumerate(statements)
    ]


@st.composite
def registers(draw) -> list[PurposeVersion]:
    versions = [PurposeVersion(1, TERMS, True, EFFECTIVE_0, RECORDED_0 - timedelta(days=1))]
    if draw(st.booleans()):
        revised = msgspec.structs.replace(TERMS, notice=notice("n2"), recipients=("Survey BV",))
        versions.append(PurposeVersion(2, revised, True, draw(days), draw(recorded)))
    return versions


@settings(max_examples=300, deadline=None)
@given(
    facts=histories(),
    versions=registers(),
    at=st.integers(min_value=-5, max_value=100).map(lambda d: EFFECTIVE_0 + timedelta(days=d)),
    known_at=st.integers(min_value=-10, max_value=110).map(
        lambda s: RECORDED_0 + timedelta(seconds=s)
    ),
)
def test_standing_at_depends_only_on_what_was_recorded_by_known_at(facts, versions, at, known_at):
    answer = standing_at("newsletter", facts, versions, at, known_at)
    known_facts = [f for f in facts if f.recorded_at <= known_at]
    assert answer == standing_at("newsletter", known_facts, versions, at, known_at)
    assert answer == standing_at(
        "newsletter", known_facts, known_versions(versions, known_at), at, known_at
    )
    assert set(answer.evidence) <= {str(f.event_id) for f in known_facts}
    assert answer.lawful == (answer.status == "lawful")
