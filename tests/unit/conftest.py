"""Shared fixtures of the domain unit tests: a ledger on the in-memory event store and a
check that a refusal names its rule and records nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest

from grondslag.ledger.application import Ledger
from grondslag.ledger.domain.errors import RuleViolated


@pytest.fixture
def app() -> Ledger:
    """A fresh ledger on the in-memory (POPO) event store."""
    return Ledger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


@pytest.fixture
def refused(
    app: Ledger,
) -> Callable[[str], AbstractContextManager[pytest.ExceptionInfo[RuleViolated]]]:
    """``with refused("R2"): ...`` — the block raises RuleViolated for that rule and the
    event store holds exactly what it held before (nothing was recorded)."""

    @contextmanager
    def check(rule: str) -> Iterator[pytest.ExceptionInfo[RuleViolated]]:
        before = app.recorder.max_notification_id()
        with pytest.raises(RuleViolated) as info:
            yield info
        assert info.value.rule == rule, f"refused for {info.value.rule}, not {rule}: {info.value}"
        assert info.value.detail
        assert app.recorder.max_notification_id() == before, "a refusal recorded something"

    return check
