"""A command that lost the race for a stream's version runs again on fresh state, after a
random wait whose span doubles (so that writers who lost together come back apart) — also
when the conflict surfaces as the aborted pipeline of the statement after it — and an
aborted pipeline that persists is answered as it is (503), not as a conflict."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, OperationalError

from grondslag.ledger import application
from grondslag.ledger.application import (
    ATTEMPTS,
    BACK_OFF_SECONDS,
    Ledger,
    retried_on_conflict,
)
from grondslag.ledger.domain.errors import ConcurrentChange


def _aborted() -> OperationalError:
    """What the library raises when a statement after a failed one is not run."""
    error = OperationalError("pipeline aborted")
    error.__cause__ = psycopg.errors.PipelineAborted("pipeline aborted")
    return error


def _command(
    fails: int, error: Callable[[], Exception]
) -> tuple[Callable[[Ledger], str], list[int]]:
    """A command that raises ``error()`` on its first ``fails`` runs and then records; and
    the list its runs are counted in."""
    runs: list[int] = []

    @retried_on_conflict
    def command(ledger: Ledger) -> str:
        runs.append(1)
        if len(runs) <= fails:
            raise error()
        return "recorded"

    return command, runs


ALWAYS = 10 * ATTEMPTS


def test_a_command_whose_pipeline_aborted_runs_again(app: Ledger) -> None:
    command, runs = _command(2, _aborted)
    assert command(app) == "recorded"
    assert len(runs) == 3


def test_a_pipeline_that_aborts_every_time_is_answered_as_it_is(app: Ledger) -> None:
    command, runs = _command(ALWAYS, _aborted)
    with pytest.raises(OperationalError, match="pipeline aborted"):
        command(app)
    assert len(runs) == ATTEMPTS


def test_another_operational_error_is_not_run_again(app: Ledger) -> None:
    command, runs = _command(ALWAYS, lambda: OperationalError("server closed the connection"))
    with pytest.raises(OperationalError):
        command(app)
    assert runs == [1]


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, float]]:
    """The spans ``(low, high)`` each wait was drawn from, the wait itself skipped."""
    drawn: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        drawn.append((low, high))
        return high

    monkeypatch.setattr(application.random, "uniform", uniform)
    monkeypatch.setattr(application.time, "sleep", lambda seconds: None)
    return drawn


def test_a_lost_race_waits_a_random_part_of_a_doubling_span_before_each_attempt(
    app: Ledger, waits: list[tuple[float, float]]
) -> None:
    command, runs = _command(ATTEMPTS - 1, lambda: IntegrityError("version taken"))
    assert command(app) == "recorded"
    assert len(runs) == ATTEMPTS
    assert waits == [(0, BACK_OFF_SECONDS * 2**n) for n in range(ATTEMPTS - 1)]


def test_a_race_lost_every_time_is_a_concurrent_change_after_the_last_attempt(
    app: Ledger, waits: list[tuple[float, float]]
) -> None:
    command, runs = _command(ALWAYS, lambda: IntegrityError("version taken"))
    with pytest.raises(ConcurrentChange):
        command(app)
    assert len(runs) == ATTEMPTS
    assert len(waits) == ATTEMPTS - 1  # (none after the last: the answer goes at once)


def test_a_command_that_succeeds_at_once_does_not_wait(
    app: Ledger, waits: list[tuple[float, float]]
) -> None:
    command, runs = _command(0, lambda: IntegrityError("version taken"))
    assert command(app) == "recorded"
    assert (runs, waits) == ([1], [])
