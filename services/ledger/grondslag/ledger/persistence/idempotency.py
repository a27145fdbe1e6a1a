"""``Idempotency-Key``, exactly once: a key's result is recorded in its events' transaction.

The HTTP layer names the request (tenant, key, a hash of method, path, query and body) in
the ``CLAIM`` context variable before the command runs. When the command saves its events,
the same transaction inserts the command's result under (tenant, key): that row commits
with the events or not at all, and its primary key makes a second recording under the key
impossible — whether the second request ran concurrently, after a crash between commit and
answer, or after a database outage. A command that finds its key already committed answers
the committed result instead of recording anything; one whose key was committed for
another request is refused (422). No timer decides whether a claim's owner died: the
database says what committed.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import msgspec
from eventsourcing.domain import Aggregate
from eventsourcing.postgres import PostgresApplicationRecorder

RESULTS_TABLE = "grondslag_idempotency_results"
DDL = f"""
CREATE TABLE IF NOT EXISTS {RESULTS_TABLE} (
    tenant text NOT NULL,
    key text NOT NULL,
    request_hash bytea NOT NULL,
    result bytea NOT NULL,
    committed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, key)
);
ALTER TABLE {RESULTS_TABLE} ADD COLUMN IF NOT EXISTS subject_ref text;
CREATE INDEX IF NOT EXISTS {RESULTS_TABLE}_subject ON {RESULTS_TABLE} (tenant, subject_ref);
"""
INSERT = (
    f"INSERT INTO {RESULTS_TABLE} (tenant, key, request_hash, result, subject_ref) "
    "VALUES (%s, %s, %s, %s, %s)"
)


@dataclass
class Claim:
    """One request under an ``Idempotency-Key``, as the command sees it."""

    tenant: str
    key: str
    request_hash: bytes
    replay: bytes | None = None  # the committed result to answer again, if any
    spent: bool = False  # its result is recorded (one command per request records)
    replayed: bool = False  # the answer is the committed one, not a new recording
    subject_ref: str | None = None  # the subject the request is about (its path names it)


CLAIM: ContextVar[Claim | None] = ContextVar("idempotency_claim", default=None)

# what the recorder inserts beside the events: (tenant, key, request hash, result, the
# subject it is about, so that its erasure (R22) finds it)
Record = tuple[str, str, bytes, bytes, str | None]


def committed(recorder: PostgresApplicationRecorder, claim: Claim) -> tuple[bytes, bytes] | None:
    """The request hash and result committed under the claim's key, if any."""
    with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
        curs.execute(
            f"SELECT request_hash, result FROM {RESULTS_TABLE} WHERE tenant = %s AND key = %s",
            (claim.tenant, claim.key),
        )
        row = curs.fetchone()
    return (bytes(row["request_hash"]), bytes(row["result"])) if row else None


def encode_result(value: Any) -> bytes:
    """A command's result as stored: the value itself, or where an aggregate stood."""
    if isinstance(value, Aggregate):
        return msgspec.json.encode({"aggregate": str(value.id), "version": value.version})
    return msgspec.json.encode(value)
