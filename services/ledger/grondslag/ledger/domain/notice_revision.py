"""R10: a material revision ends the cover of consents given under earlier notices."""

from __future__ import annotations

from datetime import datetime

from .errors import RuleViolated
from .purpose_versions import PurposeVersion
from .values import PurposeTerms


def is_material_change(old: PurposeTerms, new: PurposeTerms) -> str | None:
    """What makes the change material (new recipient, data category or use), if anything."""
    if new.basis != old.basis:
        return "a change of basis (R1)"
    if set(new.recipients) - set(old.recipients):
        return "a new recipient"
    if set(new.special_categories) - set(old.special_categories):
        return "a new data category"
    if new.direct_marketing and not old.direct_marketing:
        return "a new use (direct marketing)"
    if new.matter != old.matter:
        return "a new use (matter)"
    return None


def check_revision(
    versions: list[PurposeVersion], terms: PurposeTerms, material: bool, effective_at: datetime
) -> None:
    latest = versions[-1]
    if effective_at < latest.effective_at:
        raise RuleViolated(
            "R10",
            f"a revision cannot take effect before version {latest.number} "
            f"({latest.effective_at.isoformat()})",
            field="effective_at",
        )
    reason = is_material_change(latest.terms, terms)
    if reason and not material:
        raise RuleViolated(
            "R10", f"this revision is material ({reason}); send material: true", field="material"
        )
    reused = any(v.terms.notice.version == terms.notice.version for v in versions)
    if material and reused:
        raise RuleViolated(
            "R10",
            "a material revision needs a new privacy-notice version: "
            f"{terms.notice.version!r} was already used",
            field="notice",
        )
    if reused and terms.notice.version != latest.terms.notice.version:
        raise RuleViolated(
            "R10",
            f"notice {terms.notice.version!r} belongs to an earlier version; a revision keeps "
            "the current notice or brings a new one",
            field="notice",
        )


def cover_ends_at(versions: list[PurposeVersion], notice_version: str) -> datetime | None:
    """When consents given under ``notice_version`` stop covering the purpose.

    That is the effective time of the first material revision after the last version
    that carried this notice; ``versions`` are those known at the moment asked about.
    """
    last_with_notice = max(
        (v.number for v in versions if v.terms.notice.version == notice_version), default=None
    )
    if last_with_notice is None:
        return None
    for version in versions:
        if version.number > last_with_notice and version.material:
            return version.effective_at
    return None
