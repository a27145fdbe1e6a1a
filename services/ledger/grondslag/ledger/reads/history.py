"""A subject's history: every event of its streams, in the order the ledger recorded them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from ..domain.errors import NotFound
from ..domain.ids import event_id, subject_id
from ..domain.standing import Standing
from ..persistence.actors import Actor, actor_of
from ..persistence.postgres import EVENTS_TABLE
from .streams import load_events, stream_ids


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


async def subject_history(pool: asyncpg.Pool, tenant: str, subject_ref: str) -> list[HistoryEvent]:
    sid = subject_id(tenant, subject_ref)
    standings = await stream_ids(pool, tenant, "standing", subject_ref)
    purposes = {stream: code for stream, code in standings}
    rows = await load_events(pool, [sid, *purposes])
    if not any(event.originator_id == sid for _, event in rows):
        raise NotFound(f"subject {subject_ref!r} is not registered")
    rows.sort(key=lambda row: row[0])
    history = []
    for _, event in rows:
        if isinstance(event, Standing.Opened):
            continue
        payload = next((getattr(event, f) for f in _PAYLOAD_FIELDS if hasattr(event, f)), None)
        history.append(
            HistoryEvent(
                event_id=str(event_id(event.originator_id, event.originator_version)),
                type=_event_type(event),
                recorded_at=event.timestamp,
                purpose=purposes.get(event.originator_id),
                effective_at=getattr(payload, "effective_at", getattr(payload, "valid_from", None)),
                details=msgspec.to_builtins(payload) if payload is not None else {},
                actor=actor_of(event),
            )
        )
    return history


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
