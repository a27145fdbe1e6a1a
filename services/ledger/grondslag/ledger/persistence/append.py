"""A save in one statement: the events and everything written beside them, in one call.

The library appends in a pipelined transaction: the stream index rows, the table lock,
NOTIFY, the events, the R22 check, the trace and ``Idempotency-Key`` rows — ten statements,
two round trips (the sync that surfaces a conflict, then COMMIT), and the client's work for
each statement. ``grondslag_append`` does the same in the same order, in the transaction of
the one statement that calls it (the pool's connections are in autocommit mode): one round
trip, one prepared statement, and the server runs plans it keeps for the session.

Every guarantee is the statement's: the table lock (commit order = notification order), the
version check of each stream (the primary key: a conflict is an ``IntegrityError``, and
nothing of the call is stored), the stream index and the side rows committing with the
events or not at all, and R22's refusal after the lock (``erasure.ERASED_MEANWHILE``: under
READ COMMITTED each statement of the function sees what committed before it ran). An
erasure's save, with its own statements, still takes the library's pipelined path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from eventsourcing.persistence import StoredEvent

from . import erasure, opening
from .migrations import v0006_append_function

FUNCTION = "grondslag_append"  # made by migration 6

# where no migration ran (a database the tests build), table creation makes it the same way
DDL = v0006_append_function.SQL

CALL = f"SELECT {FUNCTION}(%s::json) AS notification_id"

_encoder = msgspec.json.Encoder()


def parameters(
    stored_events: Sequence[StoredEvent],
    traces: Sequence[tuple[Any, int, str]],
    results: Sequence[tuple[str, str, bytes, bytes, str | None]],
) -> tuple[str]:
    """The call's one argument: its rows as JSON (msgspec writes bytes in base64, UUIDs as
    strings) — one value for the driver to send, where arrays cost it one adapter each."""
    doc = {
        "events": [
            (e.originator_id, e.originator_version, e.topic, e.state) for e in stored_events
        ],
        "streams": [opening.index_row(e) for e in stored_events if e.topic in opening.TOPICS],
        "starts": erasure.started_streams(stored_events),
        "traces": traces,
        "results": results,
    }
    return (_encoder.encode(doc).decode(),)
