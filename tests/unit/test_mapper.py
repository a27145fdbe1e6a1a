"""The msgspec mapper (ledger/persistence/mapper.py) and the sealing of personal data
(ledger/persistence/sealing.py)."""

from __future__ import annotations

import copy
import dataclasses
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

import msgspec
import pytest
from cryptography.exceptions import InvalidTag
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from grondslag.ledger.domain.ids import subject_id
from grondslag.ledger.domain.purpose import Purpose
from grondslag.ledger.domain.standing import Standing
from grondslag.ledger.domain.subject import Subject
from grondslag.ledger.domain.values import (
    Consent,
    Evidence,
    Notice,
    PersonalData,
    PurposeTerms,
    Retention,
    Withdrawal,
)
from grondslag.ledger.persistence import actors
from grondslag.ledger.persistence import mapper as mapper_module
from grondslag.ledger.persistence.mapper import MsgspecMapper, decode_event
from grondslag.ledger.persistence.sealing import InMemoryKeyStore, seal, unseal

from builders import FEB_1, JAN_1, JUN_1, MAR_1, notice

EMAIL = "jan.jansen@example.nl"
BIRTH_DATE = date(2010, 3, 4)

TERMS = PurposeTerms(
    title="Youth care file",
    basis="contract",
    notice=notice(),
    special_categories=("health", "bsn"),
    special_condition="health_care",
    legal_provision="Jeugdwet art. 7.3.8",
    matter="care",
    recipients=("Municipality", "GP"),
    retention=Retention(term="P20Y"),
)
CONSENT = Consent(
    method="signed_electronic",
    explicit=True,
    notice_version="n1",
    purpose_version=1,
    evidence=Evidence(document_ref="scan-1", sha256="b" * 64),
    effective_at=FEB_1,
    recorded_by="staff:anna",
    representative_ref="parent-1",
    expires_at=JUN_1,
)
WITHDRAWAL = Withdrawal(method="verbal", effective_at=MAR_1, recorded_by="staff:bram")


def all_events() -> list[Any]:
    """One of every event the Purpose, Subject and Standing aggregates record."""
    purpose = Purpose.register("practice-a", "youth-file", TERMS, JAN_1)
    purpose.revise(
        msgspec.structs.replace(
            TERMS,
            recipients=("Municipality", "GP", "Insurer"),
            notice=Notice(version="n2", url="https://example.nl/privacy/n2", sha256="c" * 64),
        ),
        True,
        MAR_1,
    )
    key = InMemoryKeyStore().create_key(subject_id("practice-a", "client-001"))
    sid = subject_id("practice-a", "client-001")
    subject = Subject.register("practice-a", "client-001", seal(key, sid, PersonalData()))
    subject.record_personal_data(seal(key, sid, PersonalData(birth_date=BIRTH_DATE, email=EMAIL)))
    standing = Standing.open("practice-a", "client-001", "youth-file")
    standing.trigger_event(Standing.ConsentGiven, consent=CONSENT)
    standing.trigger_event(Standing.ConsentWithdrawn, withdrawal=WITHDRAWAL)
    return [*purpose.collect_events(), *subject.collect_events(), *standing.collect_events()]


def assert_same_shape(original: Any, decoded: Any, where: str = "event") -> None:
    """Equal values of exactly the same types, all the way down."""
    assert type(decoded) is type(original), f"{where}: {type(decoded)} is not {type(original)}"
    if dataclasses.is_dataclass(original):
        for field in dataclasses.fields(original):
            assert_same_shape(
                getattr(original, field.name),
                getattr(decoded, field.name),
                f"{where}.{field.name}",
            )
    elif isinstance(original, msgspec.Struct):
        for name in original.__struct_fields__:
            assert_same_shape(getattr(original, name), getattr(decoded, name), f"{where}.{name}")
    elif isinstance(original, tuple | list):
        assert len(decoded) == len(original), where
        for i, (a, b) in enumerate(zip(original, decoded, strict=True)):
            assert_same_shape(a, b, f"{where}[{i}]")
    else:
        assert decoded == original, where
        if isinstance(original, datetime):
            assert decoded.tzinfo is not None and decoded.utcoffset() == original.utcoffset()


