"""When a data-subject request must be answered (R23): periods of Regulation (EEC, Euratom)
No 1182/71, on the calendar of Europe/Amsterdam, with the Dutch public holidays of the
Algemene termijnenwet art. 3(1).

* The period runs from the day the request reached the practice, in Amsterdam (art. 3(1):
  that day itself is not counted): a request at 23:30 Amsterdam on 31 January (22:30 UTC)
  runs from 31 January, one at 00:30 Amsterdam on 1 February (23:30 UTC on 31 January)
  from 1 February.
* A period of months ends at the end of the day of the last month with the same date
  (art. 3(2)(c)); without one (31 January + 1 month) at the end of that month's last day.
  A period of weeks ends on the same weekday (art. 3(2)(b)); of days, that many days later.
* A period ending on a Saturday, a Sunday or a public holiday ends at the end of the next
  working day (art. 3(4)). The public holidays are those of the Algemene termijnenwet
  art. 3(1): Nieuwjaarsdag, tweede Paasdag, Hemelvaartsdag, tweede Pinksterdag, eerste en
  tweede Kerstdag, Koningsdag (27 April; 26 April when the 27th is a Sunday) and 5 mei.
  Goede Vrijdag is not among them. The yearly decrees that equate a further day with
  these (Atw art. 3(3)) are not modelled.

The end of a day is the instant the next day begins in Amsterdam (exclusive): a request is
answered in time when it is answered before ``ends(day)``.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, time, timedelta

from .errors import InvalidInput
from .minors import AMSTERDAM

MONTHS_TO_ANSWER = 1  # GDPR art. 12(3)
MAX_EXTENSION_MONTHS = 2  # GDPR art. 12(3): "by two further months"
TERM = re.compile(r"^P(?=\d)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$")


def easter_sunday(year: int) -> date:
    """Easter Sunday of the Gregorian calendar (the anonymous Gregorian computus)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    leap = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * leap) // 451
    month, day = divmod(h + leap - 7 * m + 114, 31)
    return date(year, month, day + 1)


def public_holidays(year: int) -> frozenset[date]:
    """The days of the Algemene termijnenwet art. 3(1) in ``year``."""
    easter = easter_sunday(year)
    kings_day = date(year, 4, 27)
    if kings_day.weekday() == 6:  # on a Sunday, Koningsdag is the Saturday before
        kings_day = date(year, 4, 26)
    return frozenset(
        {
            date(year, 1, 1),  # Nieuwjaarsdag
            easter + timedelta(days=1),  # tweede Paasdag
            easter + timedelta(days=39),  # Hemelvaartsdag
            easter + timedelta(days=50),  # tweede Pinksterdag
            kings_day,
            date(year, 5, 5),  # Bevrijdingsdag
            date(year, 12, 25),  # eerste Kerstdag
            date(year, 12, 26),  # tweede Kerstdag
        }
    )


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in public_holidays(day.year)


def next_working_day(day: date) -> date:
    """``day`` itself when it is a working day, else the first working day after it."""
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def add_months(day: date, months: int) -> date:
    """The same date ``months`` later; the last day of that month when it has no such date."""
    index = day.year * 12 + day.month - 1 + months
    year, month = index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def local_day(moment: datetime) -> date:
    """The calendar date of ``moment`` in Amsterdam."""
    return moment.astimezone(AMSTERDAM).date()


def ends(day: date) -> datetime:
    """The instant (UTC) at which ``day`` ends in Amsterdam: 00:00 of the next day there."""
    return datetime.combine(day + timedelta(days=1), time(), AMSTERDAM).astimezone(UTC)


def last_day(received_at: datetime, months: int = MONTHS_TO_ANSWER) -> date:
    """The last day to answer a request received at ``received_at``: ``months`` after the
    day of receipt, moved to the next working day (1182/71 art. 3(2)(c), 3(4))."""
    return next_working_day(add_months(local_day(received_at), months))


def due_at(received_at: datetime, extension_months: int = 0) -> datetime:
    """The instant by which the answer is due (exclusive): the end of the last day of one
    month, or of ``1 + extension_months`` months counted from the day of receipt."""
    return ends(last_day(received_at, MONTHS_TO_ANSWER + extension_months))


def term_parts(term: str) -> tuple[int, int, int, int]:
    """(years, months, weeks, days) of an ISO 8601 term such as ``P4W`` or ``P1M``."""
    match = TERM.match(term)
    if match is None:
        raise InvalidInput(
            f"{term!r} is not a term such as P4W, P1M or P30D", field="promised_term"
        )
    years, months, weeks, days = (int(part or 0) for part in match.groups())
    return years, months, weeks, days


def promised_by(received_at: datetime, term: str) -> datetime:
    """The end of the practice's own promised term (e.g. ``P4W``), counted like the law's:
    from the day of receipt, weeks on the same weekday, moved past weekends and holidays."""
    years, months, weeks, days = term_parts(term)
    day = add_months(local_day(received_at), 12 * years + months)
    day += timedelta(weeks=weeks, days=days)
    return ends(next_working_day(day))
