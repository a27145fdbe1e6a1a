"""The standing aggregate: the whole history of why one subject's data may be processed
for one purpose (one stream per tenant, subject and purpose)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate

from .ids import event_id, standing_id
from .values import (
    BasisEnd,
    Consent,
    Establishment,
    Lapse,
    Objection,
    ObjectionDecision,
    Withdrawal,
)

Statement = Consent | Withdrawal | Establishment | BasisEnd | Objection | ObjectionDecision | Lapse


class Fact(msgspec.Struct, frozen=True):
    """One recorded statement with its two times: effective (in it) and recorded (here)."""

    event_id: UUID
    recorded_at: datetime
    statement: Statement

    @property
    def effective_at(self) -> datetime:
        return self.statement.effective_at


class Standing(Aggregate):
    """Facts about one (subject, purpose); ``standing_at`` folds them into an answer."""

    @staticmethod
    def create_id(tenant: str, subject_ref: str, purpose: str) -> Any:
        return standing_id(tenant, subject_ref, purpose)

    class Opened(Aggregate.Created):
        """The ledger started keeping the standing of a subject for a purpose."""

        tenant: str
        subject_ref: str
        purpose: str

    class ConsentGiven(Aggregate.Event):
        """Consent was given, by the subject or a representative."""

        consent: Consent

        def apply(self, aggregate: Standing) -> None:
            aggregate._learn(self, self.consent)

    class ConsentWithdrawn(Aggregate.Event):
        """Consent was withdrawn; it took effect when it reached the practice (R8)."""

        withdrawal: Withdrawal

        def apply(self, aggregate: Standing) -> None:
            aggregate._learn(self, self.withdrawal)

    class BasisEstablished(Aggregate.Event):
        """A contract, legal obligation or other non-consent basis took effect."""

        establishment: Establishment

        def apply(self, aggregate: Standing) -> None:
            aggregate._learn(self, self.establishment)

    class BasisEnded(Aggregate.Event):
        """The non-consent basis ended; the purpose's retention term starts (R21)."""

        basis_end: BasisEnd

        def apply(self, aggregate: Standing) -> None:
            aggregate._learn(self, self.basis_end)

    class ObjectionLodged(Aggregate.Event):
        """The subject objected to the processing (art. 21; R17, R18)."""

        objection: Objection

        def apply(self, aggregate: Standing) -> None:
            aggregate._learn(self, self.objection)

    class ObjectionDecided(Aggregate.Event):
        """The controller decided the objection (R18)."""

        decision: ObjectionDecision

        def apply(self, aggregate: Standing) -> None:
            aggregate._learn(self, self.decision)

    class BasisLapsed(Aggregate.Event):
        """The deadline clock noticed that a date ended the standing; published to NATS."""

        lapse: Lapse

        def apply(self, aggregate: Standing) -> None:
            aggregate._learn(self, self.lapse)

    class RetentionExpired(Aggregate.Event):
        """The retention term after the basis ended has run out: delete the data (R21)."""

        lapse: Lapse

        def apply(self, aggregate: Standing) -> None:
            aggregate._learn(self, self.lapse)

    def __init__(self, tenant: str, subject_ref: str, purpose: str):
        self.tenant = tenant
        self.subject_ref = subject_ref
        self.purpose = purpose
        self.facts: list[Fact] = []

    @classmethod
    def open(cls, tenant: str, subject_ref: str, purpose: str) -> Standing:
        return cls._create(
            cls.Opened,
            id=cls.create_id(tenant, subject_ref, purpose),
            tenant=tenant,
            subject_ref=subject_ref,
            purpose=purpose,
        )

    def give_consent(self, consent: Consent) -> UUID:
        self.trigger_event(self.ConsentGiven, consent=consent)
        return event_id(self.id, self.version)

    def withdraw_consent(self, withdrawal: Withdrawal) -> UUID:
        self.trigger_event(self.ConsentWithdrawn, withdrawal=withdrawal)
        return event_id(self.id, self.version)

    def establish_basis(self, establishment: Establishment) -> UUID:
        self.trigger_event(self.BasisEstablished, establishment=establishment)
        return event_id(self.id, self.version)

    def end_basis(self, basis_end: BasisEnd) -> UUID:
        self.trigger_event(self.BasisEnded, basis_end=basis_end)
        return event_id(self.id, self.version)

    def lodge_objection(self, objection: Objection) -> UUID:
        self.trigger_event(self.ObjectionLodged, objection=objection)
        return event_id(self.id, self.version)

    def decide_objection(self, decision: ObjectionDecision) -> UUID:
        self.trigger_event(self.ObjectionDecided, decision=decision)
        return event_id(self.id, self.version)

    def notice_lapse(self, lapse: Lapse) -> UUID | None:
        """Record a time-driven lapse once; answers its event id, or None if already noticed."""
        if any(fact.statement == lapse for fact in self.facts):
            return None
        event_class = (
            self.RetentionExpired if lapse.reason == "retention_expired" else (self.BasisLapsed)
        )
        self.trigger_event(event_class, lapse=lapse)
        return event_id(self.id, self.version)

    def _learn(self, event: Aggregate.Event, statement: Statement) -> None:
        fact = Fact(
            event_id(event.originator_id, event.originator_version), event.timestamp, statement
        )
        self.facts.append(fact)
