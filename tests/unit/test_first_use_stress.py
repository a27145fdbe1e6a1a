"""No process dies when many threads decode every stored event type on first use at once
(msgspec up to 0.22 died of SIGSEGV here), with and without the ledger's ``warm_up``; and
``warm_up`` covers every event class the ledger stores. The stress itself is in
``first_use_stress.py``, which also runs alone against any msgspec."""

from __future__ import annotations

import msgspec
import pytest
from eventsourcing.domain import DomainEvent

from grondslag.ledger.persistence.warm_up import stored_event_classes

from first_use_stress import every_stored_event, stress

# msgspec 0.22 once crashed in about half of 24; on 2026-12-03 in 16 of 16 (two runs of 8,
# `first_use_stress.py --processes 8` with msgspec==0.22.0), and in none of 6 after warm_up
PROCESSES = 6
THREADS = 16


def _name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _subclasses(cls: type) -> set[type]:
    return {sub for direct in cls.__subclasses__() for sub in {direct, *_subclasses(direct)}}


def test_warm_up_knows_every_event_class_of_the_ledger():
    # by name: the library subclasses each declared event class under the same name
    ledger = {
        _name(c) for c in _subclasses(DomainEvent) if c.__module__.startswith("grondslag.ledger.")
    }
    assert ledger == {_name(c) for c in stored_event_classes()}


def test_the_stress_decodes_one_event_of_every_class_that_is_stored():
    bases = {"Event", "Created"}  # the aggregates' own base classes: never triggered
    stored = {c for c in stored_event_classes() if c.__name__ not in bases}
    assert {type(event) for event in every_stored_event()} == stored


@pytest.mark.parametrize("warm", [False, True], ids=["first-use", "after-warm-up"])
def test_threads_decoding_every_event_type_at_once_never_crash(warm):
    outcome = stress(PROCESSES, THREADS, warm)
    assert (outcome.crashed, outcome.signals) == (0, set()), (
        f"msgspec {msgspec.__version__}: {outcome.crashed} of {PROCESSES} processes died"
    )
    assert outcome.wrong == 0, outcome.errors[0]
