"""Stored topics are names of record (domain/topics.py): every aggregate and event class is
stored under the name it was first stored with, ``ledger.domain.<module>:<Class>``, whatever
package the code lives in now, and rows stored under those names decode."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import msgspec
from eventsourcing.domain import CanMutateAggregate
from eventsourcing.utils import get_topic, resolve_topic

from grondslag.ledger.domain.purpose import Purpose
from grondslag.ledger.domain.standing import Standing
from grondslag.ledger.domain.subject import Subject
from grondslag.ledger.domain.subject_request import SubjectRequest
from grondslag.ledger.persistence.mapper import decode_event

AGGREGATES = {
    "standing": Standing,
    "purpose": Purpose,
    "subject": Subject,
    "subject_request": SubjectRequest,
}


def test_every_class_is_stored_under_its_name_of_record_not_its_module_path():
    for module, aggregate in AGGREGATES.items():
        assert aggregate.__module__ == f"grondslag.ledger.domain.{module}"
        assert get_topic(aggregate) == f"ledger.domain.{module}:{aggregate.__name__}"
        events = [v for v in vars(aggregate).values() if isinstance(v, type)]
        events = [v for v in events if issubclass(v, CanMutateAggregate)]
        assert len(events) >= 3
        for event in events:
            topic = f"ledger.domain.{module}:{aggregate.__name__}.{event.__name__}"
            assert get_topic(event) == topic
            assert resolve_topic(topic) is event


def test_a_row_stored_under_the_old_name_decodes_into_todays_class():
    stored = msgspec.json.encode(
        {
            "timestamp": datetime(2025, 9, 2, 10, tzinfo=UTC),
            "withdrawal": {
                "type": "withdrawal",
                "effective_at": "2025-09-02T10:00:00Z",
                "method": "email",
                "recorded_by": "staff:test",
            },
        }
    )
    event = decode_event("ledger.domain.standing:Standing.ConsentWithdrawn", stored, uuid4(), 2)
    assert type(event) is Standing.ConsentWithdrawn
    assert event.withdrawal.method == "email"
