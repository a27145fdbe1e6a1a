"""A subject's history: every event of its streams, in the order the ledger recorded them."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from eventsourcing.utils import get_topic

from ..domain.errors import InvalidInput, NotFound
from ..domain.ids import event_id, subject_id
from ..domain.standing import Standing
from ..persistence.actors import Actor, actor_of
from ..persistence.mapper import decode_event
from ..persistence.postgres import EVENTS_TABLE
from .streams import stream_ids


class HistoryEvent(msgspec.Struct, kw_only=True):
    """One recorded event, without personal data."""

    event_id: str
    type: str
    recorded_at: datetime
    purpose: str | None = None
    effective_at: datetime | None = None
    details: dict[str, Any] = msgspec.field(default_factory=dict)
    # who recorded it: the API key, clock or link (absent for events recorded before actors)
    actor: Actor | None = None


_PAYLOAD_FIELDS = (
    "consent",
    "withdrawal",
    "representation",
    "end",
    "establishment",
    "basis_end",
    "objection",
    "decision",
    "lapse",
    "restriction",
    "lift",
    "claim",  # R22: legal claims and the erasure (references only: no personal data)
    "erasure",
)


HISTORY = (
    "SELECT originator_id, originator_version, topic, state, notification_id "
    f"FROM {EVENTS_TABLE} WHERE originator_id = ANY($1::uuid[]) AND notification_id > $2 "
    "AND topic <> $3 ORDER BY notification_id LIMIT $4"
)
POSITION = (
    f"SELECT notification_id FROM {EVENTS_TABLE} "
    "WHERE originator_id = $1 AND originator_version = $2"
)
REGISTERED = f"SELECT EXISTS (SELECT 1 FROM {EVENTS_TABLE} WHERE originator_id = $1)"
OPENED = get_topic(Standing.Opened)  # opening a stream is no event of the subject's


async def subject_history(pool: asyncpg.Pool, tenant: str, subject_ref: str) -> list[HistoryEvent]:
    """Every event of the subject (the art. 15 export's history)."""
    events, _ = await history_page(pool, tenant, subject_ref, None, None)
    return events


async def history_page(
    pool: asyncpg.Pool,
    tenant: str,
    subject_ref: str,
    after: tuple[UUID, int] | None,
    limit: int | None,
) -> tuple[list[HistoryEvent], tuple[UUID, int] | None]:
    """The subject's events after the event ``after`` (its stream and version), at most
    ``limit`` of them, and the event the next page starts after (None on the last page).

    A page follows on from its last event's position in the log; positions only grow as
    events are appended (one writer at a time holds the log's lock), so a page is a slice
    of the whole history however much is recorded meanwhile. The cursor names the event,
    not its position: the position counts every tenant's events."""
    sid = subject_id(tenant, subject_ref)
    standings = await stream_ids(pool, tenant, "standing", subject_ref)
    purposes = {stream: code for stream, code in standings}
    if not await pool.fetchval(REGISTERED, sid):
        raise NotFound(f"subject {subject_ref!r} is not registered")
    position = 0
    if after is not None:
        found = None
        if after[0] == sid or after[0] in purposes:
            found = await pool.fetchval(POSITION, after[0], after[1])
        if found is None:
            raise InvalidInput("cursor is not one this list gave", field="cursor")
        position = found
    more = None if limit is None else limit + 1
    rows = await pool.fetch(HISTORY, [sid, *purposes], position, OPENED, more)
    page = rows if limit is None else rows[:limit]
    events = [
        _history_event(
            decode_event(r["topic"], r["state"], r["originator_id"], r["originator_version"]),
            purposes,
        )
        for r in page
    ]
    if limit is None or len(rows) <= limit:
        return events, None
    return events, (page[-1]["originator_id"], page[-1]["originator_version"])


def _history_event(event: Any, purposes: dict[UUID, str | None]) -> HistoryEvent:
    payload = next((getattr(event, f) for f in _PAYLOAD_FIELDS if hasattr(event, f)), None)
    return HistoryEvent(
        event_id=str(event_id(event.originator_id, event.originator_version)),
        type=_event_type(event),
        recorded_at=event.timestamp,
        purpose=purposes.get(event.originator_id),
        effective_at=getattr(payload, "effective_at", getattr(payload, "valid_from", None)),
        details=msgspec.to_builtins(payload) if payload is not None else {},
        actor=actor_of(event),
    )


def _event_type(event: Any) -> str:
    name = type(event).__qualname__
    named = {"Subject.Registered": "SubjectRegistered", "Subject.Erased": "SubjectErased"}
    return named.get(name, name.rsplit(".", 1)[-1])


ACTORS = (
    "SELECT originator_id, originator_version, "
    "convert_from(state, 'UTF8')::jsonb #>> '{actor,id}' AS actor "
    f"FROM {EVENTS_TABLE} WHERE originator_id = ANY($1::uuid[])"
)


async def standing_actors(pool: asyncpg.Pool, tenant: str, subject_ref: str) -> dict[str, str]:
    """Event id → the id of the actor that recorded it, for the subject's standings' events
    (those recorded before actors are absent)."""
    standings = [stream for stream, _ in await stream_ids(pool, tenant, "standing", subject_ref)]
    rows = await pool.fetch(ACTORS, standings)
    return {
        str(event_id(row["originator_id"], row["originator_version"])): row["actor"]
        for row in rows
        if row["actor"] is not None
    }
