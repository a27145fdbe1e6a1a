"""A msgspec mapper for the eventsourcing library.

Event payloads are msgspec Structs inside the library's frozen-dataclass events. The
library's JSON transcoder would need one transcoding per type and loses nothing only
with care; msgspec encodes dataclasses, Structs, datetimes and UUIDs natively and
decodes them back into their declared types. The stored row's originator id and
version are restored from the row, and ``class_version`` + ``upcast_vN_vN+1`` keep
working on the decoded dict exactly as in the library's own mapper.
"""

from __future__ import annotations

import functools
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder
from eventsourcing.utils import get_topic, resolve_topic

from . import actors, traces

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


class _Stamped(msgspec.Struct):
    """What a stored state holds beside the event's own fields (the rest is skipped)."""

    actor: actors.Actor | None = None
    class_version: int = 1


_stamped = msgspec.json.Decoder(_Stamped)


@functools.cache
def _typed(cls: type) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(cls, strict=False)


class _NoTranscoder(Transcoder):
    def encode(self, obj: Any) -> bytes:  # pragma: no cover - never called
        raise NotImplementedError

    def decode(self, data: bytes) -> Any:  # pragma: no cover - never called
        raise NotImplementedError


class MsgspecMapper(Mapper[UUID]):
    """Converts domain events to stored events and back with msgspec."""

    def __init__(self) -> None:
        super().__init__(transcoder=_NoTranscoder())

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        state = dict(vars(domain_event))
        originator_id = state.pop("originator_id")
        originator_version = state.pop("originator_version")
        actors.put_into_state(state)  # who recorded it: hashed with it by the audit log
        traces.drop_from_state(state)  # the request's trace context: kept beside, not hashed
        class_version = getattr(type(domain_event), "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        return StoredEvent(
            originator_id=originator_id,
            originator_version=originator_version,
            topic=get_topic(type(domain_event)),
            state=_encoder.encode(state),
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        return decode_event(
            stored_event.topic,
            stored_event.state,
            stored_event.originator_id,
            stored_event.originator_version,
        )


def decode_event(topic: str, state: bytes, originator_id: Any, originator_version: int) -> Any:
    """Rebuild one domain event from a stored row (also used by the asyncpg read side).

    An event stored in its class's current version is decoded straight into its class, the
    row's originator id and version written in front of the stored members (so no dict of
    the state is built and converted); an older one goes through the dict, to be upcast."""
    cls = resolve_topic(topic)
    state = bytes(state)
    stamped = _stamped.decode(state)
    if stamped.class_version < getattr(cls, "class_version", 1):
        return _upcast(cls, state, originator_id, originator_version)
    head = b'{"originator_id":"%s","originator_version":%d' % (
        str(originator_id).encode(),
        originator_version,
    )
    whole = head + b"}" if state == b"{}" else head + b"," + state[1:]
    return actors.attach(_typed(cls).decode(whole), stamped.actor)


def _upcast(cls: type, state: bytes, originator_id: Any, originator_version: int) -> Any:
    event_state: dict[str, Any] = _decoder.decode(state)
    actor = actors.take_from_state(event_state)
    event_state["originator_id"] = str(originator_id)
    event_state["originator_version"] = originator_version
    class_version = getattr(cls, "class_version", 1)
    from_version = event_state.pop("class_version", 1)
    while from_version < class_version:
        getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(event_state)
        from_version += 1
    return actors.attach(msgspec.convert(event_state, cls, strict=False), actor)
