"""Builders of the domain's unit tests: one practice (``TENANT``) and one client
(``SUBJECT``), the first months of 2025, a newsletter on consent, and the commands and
questions the rules are tested with. Each builder's defaults make a record every rule
accepts; a test names only what it changes.

The representation section holds the people of R11–R16: a teenager, a child, an adult,
two sixteenth birthdays (winter and summer time), and their representatives."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
import pytest

from grondslag.ledger.application import Ledger
from grondslag.ledger.domain.values import (
    Evidence,
    Giver,
    Notice,
    PersonalData,
    PurposeTerms,
    Representation,
    RepresentationEnd,
)

TENANT = "practice-a"
SUBJECT = "client-001"
MINUTE = timedelta(minutes=1)
JAN_1 = datetime(2025, 1, 1, tzinfo=UTC)
FEB_1 = datetime(2025, 2, 1, tzinfo=UTC)
MAR_1 = datetime(2025, 3, 1, tzinfo=UTC)
APR_1 = datetime(2025, 4, 1, tzinfo=UTC)
MAY_1 = datetime(2025, 5, 1, tzinfo=UTC)
JUN_1 = datetime(2025, 6, 1, tzinfo=UTC)
JUL_1 = datetime(2025, 7, 1, tzinfo=UTC)
AUG_1 = datetime(2025, 8, 1, tzinfo=UTC)
SEP_1 = datetime(2025, 9, 1, tzinfo=UTC)
EVIDENCE = Evidence(document_ref="scan-2025-001", sha256="b" * 64)


def notice(version: str = "n1") -> Notice:
    return Notice(version=version, url=f"https://example.nl/privacy/{version}", sha256="a" * 64)


def terms(**changes: object) -> PurposeTerms:
    """A newsletter on consent under notice n1, with ``changes``."""
    base = PurposeTerms(title="Newsletter", basis="consent", notice=notice())
    return msgspec.structs.replace(base, **changes)


def register(app: Ledger, code: str = "newsletter", at: datetime = JAN_1, **changes: object) -> str:
    """The purpose ``code`` on ``terms(**changes)``, in force from ``at``; answers the code."""
    app.register_purpose(TENANT, code, terms(**changes), at)
    return code


def subject(app: Ledger, born: date | None = None) -> None:
    """``SUBJECT``, with a birth date when ``born`` is given."""
    app.put_subject(TENANT, SUBJECT, PersonalData(birth_date=born))


def setup(app: Ledger, purpose: str = "newsletter", **changes: object) -> None:
    """The purpose (in force from 1 January 2025) and the subject."""
    register(app, purpose, **changes)
    subject(app)


def give(
    app: Ledger,
    purpose: str = "newsletter",
    effective_at: datetime | None = FEB_1,
    *,
    by: str | None = None,
    **fields: Any,
) -> Any:
    """A written, explicit consent under notice n1 — valid for every purpose, special
    categories included — by the subject, or by the representative ``by``."""
    consent: dict[str, Any] = {
        "method": "written",
        "explicit": True,
        "notice_version": "n1",
        "evidence": EVIDENCE,
        "recorded_by": "staff:anna",
    }
    return app.give_consent(
        TENANT,
        SUBJECT,
        purpose,
        **(consent | fields),
        effective_at=effective_at,
        representative_ref=by,
    )


def withdraw(
    app: Ledger,
    purpose: str = "newsletter",
    effective_at: datetime | None = MAY_1,
    *,
    by: str | None = None,
    **fields: Any,
) -> Any:
    """A withdrawal by e-mail, by the subject or by the representative ``by``."""
    withdrawal: dict[str, Any] = {"method": "email", "recorded_by": "staff:bram"}
    return app.withdraw_consent(
        TENANT,
        SUBJECT,
        purpose,
        **(withdrawal | fields),
        effective_at=effective_at,
        representative_ref=by,
    )


def standing(
    app: Ledger,
    purpose: str = "newsletter",
    at: datetime | None = None,
    known_at: datetime | None = None,
    *,
    subject: str = SUBJECT,
) -> Any:
    """The standing of ``subject`` for ``purpose`` at ``at``, as known at ``known_at``."""
    return app.standing(TENANT, subject, purpose, at=at, known_at=known_at)


def moment() -> datetime:
    """Now, strictly after every event already recorded and before any recorded next."""
    time.sleep(0.002)
    now = datetime.now(UTC)
    time.sleep(0.002)
    return now


# -- representation (R11–R16) ----------------------------------------------------------------
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
COURT = Evidence(document_ref="court-decision-2020-17", sha256="c" * 64)

ADULT = date(1960, 4, 4)
# 12 to 16 during 2025: 12th birthday 2024-03-09 23:00 UTC, 16th 2028-03-09 23:00 UTC.
TEEN = date(2012, 3, 10)
# Under 12 during 2025: 12th birthday 2027-05-19 22:00 UTC (summer time).
CHILD = date(2015, 5, 20)
CHILD_12 = datetime(2027, 5, 19, 22, 0, tzinfo=UTC)
# Turns 16 in winter time (2026-01-14 23:00 UTC) and in summer time (2026-07-14 22:00 UTC).
WINTER_BIRTH = date(2010, 1, 15)
WINTER_16 = datetime(2026, 1, 14, 23, 0, tzinfo=UTC)  # 2026-01-15 00:00 CET
SUMMER_BIRTH = date(2010, 7, 15)
SUMMER_16 = datetime(2026, 7, 14, 22, 0, tzinfo=UTC)  # 2026-07-15 00:00 CEST
SEASONS = pytest.mark.parametrize(
    ("born", "sixteenth"),
    [(WINTER_BIRTH, WINTER_16), (SUMMER_BIRTH, SUMMER_16)],
    ids=["winter", "summer"],
)

CARE = {
    "matter": "care",
    "special_categories": ("health",),
    "special_condition": "explicit_consent",
}
PROPERTY = {"matter": "property"}


def purpose(app: Ledger, code: str = "newsletter", **changes: object) -> str:
    """A purpose in force since 2000, before any representation or birthday of the tests."""
    return register(app, code, EPOCH, **changes)


def represent(app: Ledger, ref: str, kind: str, valid_from: datetime = EPOCH, **extra: Any) -> Any:
    """Registers ``ref`` as the subject's representative of ``kind`` (on a court decision)."""
    return app.register_representative(
        TENANT,
        SUBJECT,
        Representation(
            representative_ref=ref, kind=kind, valid_from=valid_from, evidence=COURT, **extra
        ),
    )


def end_representation(app: Ledger, ref: str, effective_at: datetime) -> Any:
    return app.end_representation(
        TENANT,
        SUBJECT,
        RepresentationEnd(representative_ref=ref, effective_at=effective_at, reason="court"),
    )


def rep(ref: str, kind: str) -> Giver:
    """The giver of a consent by representative ``ref`` acting as ``kind``."""
    return Giver("representative", ref, kind)


def minor_with_parent(
    app: Ledger, born: date, kind: str = "parental_authority", **changes: object
) -> str:
    """A purpose, a subject born on ``born`` and "mother" as their representative of
    ``kind``; answers the purpose's code."""
    code = purpose(app, **changes)
    subject(app, born)
    represent(app, "mother", kind)
    return code
