"""The subject aggregate: a pseudonymous reference and its sealed personal data.

The personal fields arrive here already sealed with the subject's own key (see
``ledger.persistence.sealing``): the log never holds them in the clear, so destroying the
key erases them while the history and its proofs stay verifiable (crypto-shredding).
"""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate

from .ids import subject_id


class Subject(Aggregate):
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
            aggregate.sealed_personal_data = self.sealed_personal_data

    def __init__(self, tenant: str, subject_ref: str, sealed_personal_data: bytes):
        self.tenant = tenant
        self.subject_ref = subject_ref
        self.sealed_personal_data = sealed_personal_data

    @classmethod
    def register(cls, tenant: str, subject_ref: str, sealed_personal_data: bytes) -> Subject:
        return cls._create(
            cls.Registered,
            id=cls.create_id(tenant, subject_ref),
            tenant=tenant,
            subject_ref=subject_ref,
            sealed_personal_data=sealed_personal_data,
        )

    def record_personal_data(self, sealed_personal_data: bytes) -> None:
        self.trigger_event(self.PersonalDataRecorded, sealed_personal_data=sealed_personal_data)
