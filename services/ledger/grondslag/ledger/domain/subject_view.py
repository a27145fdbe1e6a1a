"""What the rules see of a subject: its representations as recorded, and its birth date."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

import msgspec

from .values import Representation, RepresentationEnd


class RepresentationRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A representation as recorded, with its end once that is recorded."""

    representation: Representation
    event_id: UUID
    recorded_at: datetime
    end: RepresentationEnd | None = None
    end_recorded_at: datetime | None = None

    @property
    def ends_at(self) -> datetime | None:
        ends = [self.representation.valid_until, self.end.effective_at if self.end else None]
        return min((t for t in ends if t is not None), default=None)

    def valid_at(self, at: datetime) -> bool:
        ends = self.ends_at
        return self.representation.valid_from <= at and (ends is None or at < ends)

    def as_known_at(self, known_at: datetime) -> RepresentationRecord | None:
        if self.recorded_at > known_at:
            return None
        if self.end_recorded_at is not None and self.end_recorded_at > known_at:
            return msgspec.structs.replace(self, end=None, end_recorded_at=None)
        return self


class SubjectView(msgspec.Struct, frozen=True):
    """What the rules need to know of a subject at one moment of knowledge."""

    birth_date: date | None = None
    representations: dict[str, RepresentationRecord] = msgspec.field(default_factory=dict)
    # R22: once erasure destroyed the birth date, the 16th birthday as the deadline clock
    # recorded it (a ``subject_reached_age_of_consent`` lapse) stands in for it
    age_of_consent_at: datetime | None = None
