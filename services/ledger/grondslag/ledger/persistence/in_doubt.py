"""An append whose connection was lost after it was sent: did it commit?

The append is one statement in autocommit mode (``append``). When the server answers, the
answer is the truth: an error means nothing of the call was stored. When the connection
breaks instead — the server stopped, crashed or was cut off between the statement and its
answer — the statement may have committed (the commit comes before the answer) or not. A
503 that says nothing was recorded would then be a lie half of the time, and a client that
sends the write again without an ``Idempotency-Key`` would record it twice.

So the outcome is looked up, on a new connection, for a few seconds: while the lost
session's backend is still running the call (``pg_stat_activity``: same pid, active, our
statement) it may yet commit, so we wait; once it is not, its transaction is over, and the
first event's row decides — there with the very bytes we sent: committed (the append is
atomic: then all of it is), absent: nothing was. The event ids are the stream and
version, so no other writer can have stored those bytes under them. When the database
cannot be asked within that time, the outcome stays unknown: ``CommitInDoubt``, which the
API answers with a 503 of its own type (``write-in-doubt``) telling the client to retry
with the same ``Idempotency-Key`` or to read before it sends the write again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import psycopg
from eventsourcing.persistence import StoredEvent

log = logging.getLogger("grondslag.persistence")

RESOLVE_SECONDS = 3.0  # how long a lost append's outcome is looked for
PAUSE_SECONDS = 0.1
_OUTCOME = """
SELECT EXISTS (
    SELECT 1 FROM pg_stat_activity
    WHERE pid = %(pid)s AND state <> 'idle' AND query LIKE %(call)s
) AS running,
(SELECT state FROM grondslag_events
 WHERE originator_id = %(id)s AND originator_version = %(version)s) AS state
"""
_IDS = """
SELECT e.notification_id FROM grondslag_events e
JOIN unnest(%(ids)s::uuid[], %(versions)s::bigint[]) WITH ORDINALITY AS w(id, version, n)
  ON e.originator_id = w.id AND e.originator_version = w.version
ORDER BY w.n
"""


class CommitInDoubt(Exception):
    """The append was sent and its connection lost before the answer, and the database
    could not be asked in time whether it committed: it may have, or not."""

    def __init__(self, events: int, cause: BaseException):
        super().__init__(
            f"the connection was lost after {events} event(s) were sent to be stored, and "
            f"whether they were could not be told within {RESOLVE_SECONDS:.0f} s: {cause}"
        )


def resolve(
    connect: dict[str, Any], pid: int, call: str, stored: Sequence[StoredEvent]
) -> list[int] | None:
    """The notification ids of ``stored`` when the lost append committed, None when it did
    not; ``CommitInDoubt`` when that cannot be told within ``RESOLVE_SECONDS``."""
    first = stored[0]
    question = {
        "pid": pid,
        "call": call.split("(")[0] + "(%",
        "id": first.originator_id,
        "version": first.originator_version,
    }
    deadline = time.monotonic() + RESOLVE_SECONDS
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(**{**connect, "connect_timeout": 2, "autocommit": True}) as conn:
                row = conn.execute(_OUTCOME, question).fetchone()
                assert row is not None
                running, state = (row["running"], row["state"]) if isinstance(row, dict) else row
                if not running:
                    if state is None or bytes(state) != first.state:
                        return None
                    return _ids(conn, stored)
        except psycopg.Error as error:
            last = error
        time.sleep(PAUSE_SECONDS)
    raise CommitInDoubt(len(stored), last or TimeoutError("the lost statement still runs"))


def _ids(conn: psycopg.Connection[Any], stored: Sequence[StoredEvent]) -> list[int]:
    rows = conn.execute(
        _IDS,
        {
            "ids": [e.originator_id for e in stored],
            "versions": [e.originator_version for e in stored],
        },
    ).fetchall()
    ids = [row["notification_id"] if isinstance(row, dict) else row[0] for row in rows]
    assert len(ids) == len(stored), "an append is atomic: all of it or none"
    log.warning(
        "an append whose connection was lost had committed: %d event(s), answered as stored",
        len(ids),
    )
    return ids
