"""The standing aggregate: the whole history of why one subject's data may be processed
for one purpose (one stream per tenant, subject and purpose)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate

from .ids import event_id, standing_id
from .values import Consent, Withdrawal

Statement = Consent | Withdrawal


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

    def _learn(self, event: Aggregate.Event, statement: Statement) -> None:
        fact = Fact(
            event_id(event.originator_id, event.originator_version), event.timestamp, statement
        )
        self.facts.append(fact)
