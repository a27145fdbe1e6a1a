"""The range of dates and terms the ledger accepts, so that no stored fact can overflow a fold.

Every instant the rules compute (a 16th birthday, the end of a retention term, an expiry)
is derived from an instant the ledger was given plus at most ``MAX_TERM_YEARS``. Bounding
what comes in bounds what the fold computes, far inside what Python's ``datetime`` holds:

* instants (``effective_at``, ``expires_at``, ``valid_from``, ``valid_until``, and the
  ``at``/``known_at`` of questions) lie in [1900-01-01, 2200-01-01) UTC — no Dutch practice
  records a consent before 1900, and a consent that expires after 2200 is one that does not
  expire (leave ``expires_at`` out);
* birth dates lie in [1900-01-01, today]: nobody is born in the future (design choice);
* retention terms are at most ``MAX_TERM_YEARS`` years in all (the longest Dutch term is
  the 20 years of a WGBO or youth-care file; 115 years covers "as long as the person can
  live" for archives).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from .errors import InvalidInput

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
EARLIEST_BIRTH = date(1900, 1, 1)
MAX_TERM_YEARS = 115


def check_instant(name: str, moment: datetime | None) -> None:
    """An instant outside [1900, 2200) is refused (422), naming the field."""
    if moment is None:
        return
    if moment.tzinfo is None:
        raise InvalidInput(f"{name}: give an RFC 3339 time with an offset", field=name)
    if not EARLIEST <= moment < LATEST:
        raise InvalidInput(
            f"{name} must lie between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC)",
            field=name,
        )


def check_birth_date(name: str, birth: date | None, today: date) -> None:
    """A birth date in the future or before 1900 is refused (422)."""
    if birth is not None and not EARLIEST_BIRTH <= birth <= today:
        raise InvalidInput(
            f"{name} must lie between {EARLIEST_BIRTH.isoformat()} and today", field=name
        )


def term_years(years: int, months: int, days: int) -> float:
    """How long a term of years, months and days is, in years (for the bound)."""
    return years + months / 12 + days / 365.25


def check_term(name: str, years: int, months: int, days: int) -> None:
    """A term longer than ``MAX_TERM_YEARS`` in all is refused (422)."""
    if term_years(years, months, days) > MAX_TERM_YEARS:
        raise InvalidInput(f"{name} may be at most {MAX_TERM_YEARS} years", field=name)
