"""Restriction of processing (art. 18, "afschermen"; R24): restricted, not lawful, from its
effective time until lifted, whatever basis covers the purpose meanwhile; bitemporal like
every fact; a lift needs a restriction in force, a second restriction is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest

from grondslag.ledger.domain.errors import RuleViolated
from grondslag.ledger.domain.values import Restriction, RestrictionLift

from builders import FEB_1, JUN_1, MAR_1, MAY_1, SUBJECT, TENANT, give, moment, setup, standing

APR_1 = MAR_1.replace(month=4)


def restrict(app, effective_at=MAR_1, purpose: str = "newsletter", **fields):
    restriction = Restriction(
        reasons="the subject disputes the data's accuracy (art. 18(1)(a))",
        effective_at=effective_at,
        recorded_by="staff:anna",
        **fields,
    )
    return app.restrict(TENANT, SUBJECT, purpose, restriction)


def lift(app, effective_at=MAY_1, purpose: str = "newsletter"):
    lift = RestrictionLift(reasons="accuracy verified", effective_at=effective_at)
    return app.lift_restriction(TENANT, SUBJECT, purpose, lift)


def test_r24_a_restriction_makes_a_lawful_consent_restricted_until_lifted(app) -> None:
    setup(app)
    give(app)
    event, answer = restrict(app, request_id="req-2025-007")
    assert (answer.status, answer.reason, answer.lawful) == ("restricted", "restricted", False)
    assert str(event) in answer.evidence
    assert standing(app, at=FEB_1 + timedelta(days=1)).status == "lawful"  # before: lawful
    assert standing(app, at=APR_1).status == "restricted"
    _, lifted = lift(app)
    assert lifted.status == "lawful" and lifted.since == MAY_1
    assert standing(app, at=APR_1).status == "restricted"  # history keeps the restriction
    during = standing(app, at=APR_1)
    assert during.since == MAR_1


def test_r24_restriction_is_bitemporal_as_known_before_it_was_recorded(app) -> None:
    setup(app)
    give(app)
    before = moment()
    restrict(app)
    assert standing(app, at=APR_1, known_at=before).status == "lawful"
    assert standing(app, at=APR_1).status == "restricted"


def test_r24_a_consent_given_during_a_restriction_stays_restricted(app) -> None:
    setup(app)
    restrict(app, effective_at=FEB_1)
    assert standing(app).status == "none"  # nothing lawful to restrict
    _, answer = give(app, effective_at=MAR_1)
    assert answer.status == "restricted"


def test_r24_a_withdrawn_consent_stays_lapsed_under_a_restriction(app) -> None:
    setup(app)
    give(app)
    restrict(app)
    app.withdraw_consent(
        TENANT, SUBJECT, "newsletter", method="email", recorded_by="x", effective_at=APR_1
    )
    answer = standing(app, at=MAY_1)
    assert (answer.status, answer.reason) == ("lapsed", "withdrawn")


def test_r24_lifting_a_restriction_not_in_force_is_refused(app) -> None:
    setup(app)
    give(app)
    with pytest.raises(RuleViolated) as refused:
        lift(app)
    assert refused.value.rule == "R24"
    restrict(app)
    with pytest.raises(RuleViolated):
        lift(app, effective_at=MAR_1 - timedelta(days=1))  # before the restriction took effect
    lift(app)
    with pytest.raises(RuleViolated):
        lift(app, effective_at=JUN_1)  # lifted already


def test_r24_a_purpose_already_restricted_is_not_restricted_twice(app) -> None:
    setup(app)
    give(app)
    restrict(app)
    with pytest.raises(RuleViolated) as refused:
        restrict(app, effective_at=APR_1)
    assert refused.value.rule == "R24"
    lift(app)
    _, again = restrict(app, effective_at=JUN_1)
    assert again.status == "restricted"


def test_r2_an_unregistered_purpose_cannot_be_restricted(app) -> None:
    setup(app)
    with pytest.raises(RuleViolated) as refused:
        restrict(app, purpose="unknown")
    assert refused.value.rule == "R2"


def test_restricting_several_purposes_is_all_or_nothing(app) -> None:
    setup(app)
    setup(app, "photos")  # a second purpose; the subject exists already
    give(app)
    give(app, "photos")
    restrict(app, purpose="photos")
    restriction = Restriction(reasons="objection pending (art. 18(1)(d))", effective_at=APR_1)
    with pytest.raises(RuleViolated):
        app.restrict_purposes(TENANT, SUBJECT, ["newsletter", "photos"], restriction)
    assert standing(app, at=MAY_1).status == "lawful"  # the first was not recorded either
    answers = app.restrict_purposes(TENANT, SUBJECT, ["newsletter"], restriction)
    assert [a.status for _, a in answers] == ["restricted"]


def test_r24_a_restriction_from_before_a_known_restriction_is_refused(app) -> None:
    """A restriction dated before one already recorded would run into it: two restrictions
    of one purpose at once (the same request sent twice concurrently dates the loser a
    moment before the winner)."""
    setup(app)
    give(app)
    restrict(app, effective_at=APR_1)
    with pytest.raises(RuleViolated) as refused:
        restrict(app, effective_at=MAR_1)
    assert (refused.value.rule, refused.value.field) == ("R24", "purposes")
    assert standing(app, at=MAR_1 + timedelta(days=1)).status == "lawful"


def test_r24_a_restriction_is_lifted_once_also_when_the_second_lift_is_dated_earlier(app) -> None:
    setup(app)
    give(app)
    restrict(app)
    lift(app, effective_at=MAY_1)
    with pytest.raises(RuleViolated) as refused:
        lift(app, effective_at=APR_1)
    assert (refused.value.rule, refused.value.field) == ("R24", "effective_at")
    assert standing(app, at=APR_1 + timedelta(days=1)).status == "restricted"


def test_r24_a_restriction_after_a_lifted_one_is_accepted_and_lifted_on_its_own(app) -> None:
    setup(app)
    give(app)
    restrict(app)
    lift(app, effective_at=APR_1)
    restrict(app, effective_at=MAY_1)
    _, lifted = lift(app, effective_at=JUN_1)
    assert lifted.status == "lawful"
