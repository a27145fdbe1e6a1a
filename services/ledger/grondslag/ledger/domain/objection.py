"""Objection (art. 21, Telecommunicatiewet 11.7): R17 direct marketing, R18 legitimate
interest and public task."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import RuleViolated
from .values import PurposeTerms

if TYPE_CHECKING:
    from .standing_at import StandingAnswer

OBJECTABLE = frozenset({"legitimate_interest", "public_task"})


def check_objection(code: str, terms: PurposeTerms, before: StandingAnswer) -> None:
    if terms.basis == "consent" and not terms.direct_marketing:
        raise RuleViolated(
            "R18",
            f"purpose {code!r} rests on consent: record a withdrawal instead "
            "(POST /v1/subjects/{subject_ref}/consents/{purpose}/withdrawal, R8)",
            field="purpose",
        )
    if terms.basis == "consent":
        raise RuleViolated(
            "R17",
            "this direct marketing rests on consent: record a withdrawal instead "
            "(POST /v1/subjects/{subject_ref}/consents/{purpose}/withdrawal, R8)",
            field="purpose",
        )
    if not terms.direct_marketing and terms.basis not in OBJECTABLE:
        raise RuleViolated(
            "R18",
            f"art. 21 gives no right to object to processing on {terms.basis}; only to "
            "legitimate interest, public task and direct marketing",
            field="purpose",
        )
    if before.status == "restricted":
        raise RuleViolated("R18", "an objection is already awaiting a decision", field="purpose")
    if before.status != "lawful":
        raise RuleViolated(
            "R18", f"no basis for {code!r} is in force then to object to", field="effective_at"
        )


def check_decision(terms: PurposeTerms, before: StandingAnswer) -> None:
    if terms.direct_marketing:
        raise RuleViolated(
            "R17",
            "an objection to direct marketing is absolute; there is nothing to decide",
            field="upheld",
        )
    if before.status != "restricted":
        raise RuleViolated("R18", "no objection awaits a decision then", field="effective_at")
