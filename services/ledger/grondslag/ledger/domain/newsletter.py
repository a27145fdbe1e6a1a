"""Newsletters: double opt-in (R19) and one-click unsubscribe (R20) — which purposes a
mailing may offer them for, and what one click on an unsubscribe link ends."""

from __future__ import annotations

from typing import Literal

from .errors import RuleViolated
from .purpose import Purpose
from .values import PurposeTerms

UNSUBSCRIBE_GROUNDS = "one-click unsubscribe (RFC 8058)"


def mailing_terms(code: str, purpose: Purpose | None) -> PurposeTerms:
    """R2, R20: the terms of a registered purpose that a mail may offer to unsubscribe from —
    one resting on consent, or direct marketing (on legitimate interest: the soft opt-in)."""
    if purpose is None:
        raise RuleViolated("R2", f"purpose {code!r} is not in the register", field="purpose")
    terms = purpose.latest.terms
    if terms.basis != "consent" and not terms.direct_marketing:
        raise RuleViolated(
            "R20",
            f"purpose {code!r} is neither consent-based nor direct marketing; "
            "there is nothing to unsubscribe from",
            field="purpose",
        )
    return terms


def check_double_opt_in(terms: PurposeTerms) -> None:
    """R19: a confirmed double opt-in is a consent, so the purpose must rest on consent."""
    if terms.basis != "consent":
        raise RuleViolated(
            "R19",
            "double opt-in gives consent; this purpose does not rest on consent",
            field="purpose",
        )


def unsubscribing_ends(terms: PurposeTerms) -> Literal["consent", "processing"]:
    """R20: what one click ends — the consent (a withdrawal, R8) where the purpose rests on
    consent; else, for direct marketing on another basis, the processing itself (an
    objection, final at once: R17)."""
    return "consent" if terms.basis == "consent" else "processing"
