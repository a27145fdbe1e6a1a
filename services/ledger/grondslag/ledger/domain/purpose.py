"""The purpose aggregate: one entry of the art. 30 register and its versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate

from . import bounds, notice_revision, register
from .ids import purpose_id
from .purpose_versions import PurposeVersion
from .recorded_order import InVersionOrder
from .topics import recorded_as
from .values import PurposeTerms


@recorded_as("ledger.domain.purpose")
class Purpose(InVersionOrder, Aggregate):
    """A registered purpose; revisions add versions, never rewrite them."""

    @staticmethod
    def create_id(tenant: str, code: str) -> Any:
        return purpose_id(tenant, code)

    class Registered(Aggregate.Created):
        """A purpose was entered in the register."""

        tenant: str
        code: str
        terms: PurposeTerms
        effective_at: datetime

    class Revised(Aggregate.Event):
        """A purpose got a new version, material (R10) or cosmetic."""

        terms: PurposeTerms
        material: bool
        effective_at: datetime

        def apply(self, aggregate: Purpose) -> None:
            aggregate._adopt(self.terms, self.material, self.effective_at, self.timestamp)

    def __init__(self, tenant: str, code: str, terms: PurposeTerms, effective_at: datetime):
        self.tenant = tenant
        self.code = code
        self.versions: list[PurposeVersion] = []
        self._adopt(terms, True, effective_at, self.created_on)

    @classmethod
    def register(
        cls, tenant: str, code: str, terms: PurposeTerms, effective_at: datetime
    ) -> Purpose:
        bounds.check_instant("effective_at", effective_at)
        register.check_terms(terms)
        return cls._create(
            cls.Registered,
            id=cls.create_id(tenant, code),
            tenant=tenant,
            code=code,
            terms=terms,
            effective_at=effective_at,
        )

    def revise(self, terms: PurposeTerms, material: bool, effective_at: datetime) -> None:
        bounds.check_instant("effective_at", effective_at)
        register.check_terms(terms)
        notice_revision.check_revision(self.versions, terms, material, effective_at)
        self.trigger_event(self.Revised, terms=terms, material=material, effective_at=effective_at)

    @property
    def latest(self) -> PurposeVersion:
        return self.versions[-1]

    def _adopt(
        self, terms: PurposeTerms, material: bool, effective_at: datetime, recorded_at: datetime
    ) -> None:
        number = len(self.versions) + 1
        self.versions.append(PurposeVersion(number, terms, material, effective_at, recorded_at))
