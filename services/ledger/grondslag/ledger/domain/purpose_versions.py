"""A purpose's versions: which the register knew of at a moment, which applied at one."""

from __future__ import annotations

from datetime import datetime

import msgspec

from .values import PurposeTerms


class PurposeVersion(msgspec.Struct, frozen=True):
    """One version of a purpose as the register knew it from ``recorded_at`` on."""

    number: int
    terms: PurposeTerms
    material: bool
    effective_at: datetime
    recorded_at: datetime


def known_versions(versions: list[PurposeVersion], known_at: datetime) -> list[PurposeVersion]:
    """The versions the register knew of at ``known_at``."""
    return [v for v in versions if v.recorded_at <= known_at]


def version_in_force(versions: list[PurposeVersion], at: datetime) -> PurposeVersion | None:
    """The version that applied at ``at`` (the latest taking effect at or before it)."""
    current = None
    for version in versions:
        if version.effective_at <= at:
            current = version
    return current
