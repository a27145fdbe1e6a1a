"""R21: retention terms are ISO 8601 durations counted in calendar years, months and days,
from the end of the basis or from collection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from grondslag.ledger.domain.retention import add_term, retention_until
from grondslag.ledger.domain.values import Retention


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# -- add_term ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("start", "term", "expected"),
    [
        (utc(2018, 6, 30, 12, 0), "P7Y", utc(2025, 6, 30, 12, 0)),
        (utc(2020, 1, 15, 8, 30), "P20Y", utc(2040, 1, 15, 8, 30)),
        (utc(2024, 9, 30), "P6M", utc(2025, 3, 30)),
        (utc(2024, 8, 31), "P6M", utc(2025, 2, 28)),
        (utc(2024, 7, 1), "P6M", utc(2025, 1, 1)),
        (utc(2024, 1, 20), "P1Y2M10D", utc(2025, 3, 30)),
        (utc(2024, 12, 25), "P1Y2M10D", utc(2026, 3, 7)),
        (utc(2024, 3, 1), "P10D", utc(2024, 3, 11)),
        (utc(2024, 2, 25), "P10D", utc(2024, 3, 6)),
        (utc(2024, 5, 1), "P12M", utc(2025, 5, 1)),
        (utc(2024, 5, 1), "P25M", utc(2026, 6, 1)),
        (utc(2024, 5, 1), "P0Y", utc(2024, 5, 1)),
    ],
)
def test_add_term_counts_calendar_years_months_and_days(start, term, expected):
    assert add_term(start, term) == expected


def test_add_term_keeps_the_time_of_day_and_the_zone():
    start = utc(2018, 6, 30, 23, 59, 59, 999_999)
    assert add_term(start, "P7Y") == utc(2025, 6, 30, 23, 59, 59, 999_999)
    assert add_term(start, "P7Y").tzinfo is UTC


@pytest.mark.parametrize(
    ("start", "term", "expected"),
    [
        (utc(2024, 2, 29), "P1Y", utc(2025, 2, 28)),
        (utc(2024, 2, 29), "P7Y", utc(2031, 2, 28)),
        (utc(2024, 2, 29), "P4Y", utc(2028, 2, 29)),
        (utc(2024, 2, 29), "P20Y", utc(2044, 2, 29)),
        (utc(2024, 2, 29), "P12M", utc(2025, 2, 28)),
    ],
)
def test_add_term_from_29_february_lands_on_the_last_day_of_february(start, term, expected):
    assert add_term(start, term) == expected


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (utc(2025, 1, 31), utc(2025, 2, 28)),
        (utc(2024, 1, 31), utc(2024, 2, 29)),
        (utc(2025, 1, 28), utc(2025, 2, 28)),
        (utc(2025, 3, 31), utc(2025, 4, 30)),
        (utc(2025, 12, 31), utc(2026, 1, 31)),
    ],
)
def test_add_term_of_one_month_is_clamped_to_the_last_day_of_the_month(start, expected):
    assert add_term(start, "P1M") == expected


def test_add_term_adds_days_after_the_years_and_months():
    # 31 January + 1 month = 28 February; + 1 day = 1 March (not 29 February + ...).
    assert add_term(utc(2025, 1, 31), "P1M1D") == utc(2025, 3, 1)


@pytest.mark.parametrize(
    "term",
    [
        "",
        "7Y",
        "P7",
        "p7y",
        "P-1Y",
        "P1.5Y",
        "PT1H",
        "P1DT1H",
        "P1W",
        "P1D1M",
        "P1M1Y",
        " P7Y",
        "P7Y ",
        "seven years",
        "P",
        "P7Y\n",
    ],
)
def test_add_term_refuses_what_is_not_a_term_of_years_months_and_days(term):
    with pytest.raises(ValueError):
        add_term(utc(2025, 1, 1), term)


# -- retention_until --------------------------------------------------------------------------
ESTABLISHED = utc(2016, 1, 1)
ENDED = utc(2019, 5, 1, 12, 0)


def test_retention_from_the_basis_end_counts_from_the_end():
    assert retention_until(Retention(term="P7Y"), ESTABLISHED, ENDED) == utc(2026, 5, 1, 12, 0)
    assert retention_until(Retention(term="P20Y", starts="basis_end"), ESTABLISHED, ENDED) == (
        utc(2039, 5, 1, 12, 0)
    )


def test_retention_from_the_basis_end_is_unknown_while_the_basis_has_not_ended():
    assert retention_until(Retention(term="P7Y"), ESTABLISHED, None) is None


def test_retention_from_collection_counts_from_the_establishment():
    retention = Retention(term="P7Y", starts="collection")
    assert retention_until(retention, ESTABLISHED, ENDED) == utc(2023, 1, 1)
    assert retention_until(retention, ESTABLISHED, None) == utc(2023, 1, 1)


def test_retention_from_collection_is_unknown_without_an_establishment():
    assert retention_until(Retention(term="P7Y", starts="collection"), None, ENDED) is None


def test_no_retention_term_means_no_retention_end():
    assert retention_until(None, ESTABLISHED, ENDED) is None
    assert retention_until(None, None, None) is None


@pytest.mark.parametrize("offset", [timedelta(0), timedelta(minutes=1), -timedelta(minutes=1)])
def test_retention_end_moves_with_the_basis_end_to_the_minute(offset):
    assert retention_until(Retention(term="P7Y"), ESTABLISHED, ENDED + offset) == (
        utc(2026, 5, 1, 12, 0) + offset
    )


def test_default_retention_start_is_the_basis_end():
    assert Retention(term="P7Y").starts == "basis_end"


@pytest.mark.parametrize("term", ["P", "P7Y\n", "P7", "PT1H", "7Y", ""])
def test_a_registered_retention_term_must_be_years_months_or_days(term):
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"term": term}, Retention)


@pytest.mark.parametrize("term", ["P7Y", "P20Y", "P6M", "P1Y2M10D", "P30D"])
def test_a_registered_retention_term_accepts_iso_8601_years_months_and_days(term):
    assert msgspec.convert({"term": term}, Retention).term == term
