"""Properties of ``standing_at`` over any mix of recorded statements — consents,
withdrawals, establishments, ends, objections, decisions and noticed lapses — on any
register: the answer depends only on what was recorded by ``known_at``, it never raises,
and ``lawful`` means exactly ``status == "lawful"``; the one walk that folds the state at
every instant at once says at each what folding up to that instant alone says."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid5

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from grondslag.ledger.domain.facts import Fact
from grondslag.ledger.domain.purpose_versions import PurposeVersion
from grondslag.ledger.domain.standing_at import _Timeline, standing_at
from grondslag.ledger.domain.subject_view import SubjectView
from grondslag.ledger.domain.values import (
    BasisEnd,
    Consent,
    Establishment,
    Evidence,
    Lapse,
    Objection,
    ObjectionDecision,
    PurposeTerms,
    Retention,
    Withdrawal,
)

from builders import notice

PURPOSE = "the-purpose"
EFFECTIVE_0 = datetime(2020, 1, 1, tzinfo=UTC)
RECORDED_0 = datetime(2025, 1, 1, tzinfo=UTC)
NAMESPACE = UUID("00000000-0000-0000-0000-0000000b1e55")
STATUSES = {"lawful", "restricted", "pending", "lapsed", "none"}
BASES = (
    "consent",
    "contract",
    "legal_obligation",
    "vital_interests",
    "public_task",
    "legitimate_interest",
)

# Effective times over ~ten years (so that short retention terms can run out), recorded
# times over a few minutes with many ties, and ``known_at`` on both sides of all of them.
effective = st.integers(min_value=0, max_value=3650).map(lambda d: EFFECTIVE_0 + timedelta(days=d))
recorded = st.integers(min_value=0, max_value=40).map(lambda s: RECORDED_0 + timedelta(seconds=s))
known = st.integers(min_value=-5, max_value=45).map(lambda s: RECORDED_0 + timedelta(seconds=s))
asked = st.integers(min_value=-30, max_value=5000).map(lambda d: EFFECTIVE_0 + timedelta(days=d))
bases = st.sampled_from(BASES)
notices = st.sampled_from(["n1", "n2"])


@st.composite
def consents(draw) -> Consent:
    effective_at = draw(effective)
    lasts = draw(st.none() | st.integers(min_value=1, max_value=900))
    parent = draw(st.booleans())
    return Consent(
        method=draw(st.sampled_from(["written", "email", "web_form"])),
        explicit=draw(st.booleans()),
        notice_version=draw(notices),
        purpose_version=draw(st.integers(min_value=1, max_value=2)),
        evidence=Evidence(document_ref="form"),
        effective_at=effective_at,
        recorded_by="staff",
        representative_ref="parent-1" if parent else None,
        capacity="parental_authority" if parent else None,
        expires_at=None if lasts is None else effective_at + timedelta(days=lasts),
    )


withdrawals = st.builds(
    Withdrawal,
    method=st.just("email"),
    effective_at=effective,
    recorded_by=st.just("staff"),
    representative_ref=st.none() | st.just("parent-1"),
)
establishments = st.builds(
    Establishment,
    basis=bases,
    reference=st.just("ref"),
    effective_at=effective,
    opt_out_offered=st.booleans(),
)
ends = st.builds(BasisEnd, effective_at=effective, reason=st.just("ended"))
objections = st.builds(Objection, grounds=st.just("grounds"), effective_at=effective)
decisions = st.builds(
    ObjectionDecision, upheld=st.booleans(), reasons=st.just("reasons"), effective_at=effective
)
lapses = st.builds(
    Lapse,
    reason=st.sampled_from(["expired", "notice_revised", "retention_expired"]),
    effective_at=effective,
)
statements = st.one_of(consents(), withdrawals, establishments, ends, objections, decisions, lapses)


@st.composite
def histories(draw) -> list[Fact]:
    drawn = draw(st.lists(st.tuples(statements, recorded), max_size=14))
    return [
        Fact(event_id=uuid5(NAMESPACE, str(i)), recorded_at=recorded_at, statement=statement)
        for i, (statement, recorded_at) in enumerate(drawn)
    ]


retentions = st.none() | st.builds(
    Retention,
    term=st.sampled_from(["P7Y", "P20Y", "P6M", "P1Y2M10D", "P30D"]),
    starts=st.sampled_from(["basis_end", "collection"]),
)


@st.composite
def purpose_terms(draw, version: str) -> PurposeTerms:
    return PurposeTerms(
        title="Purpose",
        basis=draw(bases),
        notice=notice(version),
        direct_marketing=draw(st.booleans()),
        matter=draw(st.sampled_from(["care", "other"])),
        minor_may_consent=draw(st.booleans()),
        survives_authority_end=draw(st.booleans()),
        retention=draw(retentions),
    )


@st.composite
def registers(draw) -> list[PurposeVersion]:
    """One to three versions; later ones may change basis, notice, retention, marketing."""
    first = draw(purpose_terms("n1"))
    versions = [
        PurposeVersion(1, first, True, EFFECTIVE_0, RECORDED_0 - timedelta(days=1)),
    ]
    at = EFFECTIVE_0
    for number in range(2, draw(st.integers(min_value=1, max_value=3)) + 1):
        material = draw(st.booleans())
        terms = (
            draw(purpose_terms("n2"))
            if material
            else msgspec.structs.replace(versions[-1].terms, retention=draw(retentions))
        )
        at += timedelta(days=draw(st.integers(min_value=0, max_value=1500)))
        versions.append(PurposeVersion(number, terms, material, at, draw(known)))
    return versions


subjects = st.builds(
    SubjectView,
    birth_date=st.none() | st.dates(min_value=date(2002, 1, 1), max_value=date(2016, 12, 31)),
)
# any history, on any register, of any subject, asked at any moment as known at any other
any_question = given(
    facts=histories(), versions=registers(), subject=subjects, at=asked, known_at=known
)


@settings(max_examples=150, deadline=None)
@any_question
def test_standing_at_depends_only_on_what_was_recorded_by_known_at(
    facts, versions, subject, at, known_at
):
    answer = standing_at(PURPOSE, facts, versions, at, known_at, subject)
    known_facts = [f for f in facts if f.recorded_at <= known_at]
    assert answer == standing_at(PURPOSE, known_facts, versions, at, known_at, subject)


@settings(max_examples=150, deadline=None)
@any_question
def test_standing_at_never_raises_and_lawful_means_status_lawful(
    facts, versions, subject, at, known_at
):
    answer = standing_at(PURPOSE, facts, versions, at, known_at, subject)
    assert answer.lawful is (answer.status == "lawful")
    assert answer.status in STATUSES
    assert (answer.at, answer.known_at, answer.purpose) == (at, known_at, PURPOSE)
    known_ids = {str(f.event_id) for f in facts if f.recorded_at <= known_at}
    assert set(answer.evidence) <= known_ids
    if answer.changes_at is not None:
        assert answer.changes_at > at


@settings(max_examples=150, deadline=None)
@given(
    facts=histories(),
    versions=registers(),
    at=asked,
    known_at=known,
)
def test_a_noticed_lapse_never_changes_the_answer(facts, versions, at, known_at):
    """``Lapse`` records that the ledger noticed a time-driven end; folding ignores it."""
    without = [f for f in facts if not isinstance(f.statement, Lapse)]
    assert standing_at(PURPOSE, facts, versions, at, known_at) == standing_at(
        PURPOSE, without, versions, at, known_at
    )


@settings(max_examples=200, deadline=None)
@any_question
def test_one_walk_over_every_instant_folds_what_each_instant_alone_folds(
    facts, versions, subject, at, known_at
):
    """The timeline folds the state at all its instants in one pass over the facts (linear
    in the stream, not quadratic); reading an instant's state must not disturb the walk."""
    swept = _Timeline(facts, versions, known_at, subject)
    swept.state(at)  # the first question walks every instant
    alone = _Timeline(facts, versions, known_at, subject)
    for instant in [*swept.instants(), at]:
        assert swept.state(instant) == alone._state(instant)
