"""Objection (art. 21, Telecommunicatiewet 11.7): R17 direct marketing, R18 legitimate
interest and public task."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import RuleViolated
from .values import Objection, ObjectionDecision, PurposeTerms

if TYPE_CHECKING:
    from .facts import Fact
    from .standing_at import StandingAnswer

OBJECTABLE = frozenset({"legitimate_interest", "public_task"})


def check_objection(code: str, terms: PurposeTerms, before: StandingAnswer) -> None:
    """R17, R18: refuses an objection that cannot be lodged then."""
    refusal = objection_refusal(code, terms, before)
    if refusal is not None:
        raise refusal


def objection_refusal(
    code: str, terms: PurposeTerms, before: StandingAnswer
) -> RuleViolated | None:
    """Why an objection cannot be lodged then (R17, R18), or None when it can."""
    if terms.basis == "consent" and not terms.direct_marketing:
        return RuleViolated(
            "R18",
            f"purpose {code!r} rests on consent: record a withdrawal instead "
            "(POST /v1/subjects/{subject_ref}/consents/{purpose}/withdrawal, R8)",
            field="purpose",
        )
    if terms.basis == "consent":
        return RuleViolated(
            "R17",
            "this direct marketing rests on consent: record a withdrawal instead "
            "(POST /v1/subjects/{subject_ref}/consents/{purpose}/withdrawal, R8)",
            field="purpose",
        )
    if not terms.direct_marketing and terms.basis not in OBJECTABLE:
        return RuleViolated(
            "R18",
            f"art. 21 gives no right to object to processing on {terms.basis}; only to "
            "legitimate interest, public task and direct marketing",
            field="purpose",
        )
    if before.status == "restricted":
        return RuleViolated("R18", "an objection is already awaiting a decision", field="purpose")
    if before.status != "lawful":
        return RuleViolated(
            "R18", f"no basis for {code!r} is in force then to object to", field="effective_at"
        )
    return None


def check_decision(terms: PurposeTerms, before: StandingAnswer) -> None:
    if terms.direct_marketing:
        raise RuleViolated(
            "R17",
            "an objection to direct marketing is absolute; there is nothing to decide",
            field="upheld",
        )
    if before.status != "restricted":
        raise RuleViolated("R18", "no objection awaits a decision then", field="effective_at")


def check_not_decided(facts: list[Fact], decision: ObjectionDecision) -> None:
    """R18: an objection has one decision. The objection lodged by the decision's time is
    refused a second one, also one back-dated before the first (it would contradict it, or
    repeat it when the same decision is sent twice at once)."""
    lodged = [f for f in facts if isinstance(f.statement, Objection)]
    before = [f for f in lodged if f.effective_at <= decision.effective_at]
    if not before:
        return
    objection = max(before, key=lambda f: (f.effective_at, f.recorded_at))
    following = [f.effective_at for f in lodged if f.effective_at > objection.effective_at]
    until = min(following, default=None)
    decided = [
        f
        for f in facts
        if isinstance(f.statement, ObjectionDecision)
        and f.effective_at >= objection.effective_at
        and (until is None or f.effective_at < until)
    ]
    if decided:
        first = min(decided, key=lambda f: (f.effective_at, f.recorded_at))
        raise RuleViolated(
            "R18",
            f"the objection of {objection.effective_at.isoformat()} was decided already "
            f"(with effect from {first.effective_at.isoformat()}); an objection has one decision",
            field="effective_at",
        )
