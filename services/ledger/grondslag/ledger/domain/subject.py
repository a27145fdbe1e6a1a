"""The subject aggregate: a pseudonymous reference, its sealed personal data and who may
act for it (representation, R15/R16).

The personal fields arrive here already sealed with the subject's own key (see
``grondslag.ledger.persistence.sealing``): the log never holds them in the clear, so destroying the
key erases them while the history and its proofs stay verifiable (crypto-shredding).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate

from . import bounds
from . import representation as rules
from .errors import InvalidInput, RuleViolated
from .ids import event_id, subject_id
from .recorded_order import InVersionOrder
from .subject_view import RepresentationRecord, SubjectView
from .topics import recorded_as
from .values import (
    Erasure,
    LegalClaim,
    LegalClaimEnd,
    PersonalData,
    Representation,
    RepresentationEnd,
)

Seal = Callable[[PersonalData], bytes]


def erased(subject_ref: str) -> RuleViolated:
    """R22: after a complete erasure nothing more is recorded for the subject."""
    return RuleViolated(
        "R22",
        f"subject {subject_ref!r} was erased; nothing more is recorded for it",
        field="subject_ref",
    )


@recorded_as("ledger.domain.subject")
class Subject(InVersionOrder, Aggregate):
    """A data subject, known by the practice's own opaque ``subject_ref``."""

    @staticmethod
    def create_id(tenant: str, subject_ref: str) -> Any:
        return subject_id(tenant, subject_ref)

    class Registered(Aggregate.Created):
        """The practice registered a subject."""

        tenant: str
        subject_ref: str
        sealed_personal_data: bytes

    class PersonalDataRecorded(Aggregate.Event):
        """New personal data (birth date, e-mail) was recorded, sealed."""

        sealed_personal_data: bytes

        def apply(self, aggregate: Subject) -> None:
            aggregate.sealed_history.append((self.timestamp, self.sealed_personal_data))

    class RepresentativeRegistered(Aggregate.Event):
        """Someone was registered as able to act for the subject (R15, R16)."""

        representation: Representation

        def apply(self, aggregate: Subject) -> None:
            ref = self.representation.representative_ref
            aggregate.representations[ref] = RepresentationRecord(
                representation=self.representation,
                event_id=event_id(self.originator_id, self.originator_version),
                recorded_at=self.timestamp,
            )

    class RepresentationEnded(Aggregate.Event):
        """A representation ended; consents it gave lapse then (R16)."""

        end: RepresentationEnd

        def apply(self, aggregate: Subject) -> None:
            ref = self.end.representative_ref
            aggregate.representations[ref] = msgspec.structs.replace(
                aggregate.representations[ref], end=self.end, end_recorded_at=self.timestamp
            )

    class LegalClaimRecorded(Aggregate.Event):
        """A legal claim holds a purpose's data from erasure (R22, art. 17(3)(e))."""

        claim: LegalClaim

        def apply(self, aggregate: Subject) -> None:
            aggregate.legal_claims[self.claim.claim_ref] = (self.claim, None)

    class LegalClaimEnded(Aggregate.Event):
        """The legal claim no longer holds erasure (R22)."""

        end: LegalClaimEnd

        def apply(self, aggregate: Subject) -> None:
            claim, _ = aggregate.legal_claims[self.end.claim_ref]
            aggregate.legal_claims[self.end.claim_ref] = (claim, self.end)

    class Erased(Aggregate.Event):
        """R22: the subject's personal-data key was destroyed (crypto-shredding). What the
        holds still need, if anything, is sealed anew under a fresh key (``sealed_personal_data``);
        the pseudonymous history and its proofs stay."""

        erasure: Erasure
        sealed_personal_data: bytes | None = None

        def apply(self, aggregate: Subject) -> None:
            aggregate.erasures.append(self.erasure)
            aggregate.last_erasure_event = event_id(self.originator_id, self.originator_version)
            aggregate.sealed_history.append((self.timestamp, self.sealed_personal_data or b""))

    def __init__(self, tenant: str, subject_ref: str, sealed_personal_data: bytes):
        self.tenant = tenant
        self.subject_ref = subject_ref
        self.sealed_history: list[tuple[datetime, bytes]] = [
            (self.created_on, sealed_personal_data)
        ]
        self.representations: dict[str, RepresentationRecord] = {}
        self.legal_claims: dict[str, tuple[LegalClaim, LegalClaimEnd | None]] = {}
        self.erasures: list[Erasure] = []
        self.last_erasure_event: UUID | None = None

    @property
    def erased_completely(self) -> bool:
        """R22: every personal field is gone; nothing more may be recorded for the subject."""
        return bool(self.erasures) and self.erasures[-1].complete

    def check_not_erased(self) -> None:
        """R22: after a complete erasure the subject is only a pseudonymous history."""
        if self.erased_completely:
            raise erased(self.subject_ref)

    def record_legal_claim(self, claim: LegalClaim) -> UUID:
        self.check_not_erased()
        if claim.claim_ref in self.legal_claims:
            raise RuleViolated(
                "R22", f"legal claim {claim.claim_ref!r} is recorded already", field="claim_ref"
            )
        bounds.check_instant("effective_at", claim.effective_at)
        bounds.check_instant("until", claim.until)
        if claim.until is not None and claim.until <= claim.effective_at:
            raise InvalidInput("until must lie after effective_at", field="until")
        self.trigger_event(self.LegalClaimRecorded, claim=claim)
        return event_id(self.id, self.version)

    def end_legal_claim(self, end: LegalClaimEnd) -> UUID:
        self.check_not_erased()
        known = self.legal_claims.get(end.claim_ref)
        if known is None:
            raise RuleViolated(
                "R22", f"there is no legal claim {end.claim_ref!r} to end", field="claim_ref"
            )
        if known[1] is not None:
            raise RuleViolated(
                "R22", f"legal claim {end.claim_ref!r} has ended already", field="claim_ref"
            )
        bounds.check_instant("effective_at", end.effective_at)
        self.trigger_event(self.LegalClaimEnded, end=end)
        return event_id(self.id, self.version)

    def erase(self, erasure: Erasure, sealed_kept: bytes | None, now: datetime) -> UUID:
        """R22: record the erasure at ``now``, the instant its lapses are recorded at (the
        caller destroys the key in the same transaction)."""
        self.trigger_event(
            self.Erased, erasure=erasure, sealed_personal_data=sealed_kept, timestamp=now
        )
        assert self.last_erasure_event is not None
        return self.last_erasure_event

    @classmethod
    def register(cls, tenant: str, subject_ref: str, sealed_personal_data: bytes) -> Subject:
        return cls._create(
            cls.Registered,
            id=cls.create_id(tenant, subject_ref),
            tenant=tenant,
            subject_ref=subject_ref,
            sealed_personal_data=sealed_personal_data,
        )

    @classmethod
    def admit(
        cls, tenant: str, subject_ref: str, personal: PersonalData, seal: Seal, today: date
    ) -> Subject:
        """Register a subject with its personal data, checked, then sealed by ``seal``."""
        bounds.check_birth_date("birth_date", personal.birth_date, today)
        return cls.register(tenant, subject_ref, seal(personal))

    def correct(self, personal: PersonalData, seal: Seal, today: date) -> None:
        """Record new personal data, checked, then sealed by ``seal``."""
        bounds.check_birth_date("birth_date", personal.birth_date, today)
        self.record_personal_data(seal(personal))

    @property
    def sealed_personal_data(self) -> bytes:
        return self.sealed_history[-1][1]

    def sealed_as_of(self, known_at: datetime) -> bytes | None:
        """The personal data as the ledger knew it at ``known_at`` (sealed)."""
        known = [sealed for recorded, sealed in self.sealed_history if recorded <= known_at]
        return known[-1] if known else None

    def record_personal_data(self, sealed_personal_data: bytes) -> None:
        self.trigger_event(self.PersonalDataRecorded, sealed_personal_data=sealed_personal_data)

    def register_representative(
        self, representation: Representation, birth_date: date | None
    ) -> UUID:
        rules.check_registration(representation, self.representations, birth_date)
        self.trigger_event(self.RepresentativeRegistered, representation=representation)
        return event_id(self.id, self.version)

    def end_representation(self, end: RepresentationEnd) -> UUID:
        rules.check_end(end, self.representations)
        self.trigger_event(self.RepresentationEnded, end=end)
        return event_id(self.id, self.version)

    def view(self, birth_date: date | None, known_at: datetime) -> SubjectView:
        known = {}
        for ref, record in self.representations.items():
            as_known = record.as_known_at(known_at)
            if as_known is not None:
                known[ref] = as_known
        return SubjectView(birth_date=birth_date, representations=known)
