"""R21: retention terms — ISO 8601 durations counted in calendar years, months and days."""

from __future__ import annotations

import calendar
import re
from datetime import MAXYEAR, datetime, timedelta

from .minors import NEVER
from .values import Retention

_TERM = re.compile(r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?")


def term_parts(term: str) -> tuple[int, int, int]:
    """The years, months and days of an ISO 8601 term such as ``P7Y`` or ``P1Y6M``."""
    match = _TERM.fullmatch(term)
    if match is None:
        raise ValueError(f"not an ISO 8601 term of years, months and days: {term!r}")
    if not any(match.groups()):
        raise ValueError(f"an empty term: {term!r}")
    years, months, days = (int(part or 0) for part in match.groups())
    return years, months, days


def add_term(start: datetime, term: str) -> datetime:
    """``start`` plus ``term`` (e.g. ``P7Y``, ``P20Y``, ``P6M``); 29 February + 1 year is
    28 February, the last day the month has. Past the calendar's end: ``NEVER``."""
    years, months, days = term_parts(term)
    month_index = start.month - 1 + months
    year = start.year + years + month_index // 12
    if year > MAXYEAR:  # a term stored before terms were bounded: it never ends in time
        return NEVER
    month = month_index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    try:
        return start.replace(year=year, month=month, day=day) + timedelta(days=days)
    except OverflowError:
        return NEVER


def retention_until(
    retention: Retention | None, established_at: datetime | None, ended_at: datetime | None
) -> datetime | None:
    """When the retention term ends, once its start is known."""
    if retention is None:
        return None
    start = ended_at if retention.starts == "basis_end" else established_at
    return add_term(start, retention.term) if start is not None else None
