"""How many parallel workers the suite runs in, and how many of them the local PostgreSQL
takes (``parallel_workers``): a whole connection budget each."""

from __future__ import annotations

import pytest
from parallel_workers import auto_workers, workers_within_budget


@pytest.mark.parametrize(("cpus", "workers"), [(None, 2), (1, 2), (2, 2), (3, 3), (64, 4)])
def test_auto_is_two_workers_at_least_and_four_at_most(
    cpus: int | None, workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GRONDSLAG_TEST_WORKERS", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_AUTO_NUM_WORKERS", raising=False)
    assert auto_workers(cpus) == workers


def test_the_setting_names_the_number_of_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRONDSLAG_TEST_WORKERS", "3")
    assert auto_workers(64) == 3


def test_each_worker_on_the_local_server_has_a_whole_budget() -> None:
    assert workers_within_budget(97, budget=60) == 1  # 100 connections, 3 reserved
    assert workers_within_budget(197, budget=60) == 3
    assert workers_within_budget(59, budget=60) == 0
    assert workers_within_budget(0, budget=0) > 100  # 0: never falls back
