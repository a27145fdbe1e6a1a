"""The controller aggregate: who the practice is, as the GDPR's "controller" (art. 4(7)),
one stream per tenant.

Its identity — display name, postal address, contact, data-protection officer, privacy
statement, where to complain, the answer term it promises (R23) and its languages — is
recorded as events, each with the moment it took effect: who the controller was at T, as
known at K, is a bitemporal question like every other (an Art. 15 answer sent in March is
signed off with the name and address the practice had then, as the ledger knew it then).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

import msgspec
from eventsourcing.domain import Aggregate

from . import bounds
from .errors import RuleViolated
from .ids import controller_id
from .recorded_order import InVersionOrder
from .topics import recorded_as
from .values import LongText, ShortText, Url

# The Dutch supervisory authority's page for a complaint (art. 77) — "Een tip of klacht
# indienen bij de AP"; its postal address is Postbus 93374, 2509 AJ Den Haag.
AUTORITEIT_PERSOONSGEGEVENS = (
    "https://autoriteitpersoonsgegevens.nl/een-tip-of-klacht-indienen-bij-de-ap"
)
# A promised term counted in days must end by the legal one-month date whatever the day of
# receipt: one month after 1 February (not a leap year) is 28 days later (R23).
SHORTEST_MONTH_DAYS = 28
_TERM = re.compile(r"^P(?:(?P<months>\d{1,2})M|(?:(?P<weeks>\d{1,2})W)?(?:(?P<days>\d{1,3})D)?)$")

Email = Annotated[
    str, msgspec.Meta(pattern=r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+(?!\n)$", max_length=320)
]
Language = Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2}(?!\n)$", description="ISO 639-1")]
Term = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^P(\d{1,2}M|(\d{1,2}W)?(\d{1,3}D)?)(?!\n)$",
        description="ISO 8601 duration in weeks and/or days (e.g. P4W), or P1M",
    ),
]


class DataProtectionOfficer(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The functionaris gegevensbescherming (art. 37–39), when the practice has one."""

    name: ShortText
    contact: ShortText  # an e-mail address or telephone number


class ControllerIdentity(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Who the controller is (art. 13(1)(a)–(b), 15): shown on the public pages and in
    every Art. 15 answer."""

    display_name: ShortText
    postal_address: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    email: Email
    privacy_statement_url: Url
    complaint_url: Url = AUTORITEIT_PERSOONSGEGEVENS
    dpo: DataProtectionOfficer | None = None
    promised_term: Term | None = None
    languages: Annotated[tuple[Language, ...], msgspec.Meta(min_length=1, max_length=10)] = ("nl",)
    telephone: ShortText | None = None
    notes: LongText | None = None


def promised_days(term: str | None) -> int | None:
    """The days of a promised term (``P4W`` → 28); None when there is none or it is the
    law's own month (``P1M``)."""
    if term is None:
        return None
    match = _TERM.match(term)
    if match is None or match["months"]:
        return None
    return int(match["weeks"] or 0) * 7 + int(match["days"] or 0)


def check_promised_term(term: str | None) -> None:
    """R23: a practice may promise less than the law's month, never more."""
    if term is None:
        return
    match = _TERM.match(term)
    if match is None or term == "P":
        raise RuleViolated("R23", f"{term!r} is not a term in weeks or days", field="promised_term")
    if match["months"] and int(match["months"]) != 1:
        raise RuleViolated(
            "R23",
            f"a promised answer term of {term} is not shorter than the law's one month "
            "(GDPR 12(3)); promise P1M or less",
            field="promised_term",
        )
    days = promised_days(term)
    if days is not None and not 0 < days <= SHORTEST_MONTH_DAYS:
        raise RuleViolated(
            "R23",
            f"a promised answer term of {term} ({days} days) may end after the legal one month "
            f"(GDPR 12(3)); promise at most {SHORTEST_MONTH_DAYS} days (P4W) or P1M",
            field="promised_term",
        )


class IdentityVersion(msgspec.Struct, frozen=True):
    """One recorded identity: from when it applied, and since when the ledger knew it."""

    identity: ControllerIdentity
    effective_at: datetime
    recorded_at: datetime


@recorded_as("ledger.domain.controller")
class Controller(InVersionOrder, Aggregate):
    """The controller of one tenant: its identity over time."""

    @staticmethod
    def create_id(tenant: str) -> Any:
        return controller_id(tenant)

    class Opened(Aggregate.Created):
        """The ledger started keeping the controller's identity of a tenant."""

        tenant: str

    class IdentityRecorded(Aggregate.Event):
        """Who the controller is, from ``effective_at`` on."""

        identity: ControllerIdentity
        effective_at: datetime

        def apply(self, aggregate: Controller) -> None:
            aggregate.versions.append(
                IdentityVersion(self.identity, self.effective_at, self.timestamp)
            )

    def __init__(self, tenant: str):
        self.tenant = tenant
        self.versions: list[IdentityVersion] = []

    @classmethod
    def open(cls, tenant: str, at: datetime) -> Controller:
        return cls._create(cls.Opened, id=cls.create_id(tenant), tenant=tenant, timestamp=at)

    def record(self, identity: ControllerIdentity, effective_at: datetime, now: datetime) -> bool:
        """Record the identity from ``effective_at``; answers False (recording nothing) when
        it is what already applies then, as known now."""
        bounds.check_instant("effective_at", effective_at)
        check_promised_term(identity.promised_term)
        current = self.at(effective_at, now)
        if current is not None and current.identity == identity:
            return False
        self.trigger_event(
            self.IdentityRecorded, identity=identity, effective_at=effective_at, timestamp=now
        )
        return True

    def at(self, at: datetime, known_at: datetime) -> IdentityVersion | None:
        """The identity that applied at ``at``, as known at ``known_at`` (of those taking
        effect by then, the latest; of two taking effect at once, the later recorded)."""
        known = [v for v in self.versions if v.recorded_at <= known_at and v.effective_at <= at]
        return max(known, key=lambda v: (v.effective_at, v.recorded_at), default=None)
