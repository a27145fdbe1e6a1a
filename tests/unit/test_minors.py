"""Age thresholds (R11–R14): birthdays are calendar dates in Europe/Amsterdam.

Someone turns N at 00:00 Amsterdam time on their Nth birthday — 23:00 UTC the day before
in winter time (UTC+1), 22:00 UTC the day before in summer time (UTC+2) — and a 29
February birthday counts as 1 March in years without one.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from grondslag.ledger.domain.minors import (
    AGE_OF_CARE_CONSENT,
    AGE_OF_CONSENT,
    AMSTERDAM,
    co_decides_in_care,
    is_minor,
    turns,
)

from builders import MINUTE, SUMMER_16, SUMMER_BIRTH, WINTER_16, WINTER_BIRTH


def test_the_thresholds_are_12_for_care_and_16_for_consent():
    assert (AGE_OF_CARE_CONSENT, AGE_OF_CONSENT) == (12, 16)


# -- turns(): 00:00 Amsterdam on the birthday ------------------------------------------------
def test_turns_16_at_midnight_amsterdam_in_winter_time_is_23h_utc_the_day_before():
    turned = turns(WINTER_BIRTH, 16)
    assert turned == WINTER_16
    assert turned.tzinfo is UTC
    local = turned.astimezone(AMSTERDAM)
    assert (local.date(), local.hour, local.minute) == (date(2026, 1, 15), 0, 0)
    assert local.utcoffset() == timedelta(hours=1)


def test_turns_16_at_midnight_amsterdam_in_summer_time_is_22h_utc_the_day_before():
    turned = turns(SUMMER_BIRTH, 16)
    assert turned == SUMMER_16
    local = turned.astimezone(AMSTERDAM)
    assert (local.date(), local.hour, local.minute) == (date(2026, 7, 15), 0, 0)
    assert local.utcoffset() == timedelta(hours=2)


def test_turns_12_uses_the_same_midnight_rule():
    assert turns(WINTER_BIRTH, 12) == datetime(2022, 1, 14, 23, 0, tzinfo=UTC)
    assert turns(SUMMER_BIRTH, 12) == datetime(2022, 7, 14, 22, 0, tzinfo=UTC)


def test_birthday_on_the_day_summer_time_starts_is_still_winter_midnight():
    # 29 March 2026: clocks go from 02:00 to 03:00; midnight is still CET (UTC+1).
    assert turns(date(2010, 3, 29), 16) == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)


def test_birthday_on_the_day_summer_time_ends_is_still_summer_midnight():
    # 25 October 2026: clocks go from 03:00 back to 02:00; midnight is still CEST (UTC+2).
    assert turns(date(2010, 10, 25), 16) == datetime(2026, 10, 24, 22, 0, tzinfo=UTC)


def test_birthday_on_new_years_day_turns_on_new_years_eve_in_utc():
    assert turns(date(2010, 1, 1), 16) == datetime(2025, 12, 31, 23, 0, tzinfo=UTC)


# -- 29 February ---------------------------------------------------------------------------------
def test_29_february_birthday_counts_as_1_march_in_a_year_without_29_february():
    # born 29 February 2008; 2025 has no 29 February: turns 17 on 1 March 2025 00:00 CET.
    assert turns(date(2008, 2, 29), 17) == datetime(2025, 2, 28, 23, 0, tzinfo=UTC)
    assert turns(date(2008, 2, 29), 17).astimezone(AMSTERDAM).date() == date(2025, 3, 1)


def test_29_february_birthday_is_29_february_in_a_leap_year():
    # born 29 February 2008; 2024 is a leap year: turns 16 on 29 February 2024 00:00 CET.
    assert turns(date(2008, 2, 29), 16) == datetime(2024, 2, 28, 23, 0, tzinfo=UTC)
    assert turns(date(2008, 2, 29), 16).astimezone(AMSTERDAM).date() == date(2024, 2, 29)
    assert turns(date(2008, 2, 29), 12).astimezone(AMSTERDAM).date() == date(2020, 2, 29)


def test_29_february_birthday_turns_16_on_1_march_when_the_16th_year_is_a_century():
    # 2100 is not a leap year: born 29 February 2084, the 16th birthday is 1 March 2100.
    turned = turns(date(2084, 2, 29), 16)
    assert turned.astimezone(AMSTERDAM).date() == date(2100, 3, 1)
    assert turned == datetime(2100, 2, 28, 23, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("years", "local_birthday"),
    [
        (1, date(2009, 3, 1)),
        (4, date(2012, 2, 29)),
        (5, date(2013, 3, 1)),
        (12, date(2020, 2, 29)),
        (13, date(2021, 3, 1)),
        (16, date(2024, 2, 29)),
        (18, date(2026, 3, 1)),
    ],
)
def test_29_february_birthday_by_year(years, local_birthday):
    local = turns(date(2008, 2, 29), years).astimezone(AMSTERDAM)
    assert (local.date(), local.hour, local.minute) == (local_birthday, 0, 0)


def test_is_minor_for_29_february_child_ends_at_1_march_midnight_in_a_non_leap_year():
    born = date(2084, 2, 29)
    sixteenth = datetime(2100, 2, 28, 23, 0, tzinfo=UTC)
    assert is_minor(born, sixteenth - MINUTE)  # 28 February 23:59 Amsterdam: still 15
    assert not is_minor(born, sixteenth)


# -- is_minor / co_decides_in_care around the thresholds ----------------------------------------
@pytest.mark.parametrize(
    ("born", "sixteenth"),
    [(WINTER_BIRTH, WINTER_16), (SUMMER_BIRTH, SUMMER_16)],
    ids=["winter", "summer"],
)
def test_is_minor_a_minute_before_the_16th_birthday_and_not_from_midnight(born, sixteenth):
    assert is_minor(born, sixteenth - MINUTE)
    assert is_minor(born, sixteenth - timedelta(microseconds=1))
    assert not is_minor(born, sixteenth)
    assert not is_minor(born, sixteenth + MINUTE)


@pytest.mark.parametrize(
    ("born", "sixteenth"),
    [(WINTER_BIRTH, WINTER_16), (SUMMER_BIRTH, SUMMER_16)],
    ids=["winter", "summer"],
)
def test_a_naive_utc_calendar_date_would_be_wrong_by_the_amsterdam_offset(born, sixteenth):
    # At 23:30 / 22:30 UTC on the day before, it is already the birthday in Amsterdam.
    assert not is_minor(born, sixteenth + timedelta(minutes=30))
    assert (sixteenth + timedelta(minutes=30)).date() < born.replace(year=born.year + 16)


@pytest.mark.parametrize(
    ("born", "twelfth", "sixteenth"),
    [
        (WINTER_BIRTH, datetime(2022, 1, 14, 23, 0, tzinfo=UTC), WINTER_16),
        (SUMMER_BIRTH, datetime(2022, 7, 14, 22, 0, tzinfo=UTC), SUMMER_16),
    ],
    ids=["winter", "summer"],
)
def test_co_decides_in_care_from_the_12th_birthday_until_the_16th(born, twelfth, sixteenth):
    assert not co_decides_in_care(born, twelfth - MINUTE)
    assert co_decides_in_care(born, twelfth)
    assert co_decides_in_care(born, twelfth + MINUTE)
    assert co_decides_in_care(born, sixteenth - MINUTE)
    assert not co_decides_in_care(born, sixteenth)
    assert not co_decides_in_care(born, sixteenth + MINUTE)


def test_unknown_birth_date_counts_as_an_adult_who_does_not_co_decide():
    at = datetime(2025, 1, 1, tzinfo=UTC)
    assert not is_minor(None, at)
    assert not co_decides_in_care(None, at)


def test_an_adult_is_not_a_minor_and_does_not_co_decide():
    at = datetime(2025, 1, 1, tzinfo=UTC)
    assert not is_minor(date(1980, 5, 5), at)
    assert not co_decides_in_care(date(1980, 5, 5), at)


def test_a_young_child_is_a_minor_who_does_not_yet_co_decide():
    at = datetime(2025, 1, 1, tzinfo=UTC)
    assert is_minor(date(2020, 5, 5), at)
    assert not co_decides_in_care(date(2020, 5, 5), at)