EVENTS = all_events()


def test_every_event_type_of_the_domain_is_covered():
    assert {type(e) for e in EVENTS} == {
        Purpose.Registered,
        Purpose.Revised,
        Subject.Registered,
        Subject.PersonalDataRecorded,
        Standing.Opened,
        Standing.ConsentGiven,
        Standing.ConsentWithdrawn,
    }


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__qualname__)
def test_mapper_round_trips_the_event_with_equal_types(event):
    mapper = MsgspecMapper()
    stored = mapper.to_stored_event(event)
    assert isinstance(stored.state, bytes)
    assert stored.originator_id == event.originator_id
    assert stored.originator_version == event.originator_version
    assert stored.topic == get_topic(type(event))

    decoded = mapper.to_domain_event(stored)
    assert decoded == event
    assert_same_shape(event, decoded)
    assert isinstance(decoded.originator_id, UUID)
    assert isinstance(decoded.timestamp, datetime) and decoded.timestamp.tzinfo is not None


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__qualname__)
def test_an_event_of_its_current_version_decodes_as_through_the_dict_with_its_actor(event):
    """The direct decode (the row's id and version spliced in front of the stored members)
    gives what the dict path gives — fields, types and the stamped actor."""
    event = copy.copy(event)
    actors.stamp([event], actors.system_actor(actors.DEADLINE_CLOCK, "practice-a"))
    stored = MsgspecMapper().to_stored_event(event)
    args = (stored.state, stored.originator_id, stored.originator_version)
    direct = decode_event(stored.topic, *args)
    through_dict = mapper_module._upcast(type(event), *args)
    assert direct == through_dict == event
    assert_same_shape(through_dict, direct)
    assert actors.actor_of(direct) == actors.actor_of(through_dict) == actors.actor_of(event)


def test_mapper_keeps_nested_structs_and_their_optional_fields():
    mapper = MsgspecMapper()
    [given] = [e for e in EVENTS if isinstance(e, Standing.ConsentGiven)]
    decoded = mapper.to_domain_event(mapper.to_stored_event(given))
    assert isinstance(decoded.consent, Consent)
    assert isinstance(decoded.consent.evidence, Evidence)
    assert decoded.consent.expires_at == JUN_1 and decoded.consent.expires_at.tzinfo is not None
    assert decoded.consent.representative_ref == "parent-1"
    [registered] = [e for e in EVENTS if isinstance(e, Purpose.Registered)]
    terms = mapper.to_domain_event(mapper.to_stored_event(registered)).terms
    assert isinstance(terms.retention, Retention)
    assert terms.special_categories == ("health", "bsn")


def test_mapper_stores_no_class_version_for_version_1_events():
    stored = MsgspecMapper().to_stored_event(EVENTS[0])
    assert b"class_version" not in stored.state


# -- upcasting ----------------------------------------------------------------------------
class Parcel(Aggregate):
    """A test aggregate whose event changed shape: v2 renamed a field and added one."""

    class Weighed(Aggregate.Event):
        class_version = 2

        grams: int
        unit: str
        consent: Consent

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["grams"] = state.pop("weight")
            state["unit"] = "g"


# As version 1 of Parcel.Weighed was stored: "weight", no "unit", no "class_version".
STORED_V1_STATE = (
    b'{"timestamp":"2025-01-01T12:30:00.000001Z","weight":500,'
    b'"consent":{"type":"consent","method":"written","explicit":false,"notice_version":"n1",'
    b'"purpose_version":1,"evidence":{"document_ref":"form-1","sha256":null},'
    b'"effective_at":"2025-01-01T00:00:00Z","recorded_by":"staff","representative_ref":null,'
    b'"expires_at":null}}'
)


