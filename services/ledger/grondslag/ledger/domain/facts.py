"""A fact: one recorded statement about a standing, with its two times."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from .values import (
    BasisEnd,
    Consent,
    Establishment,
    Lapse,
    Objection,
    ObjectionDecision,
    Restriction,
    RestrictionLift,
    Withdrawal,
)

Statement = (
    Consent
    | Withdrawal
    | Establishment
    | BasisEnd
    | Objection
    | ObjectionDecision
    | Lapse
    | Restriction
    | RestrictionLift
)


class Fact(msgspec.Struct, frozen=True):
    """One recorded statement with its two times: effective (in it) and recorded (here)."""

    event_id: UUID
    recorded_at: datetime
    statement: Statement

    @property
    def effective_at(self) -> datetime:
        return self.statement.effective_at
