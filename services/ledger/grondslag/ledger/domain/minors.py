"""Age thresholds (UAVG 5, WGBO): birthdays are calendar dates in Europe/Amsterdam.

Someone turns N at 00:00 Amsterdam time on their Nth birthday; a 29 February birthday
counts as 1 March in other years. R11–R14 use the instants computed here.
"""

from __future__ import annotations

from datetime import MAXYEAR, UTC, date, datetime
from zoneinfo import ZoneInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
AGE_OF_CONSENT = 16  # UAVG 5: from 16 the subject decides alone (R11, R14)
AGE_OF_CARE_CONSENT = 12  # WGBO 7:450: from 12 the minor co-decides in care (R13)
AGE_OF_MAJORITY = 18  # BW 1:233: curatele, mentorschap and bewind are for adults (R15)
NEVER = datetime.max.replace(tzinfo=UTC)  # an instant past every other


def turns(birth_date: date, years: int) -> datetime:
    """The UTC instant at which someone born on ``birth_date`` turns ``years`` old; ``NEVER``
    when that lies beyond the calendar (a birth date stored before dates were bounded: the
    fold stays total, so such a subject can still withdraw and be asked about)."""
    year = birth_date.year + years
    if year > MAXYEAR:
        return NEVER
    try:
        birthday = birth_date.replace(year=year)
    except ValueError:  # 29 February in a year without one
        birthday = date(year, 3, 1)
    midnight = datetime(birthday.year, birthday.month, birthday.day, tzinfo=AMSTERDAM)
    try:
        return midnight.astimezone(UTC)
    except OverflowError:  # 31 December 9999 in Amsterdam is past the last UTC instant
        return NEVER


def is_minor(birth_date: date | None, at: datetime) -> bool:
    """Under 16 at ``at``. An unknown birth date counts as an adult: the practice records the
    birth date of every subject for whom age rules matter (see R11 in ``representation``)."""
    return birth_date is not None and at < turns(birth_date, AGE_OF_CONSENT)


def co_decides_in_care(birth_date: date | None, at: datetime) -> bool:
    """R13: between 12 and 16 both the parent and the minor consent in care matters."""
    return birth_date is not None and turns(birth_date, AGE_OF_CARE_CONSENT) <= at < turns(
        birth_date, AGE_OF_CONSENT
    )
