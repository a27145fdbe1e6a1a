"""A command that lost the race for a stream's version runs again on fresh state — also
when the conflict surfaces as the aborted pipeline of the statement after it — and an
aborted pipeline that persists is answered as it is (503), not as a conflict."""

from __future__ import annotations

import psycopg
import pytest
from eventsourcing.persistence import OperationalError

from grondslag.ledger.application import ATTEMPTS, Ledger, retried_on_conflict


def _aborted() -> OperationalError:
    """What the library raises when a statement after a failed one is not run."""
    error = OperationalError("pipeline aborted")
    error.__cause__ = psycopg.errors.PipelineAborted("pipeline aborted")
    return error


def test_a_command_whose_pipeline_aborted_runs_again(app: Ledger) -> None:
    attempts: list[int] = []

    @retried_on_conflict
    def command(ledger: Ledger) -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise _aborted()
        return "recorded"

    assert command(app) == "recorded"
    assert len(attempts) == 3


def test_a_pipeline_that_aborts_every_time_is_answered_as_it_is(app: Ledger) -> None:
    attempts: list[int] = []

    @retried_on_conflict
    def command(ledger: Ledger) -> str:
        attempts.append(1)
        raise _aborted()

    with pytest.raises(OperationalError, match="pipeline aborted"):
        command(app)
    assert len(attempts) == ATTEMPTS


def test_another_operational_error_is_not_run_again(app: Ledger) -> None:
    attempts: list[int] = []

    @retried_on_conflict
    def command(ledger: Ledger) -> str:
        attempts.append(1)
        raise OperationalError("server closed the connection unexpectedly")

    with pytest.raises(OperationalError):
        command(app)
    assert attempts == [1]
