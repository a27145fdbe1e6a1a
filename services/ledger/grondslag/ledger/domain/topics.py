"""The names under which events are stored: names of record, not module paths.

Every stored event names its class by a topic, e.g.
``ledger.domain.standing:Standing.ConsentGiven``, and so does the audit log's canonical
text of each event. The library derives a topic from the module path unless a class says
otherwise (its ``TOPIC``); here every aggregate and event class says so, under the names
they were first stored with, so that moving code (the package became ``grondslag.ledger``)
never changes what is stored, what old rows decode to, or what an auditor's bundle holds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from eventsourcing.domain import CanMutateAggregate
from eventsourcing.utils import register_topic

A = TypeVar("A", bound=type)


def recorded_as(module: str) -> Callable[[A], A]:
    """Class decorator: the aggregate and its event classes are stored as ``module:Name``."""

    def name(aggregate: A) -> A:
        classes: list[type] = [aggregate]
        classes += [
            value
            for value in vars(aggregate).values()
            if isinstance(value, type) and issubclass(value, CanMutateAggregate)
        ]
        for cls in classes:
            topic = f"{module}:{cls.__qualname__}"
            cls.TOPIC = topic  # type: ignore[attr-defined]
            register_topic(topic, cls)
        return aggregate

    return name
