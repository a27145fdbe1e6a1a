"""Non-consent bases per subject (R1, R19, R21): contracts, legal obligations, legitimate
interest, vital interests, public task — and when they end."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import RuleViolated
from .values import Establishment, PurposeTerms

if TYPE_CHECKING:
    from .standing_at import StandingAnswer


def check_establishment(
    code: str, terms: PurposeTerms, establishment: Establishment, before: StandingAnswer
) -> None:
    """May this basis be recorded for the subject at its effective time?"""
    if establishment.basis == "consent":
        raise RuleViolated(
            "R1",
            "consent is recorded with POST /v1/subjects/{subject_ref}/consents",
            field="basis",
        )
    if establishment.basis != terms.basis:
        raise RuleViolated(
            "R1",
            f"purpose {code!r} rests on {terms.basis} at {establishment.effective_at.isoformat()}, "
            f"not on {establishment.basis}; a change of basis is a new purpose version",
            field="basis",
        )
    if terms.shared_file and not establishment.file_ref:
        raise RuleViolated(
            "R22",
            f"purpose {code!r} keeps a file shared by several clients: name it (file_ref), so "
            "that only a joint request of all its parties erases it",
            field="file_ref",
        )
    soft_opt_in = terms.direct_marketing and establishment.basis == "legitimate_interest"
    if soft_opt_in and not establishment.opt_out_offered:
        raise RuleViolated(
            "R19",
            "direct marketing on legitimate interest (soft opt-in) needs a free opt-out "
            "offered when the address was collected: record opt_out_offered: true",
            field="opt_out_offered",
        )
    if before.reason == "objection":
        raise RuleViolated(
            "R17" if terms.direct_marketing else "R18",
            "the subject's objection was upheld (for direct marketing it is final at once); "
            "this processing may not be resumed on the same basis",
            field="purpose",
        )
    if before.status in ("lawful", "restricted") and before.basis == establishment.basis:
        raise RuleViolated(
            "R1",
            f"a {establishment.basis} basis is already in force since "
            f"{before.since.isoformat() if before.since else 'then'}",
            field="effective_at",
        )


def check_end(code: str, before: StandingAnswer) -> None:
    """R21: only a basis in force can end (its retention term then starts)."""
    if before.status not in ("lawful", "restricted") or before.basis == "consent":
        raise RuleViolated(
            "R21",
            f"no contract or other non-consent basis for {code!r} is in force then to end",
            field="effective_at",
        )
