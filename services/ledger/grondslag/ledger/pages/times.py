"""Dates and times on the pages: shown, and picked, in Europe/Amsterdam."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ..domain.bounds import LATEST, check_instant
from ..domain.errors import InvalidInput

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def day(moment: datetime) -> str:
    return moment.astimezone(AMSTERDAM).date().isoformat()


def when(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    local = moment.astimezone(AMSTERDAM)
    return f'<time datetime="{moment.isoformat()}">{local:%Y-%m-%d %H:%M}</time>'


def picked(name: str, text: str | None) -> datetime | None:
    """The end of the picked day, or None when none was picked; a date that is no date or
    lies outside the ledger's range of instants (``domain.bounds``) is refused naming it."""
    if not text:
        return None
    try:
        moment = _end_of_day(text)
    except OverflowError:  # 9999-12-31 has no next day: beyond the range all the same
        moment = LATEST
    except ValueError:
        raise InvalidInput(f"{name}: give a date as YYYY-MM-DD", field=name) from None
    check_instant(name, moment)
    return moment


def _end_of_day(text: str) -> datetime:
    """The last instant of a picked date (YYYY-MM-DD) in Europe/Amsterdam, in UTC."""
    day = date.fromisoformat(text)
    start_next = datetime.combine(day + timedelta(days=1), time(), AMSTERDAM)
    return start_next.astimezone(UTC) - timedelta(microseconds=1)
