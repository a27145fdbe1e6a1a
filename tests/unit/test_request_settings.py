"""The lead of the request clock's due-soon warning (R23), from GRONDSLAG_REQUEST_DUE_SOON."""

from __future__ import annotations

from datetime import timedelta

import pytest

from grondslag.ledger.settings import Settings, lead_time


def test_the_due_soon_lead_defaults_to_seven_days_and_reads_iso_durations() -> None:
    assert Settings.from_env({}).request_due_soon == timedelta(days=7)
    assert Settings.from_env({"GRONDSLAG_REQUEST_DUE_SOON": "P1W2D"}).request_due_soon == (
        timedelta(days=9)
    )
    assert lead_time("PT12H") == timedelta(hours=12)


@pytest.mark.parametrize("term", ["7D", "P", "PT", "P1M", "soon"])
def test_a_lead_that_is_not_a_duration_of_weeks_days_or_hours_is_refused(term: str) -> None:
    with pytest.raises(ValueError, match="GRONDSLAG_REQUEST_DUE_SOON"):
        lead_time(term)