def test_stored_v1_payload_is_upcast_into_v2():
    originator = uuid4()
    stored = StoredEvent(
        originator_id=originator,
        originator_version=3,
        topic=get_topic(Parcel.Weighed),
        state=STORED_V1_STATE,
    )
    event = MsgspecMapper().to_domain_event(stored)
    assert type(event) is Parcel.Weighed
    assert (event.grams, event.unit) == (500, "g")
    assert not hasattr(event, "weight")
    assert event.originator_id == originator and event.originator_version == 3
    assert event.timestamp == datetime(2025, 1, 1, 12, 30, 0, 1, tzinfo=UTC)
    assert isinstance(event.consent, Consent)
    assert event.consent.effective_at == JAN_1


def test_v2_event_is_stored_with_its_class_version_and_decodes_without_upcasting():
    event = Parcel.Weighed(
        originator_id=uuid4(),
        originator_version=1,
        timestamp=JAN_1,
        grams=750,
        unit="kg",
        consent=CONSENT,
    )
    mapper = MsgspecMapper()
    stored = mapper.to_stored_event(event)
    assert msgspec.json.decode(stored.state)["class_version"] == 2
    decoded = mapper.to_domain_event(stored)
    assert decoded == event
    assert_same_shape(event, decoded)


# -- sealing ------------------------------------------------------------------------------
SID = subject_id("practice-a", "client-001")
OTHER_SID = subject_id("practice-a", "client-002")
DATA = PersonalData(birth_date=BIRTH_DATE, email=EMAIL)


def test_seal_then_unseal_gives_the_personal_data_back():
    key = InMemoryKeyStore().create_key(SID)
    sealed = seal(key, SID, DATA)
    assert unseal(key, SID, sealed) == DATA
    assert seal(key, SID, DATA) != sealed  # a fresh nonce every time


def test_sealed_bytes_moved_to_another_subject_fail_to_open():
    keys = InMemoryKeyStore()
    key = keys.create_key(SID)
    sealed = seal(key, SID, DATA)
    with pytest.raises(InvalidTag):
        unseal(key, OTHER_SID, sealed)
    with pytest.raises(InvalidTag):
        unseal(keys.create_key(OTHER_SID), OTHER_SID, sealed)


def test_tampered_sealed_bytes_fail_to_open():
    key = InMemoryKeyStore().create_key(SID)
    sealed = bytearray(seal(key, SID, DATA))
    sealed[-1] ^= 0x01
    with pytest.raises(InvalidTag):
        unseal(key, SID, bytes(sealed))
    with pytest.raises(ValueError, match="version"):
        unseal(key, SID, b"\x02" + bytes(sealed[1:]))


def test_unseal_without_a_key_returns_none():
    key = InMemoryKeyStore().create_key(SID)
    assert unseal(None, SID, seal(key, SID, DATA)) is None


def test_personal_data_never_appears_in_clear_in_the_stored_events(app):
    app.put_subject("practice-a", "client-001", PersonalData(email=EMAIL))
    app.put_subject("practice-a", "client-001", DATA)
    states = [n.state for n in app.recorder.select_notifications(start=1, limit=100)]
    assert len(states) == 2
    for state in states:
        for clear in (EMAIL.encode(), b"jan.jansen", b"2010-03-04", b"birth_date", b"email"):
            assert clear not in state
    assert app.personal_data("practice-a", "client-001") == DATA


def test_destroying_the_key_erases_the_personal_data_but_keeps_the_events(app):
    app.put_subject("practice-a", "client-001", DATA)
    app.keys.destroy(SID)
    assert app.personal_data("practice-a", "client-001") is None
    assert app.recorder.max_notification_id() == 1
    assert app.subject("practice-a", "client-001").subject_ref == "client-001"
