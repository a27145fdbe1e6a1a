"""The actor of an event (ledger/persistence/actors.py): stamped by the ledger from the
running command's context, stored as the member ``actor`` of the stored state (so that the
audit log hashes it), read back; an event without one is stored exactly as before."""

from __future__ import annotations

import json
import threading

from grondslag.ledger.application import Ledger
from grondslag.ledger.audit.canonical import canonical_event_bytes
from grondslag.ledger.domain.purpose import Purpose
from grondslag.ledger.persistence import actors
from grondslag.ledger.persistence.actors import Actor, acting, actor_of
from grondslag.ledger.persistence.mapper import MsgspecMapper, decode_event

from builders import JAN_1, TENANT, terms

KEY_A = Actor(id="key:aaaaaaaaaaaa", tenant=TENANT, roles=("writer",))
KEY_B = Actor(id="key:bbbbbbbbbbbb", tenant=TENANT, roles=("admin", "writer"))


def registered() -> object:
    (event,) = Purpose.register(TENANT, "news", terms(), JAN_1).collect_events()
    return event


def test_an_event_without_actor_is_stored_as_before_and_reads_back_without_one() -> None:
    event = registered()
    stored = MsgspecMapper().to_stored_event(event)
    assert b'"actor"' not in stored.state
    assert actor_of(MsgspecMapper().to_domain_event(stored)) is None


def test_a_stamped_actor_is_in_the_stored_state_its_canonical_bytes_and_reads_back() -> None:
    event = registered()
    actors.stamp([event], KEY_A)
    stored = MsgspecMapper().to_stored_event(event)
    state = json.loads(stored.state)
    assert state["actor"] == {"id": KEY_A.id, "tenant": TENANT, "roles": ["writer"]}
    canonical = canonical_event_bytes(stored.originator_id, 1, stored.topic, stored.state)
    assert b'"actor":{"id":"key:aaaaaaaaaaaa","roles":["writer"]' in canonical
    back = decode_event(stored.topic, stored.state, stored.originator_id, 1)
    assert actor_of(back) == KEY_A
    assert back.code == "news"  # the event's own fields are untouched


def test_the_ledger_stamps_the_running_commands_actor_and_no_other() -> None:
    ledger = Ledger()
    with acting(KEY_A):
        ledger.register_purpose(TENANT, "a", terms(), JAN_1)
    seen: dict[str, Actor | None] = {}

    def other_thread() -> None:  # a thread that was not started on anyone's behalf
        ledger.register_purpose(TENANT, "c", terms(), JAN_1)

    with acting(KEY_B):
        ledger.register_purpose(TENANT, "b", terms(), JAN_1)
        thread = threading.Thread(target=other_thread)  # threads do not inherit contexts
        thread.start()
        thread.join()
    for notification in ledger.notification_log.select(1, 10):
        event = ledger.mapper.to_domain_event(notification)
        seen[event.code] = actor_of(event)
    assert seen == {"a": KEY_A, "b": KEY_B, "c": None}
