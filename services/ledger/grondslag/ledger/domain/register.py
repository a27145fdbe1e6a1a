"""Rules for the register itself (R1, R3, R5): what a purpose must say to be registered.

R1 — exactly one art. 6 basis — holds by construction: ``PurposeTerms.basis`` is one value.
"""

from __future__ import annotations

from . import bounds
from .errors import RuleViolated
from .retention import term_parts
from .values import PurposeTerms

ART9_CATEGORIES = frozenset(
    {
        "health",
        "religion",
        "sexual_life",
        "ethnicity",
        "political_opinion",
        "union_membership",
        "genetic",
        "biometric",
    }
)


def check_terms(terms: PurposeTerms) -> None:
    """Refuse register entries the GDPR/UAVG do not allow."""
    if terms.retention is not None:
        bounds.check_term("retention.term", *term_parts(terms.retention.term))
    if terms.erasure_hold is not None:
        bounds.check_term("erasure_hold.term", *term_parts(terms.erasure_hold.term))
    categories = set(terms.special_categories)
    if categories & ART9_CATEGORIES:
        if terms.basis == "legitimate_interest":
            raise RuleViolated("R3", "legitimate interest never covers special categories of data")
        if not terms.special_condition:
            raise RuleViolated(
                "R3",
                "a purpose with special categories needs an art. 9(2) condition "
                "(special_condition), e.g. explicit_consent or health_care",
                field="special_condition",
            )
    if "criminal" in categories and not terms.legal_provision:
        raise RuleViolated(
            "R3",
            "criminal data needs an art. 10 / UAVG 31–33 ground in legal_provision",
            field="legal_provision",
        )
    if "bsn" in categories:
        if terms.basis == "consent":
            raise RuleViolated("R5", "the BSN may not be processed on consent (UAVG 46)")
        if not terms.legal_provision:
            raise RuleViolated(
                "R5",
                "a purpose processing the BSN must cite the law that prescribes it",
                field="legal_provision",
            )
    if terms.basis == "legal_obligation" and not terms.legal_provision:
        raise RuleViolated(
            "R1", "a legal obligation must cite its legal provision", field="legal_provision"
        )
    if terms.basis == "legitimate_interest" and not terms.legitimate_interest_assessment:
        raise RuleViolated(
            "R1",
            "legitimate interest needs the written assessment (legitimate_interest_assessment)",
            field="legitimate_interest_assessment",
        )
