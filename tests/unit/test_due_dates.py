"""R23 due dates: one month after receipt on the calendar of Europe/Amsterdam (Regulation
1182/71 art. 3), moved past weekends and the holidays of the Algemene termijnenwet."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from grondslag.ledger.domain.due_dates import (
    add_months,
    due_at,
    easter_sunday,
    ends,
    is_working_day,
    last_day,
    promised_by,
    public_holidays,
)
from grondslag.ledger.domain.errors import InvalidInput
from grondslag.ledger.domain.minors import AMSTERDAM


def amsterdam(y: int, m: int, d: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(y, m, d, hour, minute, tzinfo=AMSTERDAM)


@pytest.mark.parametrize(
    ("year", "easter"),
    [
        (1818, date(1818, 3, 22)),
        (2019, date(2019, 4, 21)),
        (2024, date(2024, 3, 31)),
        (2025, date(2025, 4, 20)),
        (2026, date(2026, 4, 5)),
        (2027, date(2027, 3, 28)),
        (2038, date(2038, 4, 25)),
        (2285, date(2285, 3, 22)),
    ],
)
def test_easter_by_the_gregorian_computus(year: int, easter: date) -> None:
    assert easter_sunday(year) == easter


def test_the_holidays_of_the_algemene_termijnenwet_in_2026() -> None:
    assert public_holidays(2026) == {
        date(2026, 1, 1),
        date(2026, 4, 6),  # tweede Paasdag
        date(2026, 4, 27),  # Koningsdag, a Monday
        date(2026, 5, 5),
        date(2026, 5, 14),  # Hemelvaartsdag
        date(2026, 5, 25),  # tweede Pinksterdag
        date(2026, 12, 25),
        date(2026, 12, 26),
    }


def test_koningsdag_is_26_april_when_27_april_is_a_sunday() -> None:
    assert date(2025, 4, 27).weekday() == 6
    assert date(2025, 4, 26) in public_holidays(2025)
    assert date(2025, 4, 27) not in public_holidays(2025)


def test_goede_vrijdag_is_a_working_day() -> None:
    assert is_working_day(date(2026, 4, 3))  # Good Friday: not in Atw art. 3(1)
    assert last_day(amsterdam(2026, 3, 3)) == date(2026, 4, 3)


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (amsterdam(2025, 1, 15), date(2025, 2, 17)),  # 15 Feb 2025 is a Saturday
        (amsterdam(2025, 1, 31), date(2025, 2, 28)),  # no 31 February: the month's last day
        (amsterdam(2024, 1, 31), date(2024, 2, 29)),  # leap year
        (amsterdam(2024, 1, 30), date(2024, 2, 29)),
        (amsterdam(2026, 1, 31), date(2026, 3, 2)),  # 28 Feb 2026 a Saturday: Monday 2 March
        (amsterdam(2025, 3, 31), date(2025, 4, 30)),
        (amsterdam(2026, 4, 5), date(2026, 5, 6)),  # 5 May (Bevrijdingsdag, a Tuesday)
        (amsterdam(2026, 4, 14), date(2026, 5, 15)),  # Hemelvaartsdag, Thursday 14 May
        (amsterdam(2026, 3, 6), date(2026, 4, 7)),  # tweede Paasdag, Monday 6 April
        (amsterdam(2026, 4, 25), date(2026, 5, 26)),  # tweede Pinksterdag, Monday 25 May
        (amsterdam(2026, 3, 27), date(2026, 4, 28)),  # Koningsdag, Monday 27 April
        (amsterdam(2025, 11, 26), date(2025, 12, 29)),  # 2nd Christmas (Fri), then a weekend
        (amsterdam(2025, 11, 25), date(2025, 12, 29)),  # 1st and 2nd Christmas, weekend
        (amsterdam(2025, 12, 1), date(2026, 1, 2)),  # Nieuwjaarsdag
    ],
)
def test_due_one_month_after_receipt_moved_to_the_next_working_day(
    received: datetime, due: date
) -> None:
    assert last_day(received) == due
    assert due_at(received) == ends(due)


def test_the_day_of_receipt_is_the_amsterdam_date_not_the_utc_date() -> None:
    late_evening = datetime(2025, 1, 31, 22, 30, tzinfo=UTC)  # 23:30 Amsterdam, 31 January
    after_midnight = datetime(2025, 1, 31, 23, 30, tzinfo=UTC)  # 00:30 Amsterdam, 1 February
    assert last_day(late_evening) == date(2025, 2, 28)
    assert last_day(after_midnight) == date(2025, 3, 3)  # 1 March 2025 is a Saturday


def test_a_due_date_ends_at_midnight_amsterdam_exclusive() -> None:
    due = due_at(amsterdam(2025, 1, 31, 23, 30))
    assert due == datetime(2025, 2, 28, 23, 0, tzinfo=UTC)  # 1 March 00:00 CET
    assert due.astimezone(AMSTERDAM).time().isoformat() == "00:00:00"


def test_summer_time_moves_the_utc_end_of_day_but_not_the_date() -> None:
    # 28 March 2026 + one month: Saturday 28 March → Monday 30 March, in summer time
    assert due_at(amsterdam(2026, 2, 28)) == datetime(2026, 3, 30, 22, 0, tzinfo=UTC)
    assert ends(date(2026, 3, 28)) == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    # the day summer time begins has 23 hours; the day it ends, 25
    assert ends(date(2026, 3, 29)) - ends(date(2026, 3, 28)) == timedelta(hours=23)
    assert ends(date(2025, 10, 26)) - ends(date(2025, 10, 25)) == timedelta(hours=25)
    assert due_at(amsterdam(2025, 9, 27)) == datetime(2025, 10, 27, 23, 0, tzinfo=UTC)


def test_an_extension_counts_its_months_from_the_day_of_receipt() -> None:
    received = amsterdam(2025, 1, 31)
    assert due_at(received, 1) == ends(date(2025, 3, 31))
    assert due_at(received, 2) == ends(date(2025, 4, 30))
    assert due_at(amsterdam(2025, 11, 29), 1) == ends(date(2026, 1, 29))


def test_add_months_keeps_the_date_or_takes_the_months_last_day() -> None:
    assert add_months(date(2025, 1, 31), 1) == date(2025, 2, 28)
    assert add_months(date(2025, 12, 15), 1) == date(2026, 1, 15)
    assert add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)
    assert add_months(date(2025, 8, 31), 3) == date(2025, 11, 30)


def test_a_promised_term_of_weeks_ends_on_the_same_weekday_past_holidays() -> None:
    assert promised_by(amsterdam(2026, 4, 8), "P4W") == ends(date(2026, 5, 6))
    assert promised_by(amsterdam(2026, 4, 7), "P4W") == ends(date(2026, 5, 6))  # 5 May
    assert promised_by(amsterdam(2025, 1, 31), "P1M") == due_at(amsterdam(2025, 1, 31))
    assert promised_by(amsterdam(2026, 4, 8), "P20D") == ends(date(2026, 4, 28))


@pytest.mark.parametrize("term", ["4W", "P", "PT4H", "P4w", "P1M2"])
def test_a_promised_term_must_be_a_term(term: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        promised_by(amsterdam(2026, 4, 8), term)
    assert refused.value.field == "promised_term"
