"""Rules for giving and withdrawing consent: R4, R6, R7, R8, R9 (R10 at the moment of consent)."""

from __future__ import annotations

from datetime import datetime, timedelta

from . import notice_revision
from .errors import RuleViolated
from .purpose_versions import PurposeVersion, version_in_force
from .values import Consent, PurposeTerms, Withdrawal

EXPLICIT_METHODS = frozenset({"written", "email", "signed_electronic"})
CLOCK_SKEW = timedelta(minutes=5)


def check_purpose_takes_consent(code: str, terms: PurposeTerms) -> None:
    """R6: core file purposes rest on a contract or the law, never on a consent call."""
    if terms.basis == "contract":
        raise RuleViolated(
            "R6",
            f"purpose {code!r} rests on a contract; a contract is not consent (art. 7(4)). "
            "Record it with POST /v1/subjects/{subject_ref}/bases",
            field="purpose",
        )
    if terms.basis != "consent":
        raise RuleViolated(
            "R1",
            f"purpose {code!r} rests on {terms.basis}, not on consent; "
            "record it with POST /v1/subjects/{subject_ref}/bases",
            field="purpose",
        )


def needs_explicit_consent(terms: PurposeTerms) -> bool:
    return terms.special_condition == "explicit_consent" or bool(terms.special_categories)


def check_explicit(terms: PurposeTerms, consent: Consent) -> None:
    """R4: explicit consent is a separate express statement, in writing, with evidence."""
    if consent.explicit and consent.method not in EXPLICIT_METHODS:
        raise RuleViolated(
            "R4",
            f"a {consent.method} consent is not explicit; explicit consent is given "
            "written, by e-mail or signed electronically",
            field="method",
        )
    if needs_explicit_consent(terms) and not consent.explicit:
        raise RuleViolated(
            "R4",
            "this purpose involves special categories of data and needs explicit consent",
            field="explicit",
        )


def check_expiry(consent: Consent) -> None:
    """R9: a consent may carry an expiry, which must come after it takes effect."""
    if consent.expires_at is not None and consent.expires_at <= consent.effective_at:
        raise RuleViolated("R9", "expires_at must be after effective_at", field="expires_at")


def purpose_version_for(
    code: str, versions: list[PurposeVersion], notice_version: str, effective_at: datetime
) -> PurposeVersion:
    """R7/R10: the notice shown must be this purpose's and still cover it at ``effective_at``."""
    in_force = version_in_force(versions, effective_at)
    if in_force is None:
        raise RuleViolated(
            "R2",
            f"purpose {code!r} was not yet registered at {effective_at.isoformat()}",
            field="effective_at",
        )
    if not any(v.terms.notice.version == notice_version for v in versions):
        raise RuleViolated(
            "R7",
            f"notice version {notice_version!r} is not a notice of purpose {code!r}",
            field="notice_version",
        )
    ends = notice_revision.cover_ends_at(versions, notice_version)
    if ends is not None and ends <= effective_at:
        raise RuleViolated(
            "R10",
            f"notice {notice_version!r} no longer covers {code!r} since {ends.isoformat()}; "
            f"show notice {in_force.terms.notice.version!r}",
            field="notice_version",
        )
    return in_force


def check_withdrawal_time(withdrawal: Withdrawal, now: datetime) -> None:
    """R8: a withdrawal takes effect when it reaches the practice — never in the future."""
    if withdrawal.effective_at > now + CLOCK_SKEW:
        raise RuleViolated(
            "R8",
            "a withdrawal takes effect when it reaches the practice; effective_at is in the future",
            field="effective_at",
        )


def withdrawn_by_whoever_reads_the_mail(method: str, representative_ref: str | None) -> bool:
    """R8/R20: a one-click unsubscribe is honoured whoever clicks — the subject, a parent,
    a curator reading the mail. The link was sent to the address on record; refusing would
    keep mail going to someone who asked it to stop, so capacity is not checked (design
    choice: of the two errors, stopping too early is the safe one)."""
    return method == "unsubscribe_link" and representative_ref is None
