"""The trace context of the request that recorded an event, kept beside the event.

The relay publishes an event's messages later, from the log, in another process: so the
W3C ``traceparent`` of the HTTP request (``api.request_ids`` puts it in ``TRACEPARENT``)
is stamped onto each new event in the command's own thread, like its actor, and written in
the events' transaction to a side table keyed by the event's stream and version. The relay
reads it back and sends it as the CloudEvents distributed-tracing extension
(``traceparent``) of every message the event causes.

Not in the event's stored state: the audit log hashes that, and a trace id is no fact of
the ledger. The table holds ids only (no subject reference, nothing personal), so an
erasure leaves it as it leaves the events. Events of the clocks, recorded outside any
request, have none.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from typing import Any
from uuid import UUID

import asyncpg

from ..domain.ids import event_id

TRACES_TABLE = "grondslag_event_traces"
_ATTRIBUTE = "_grondslag_traceparent"

TRACEPARENT: ContextVar[str | None] = ContextVar("grondslag_traceparent", default=None)

DDL = f"""
CREATE TABLE IF NOT EXISTS {TRACES_TABLE} (
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    traceparent text NOT NULL,
    PRIMARY KEY (originator_id, originator_version)
);
"""
INSERT = (
    f"INSERT INTO {TRACES_TABLE} (originator_id, originator_version, traceparent) "
    "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING"
)


def current_traceparent() -> str | None:
    """The trace context of the request being served (None outside a request)."""
    return TRACEPARENT.get()


def stamp(events: Iterable[Any]) -> None:
    """Mark each new event with the running request's trace context, if any."""
    traceparent = TRACEPARENT.get()
    if traceparent is None:
        return
    for event in events:
        object.__setattr__(event, _ATTRIBUTE, traceparent)


def drop_from_state(state: dict[str, Any]) -> None:
    """The mapper's part: the stamp is not the event's state."""
    state.pop(_ATTRIBUTE, None)


def rows(events: Sequence[Any]) -> list[tuple[Any, int, str]]:
    """(stream, version, traceparent) of each stamped event: what the recorder inserts."""
    return [
        (event.originator_id, event.originator_version, traceparent)
        for event in events
        if (traceparent := getattr(event, _ATTRIBUTE, None)) is not None
    ]


async def of_events(conn: asyncpg.Connection, events: Sequence[Any]) -> dict[str, str]:
    """Event id → the traceparent its request recorded, for the events that have one."""
    if not events or await conn.fetchval("SELECT to_regclass($1)", TRACES_TABLE) is None:
        return {}
    found = await conn.fetch(
        f"SELECT originator_id, originator_version, traceparent FROM {TRACES_TABLE} "
        "WHERE (originator_id, originator_version) IN "
        "(SELECT * FROM unnest($1::uuid[], $2::bigint[]))",
        [UUID(str(e.originator_id)) for e in events],
        [e.originator_version for e in events],
    )
    return {
        str(event_id(UUID(str(row["originator_id"])), row["originator_version"])): row[
            "traceparent"
        ]
        for row in found
    }
