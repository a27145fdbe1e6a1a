"""The standing aggregate guards itself: a command the rules refuse triggers no event, and a
command whose facts could not be answered at one of their deadlines is refused before it is
recorded — whoever calls it (the Ledger, a benchmark, a script), not only the API."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from grondslag.ledger.domain import standing_at as standing_at_module
from grondslag.ledger.domain.context import Context
from grondslag.ledger.domain.errors import InvalidInput, RuleViolated
from grondslag.ledger.domain.minors import NEVER
from grondslag.ledger.domain.purpose_versions import PurposeVersion
from grondslag.ledger.domain.standing import Standing
from grondslag.ledger.domain.standing_at import standing_at
from grondslag.ledger.domain.subject_view import SubjectView
from grondslag.ledger.domain.values import (
    BasisEnd,
    Establishment,
    Evidence,
    PurposeTerms,
    Retention,
)

from builders import notice

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
NOTICE = notice()
CONSENT = {
    "method": "written",
    "explicit": True,
    "notice_version": "n1",
    "evidence": Evidence("form.pdf"),
    "recorded_by": "staff:a",
    "effective_at": NOW - timedelta(days=1),
}


def context(basis: str = "consent", **terms: object) -> Context:
    version = PurposeVersion(
        1,
        PurposeTerms(title="p", basis=basis, notice=NOTICE, **terms),  # type: ignore[arg-type]
        True,
        datetime(2020, 1, 1, tzinfo=UTC),
        datetime(2020, 1, 1, tzinfo=UTC),
    )
    return Context([version], SubjectView(), NOW)


def fresh() -> Standing:
    standing = Standing.open("t", "s", "p", NOW)
    standing.collect_events()  # the opening alone
    return standing


@pytest.mark.parametrize(
    ("ctx", "fields", "rule"),
    [
        (context("contract"), {}, "R6"),
        (context(), {"explicit": True, "method": "verbal"}, "R4"),
        (context(), {"expires_at": NOW - timedelta(days=2)}, "R9"),
        (context(), {"notice_version": "elsewhere"}, "R7"),
    ],
)
def test_a_refused_consent_triggers_no_event_whoever_calls_the_aggregate(
    ctx: Context, fields: dict, rule: str
) -> None:
    standing = fresh()
    with pytest.raises(RuleViolated) as refusal:
        standing.give_consent(ctx, **{**CONSENT, **fields})
    assert refusal.value.rule == rule
    assert standing.collect_events() == [] and standing.facts == []


def test_r8_a_withdrawal_of_nothing_in_force_triggers_no_event() -> None:
    standing = fresh()
    with pytest.raises(RuleViolated) as refusal:
        standing.withdraw_consent(context(), method="email", recorded_by="staff:a")
    assert refusal.value.rule == "R8"
    assert standing.collect_events() == []


def test_the_answer_a_command_returns_is_the_fold_of_what_it_recorded() -> None:
    standing = fresh()
    ctx = context()
    event, answer = standing.give_consent(ctx, **CONSENT)
    (recorded,) = standing.collect_events()
    assert recorded.timestamp == ctx.now  # recorded at the instant the answer is for
    assert answer == standing_at("p", standing.facts, ctx.versions, ctx.now, ctx.now)
    assert answer.lawful and answer.evidence == [str(event)]


def test_a_fact_that_cannot_be_folded_at_its_deadline_is_refused_before_it_is_recorded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whatever fails while folding the new facts at their deadlines (here: the end of
    retention) refuses the command with 422 before anything is recorded."""
    ctx = context("contract", retention=Retention(term="P7Y"))
    standing = fresh()
    began = Establishment(basis="contract", reference="c", effective_at=NOW - timedelta(days=9))
    standing.establish_basis(ctx, began)
    standing.collect_events()

    def unrepresentable(*_: object) -> datetime:
        raise OverflowError("date value out of range")

    monkeypatch.setattr(standing_at_module, "retention_until", unrepresentable)
    with pytest.raises(InvalidInput):
        standing.end_basis(ctx, BasisEnd(reason="done", effective_at=NOW - timedelta(days=1)))
    assert standing.collect_events() == [] and len(standing.facts) == 1


def test_r21_a_term_stored_before_terms_were_bounded_never_ends_and_still_answers() -> None:
    """A register version with P9999Y (accepted by an earlier release): the basis can end,
    and its retention runs past the calendar's end instead of failing every question."""
    ctx = context("contract", retention=Retention(term="P9999Y"))
    standing = fresh()
    began = Establishment(basis="contract", reference="c", effective_at=NOW - timedelta(days=9))
    standing.establish_basis(ctx, began)
    _, answer = standing.end_basis(ctx, BasisEnd(reason="done", effective_at=NOW))
    assert (answer.status, answer.reason, answer.retention_until) == (
        "lapsed",
        "basis_ended",
        NEVER,
    )


def test_r14_a_birth_date_stored_before_dates_were_bounded_still_lets_the_subject_act() -> None:
    """Born 9999-12-30 (accepted by an earlier release): the 16th birthday lies past the
    calendar, so the fold counts it as never, and the subject can still consent and withdraw."""
    ctx = context()
    ctx = Context(ctx.versions, SubjectView(birth_date=date(9999, 12, 30)), NOW)
    standing = fresh()
    with pytest.raises(RuleViolated) as refusal:  # a minor for all time: R11 asks a parent
        standing.give_consent(ctx, **CONSENT)
    assert refusal.value.rule == "R11"
    adult = Context(ctx.versions, SubjectView(), NOW)
    standing.give_consent(adult, **CONSENT)
    # the fold with that birth date answers (R8: a one-click unsubscribe, whoever clicks)
    _, answer = standing.withdraw_consent(ctx, method="unsubscribe_link", recorded_by="subject")
    assert answer.reason == "withdrawn"


def test_a_statement_outside_the_accepted_range_is_refused_naming_its_field() -> None:
    standing = fresh()
    with pytest.raises(InvalidInput) as refusal:
        standing.give_consent(
            context(), **{**CONSENT, "expires_at": datetime(9999, 1, 1, tzinfo=UTC)}
        )
    assert refusal.value.field == "expires_at"
    assert standing.collect_events() == []


def test_notice_lapse_records_an_expiry_once_and_then_nothing() -> None:
    standing = fresh()
    ctx = context()
    standing.give_consent(ctx, **{**CONSENT, "expires_at": NOW - timedelta(hours=1)})
    later = Context(ctx.versions, ctx.subject, NOW + timedelta(seconds=1))
    assert standing.notice_lapse(later) is not None
    assert standing.notice_lapse(later) is None
    assert [type(e).__name__ for e in standing.collect_events()] == ["ConsentGiven", "BasisLapsed"]
