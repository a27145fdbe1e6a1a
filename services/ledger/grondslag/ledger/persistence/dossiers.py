"""Dossiers from the event store: one query, a loader for each I/O style.

``DOSSIER_EVENTS`` reads every event of the given streams in stream order and, on the row
of a subject's registration, that subject's sealing key (its key row shares the stream's
id; an index probe per subject, not per event) —
the subject, the register entries and the standings of any number of dossiers in one round
trip. The write side runs it on the library's psycopg pool, the read side and the projector
on asyncpg; both fold the rows the same way into ``Streams``. A key is stored wrapped
(``envelope``): the row names the KEK that unwraps it.

A stored event that cannot be decoded (bytes damaged on disk, an upgrade that cannot read
an old payload) is never skipped: ``StreamUnreadable`` names the stream, and the API
answers 503 for it rather than an answer that leaves a fact out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

import asyncpg
from eventsourcing.postgres import PostgresApplicationRecorder

from ..domain.dossier import Dossier
from ..domain.ids import purpose_id, standing_id, subject_id
from ..envelope import unwrap_subject_key
from .mapper import decode_event
from .postgres import EVENTS_TABLE, KEYS_TABLE
from .sealing import unseal

SUBJECT_REGISTERED = "ledger.domain.subject:Subject.Registered"

_FIRST = "CASE WHEN e.originator_version = 1 AND e.topic = '" + SUBJECT_REGISTERED + "' THEN "
_KEY = "(SELECT k.{column} FROM " + KEYS_TABLE + " k WHERE k.subject_id = e.originator_id) END"
_SELECT = (
    "SELECT e.originator_id, e.originator_version, e.topic, e.state, "
    + _FIRST
    + _KEY.format(column="key")
    + " AS subject_key, "
    + _FIRST
    + _KEY.format(column="kek_id")
    + " AS subject_kek "
    + f"FROM {EVENTS_TABLE} e WHERE e.originator_id = ANY({{ids}}) "
    "ORDER BY e.originator_id, e.originator_version"
)
DOSSIER_EVENTS = _SELECT.format(ids="$1::uuid[]")  # asyncpg
DOSSIER_EVENTS_PSYCOPG = _SELECT.format(ids="%s")
# each stream's events from a version on (0: all of them), for a fold kept from before
EVENTS_FROM = _SELECT.replace(
    f"FROM {EVENTS_TABLE} e WHERE e.originator_id = ANY({{ids}}) ",
    f"FROM unnest($1::uuid[], $2::bigint[]) AS f(id, start) JOIN {EVENTS_TABLE} e "
    "ON e.originator_id = f.id AND e.originator_version >= f.start ",
)


class StreamUnreadable(Exception):
    """A stored event of this stream cannot be decoded; no answer may leave it out."""

    def __init__(self, stream: UUID, error: BaseException):
        super().__init__(f"stream {stream} cannot be read: {type(error).__name__}: {error}")
        self.stream = stream


class Streams:
    """Aggregates folded from their stored events, with the sealing keys of subjects: plain
    (``keys``), or as stored, wrapped (``wrapped``: unwrapped only when a fold unseals)."""

    def __init__(
        self,
        aggregates: dict[UUID, Any],
        keys: dict[UUID, bytes],
        wrapped: dict[UUID, tuple[str | None, bytes]] | None = None,
    ):
        self.aggregates, self.keys, self.wrapped = aggregates, keys, wrapped or {}

    @classmethod
    def from_rows(cls, rows: Iterable[Any], kept: dict[UUID, Any] | None = None) -> Streams:
        """The streams folded from ``rows`` (in stream order), onto the ``kept`` aggregates
        where given (folded before from the events up to their version: ``rows`` then hold
        only the later events of their stream, which the library checks)."""
        aggregates: dict[UUID, Any] = dict(kept) if kept else {}
        wrapped: dict[UUID, tuple[str | None, bytes]] = {}
        for row in rows:
            stream = row["originator_id"]
            try:
                event = decode_event(row["topic"], row["state"], stream, row["originator_version"])
                aggregates[stream] = event.mutate(aggregates.get(stream))
            except Exception as error:
                raise StreamUnreadable(stream, error) from error
            if row["subject_key"] is not None:
                wrapped[stream] = (row["subject_kek"], bytes(row["subject_key"]))
        return cls(aggregates, {}, wrapped)

    def get(self, stream: UUID) -> Any:
        return self.aggregates.get(stream)

    def key(self, sid: UUID) -> bytes | None:
        """The subject's plain sealing key (None: destroyed, or no subject)."""
        if sid not in self.keys and sid in self.wrapped:
            self.keys[sid] = unwrap_subject_key(sid, *self.wrapped[sid])
        return self.keys.get(sid)

    def dossier(self, tenant: str, subject_ref: str, purpose: str) -> Dossier:
        sid = subject_id(tenant, subject_ref)
        subject = self.aggregates.get(sid)
        shredded = subject is not None and bool(subject.erasures)  # R22
        return Dossier(
            tenant,
            subject_ref,
            purpose,
            register=self.aggregates.get(purpose_id(tenant, purpose)),
            subject=subject,
            standing_stream=self.aggregates.get(standing_id(tenant, subject_ref, purpose)),
            unseal=lambda sealed: unseal(self.key(sid), sid, sealed, shredded=shredded),
        )


def dossier_ids(tenant: str, subject_ref: str, purposes: Iterable[str]) -> list[UUID]:
    """The streams of a subject's dossiers for the given purposes."""
    ids = [subject_id(tenant, subject_ref)]
    for code in purposes:
        ids += [purpose_id(tenant, code), standing_id(tenant, subject_ref, code)]
    return ids


async def load(conn: asyncpg.Connection | asyncpg.Pool, ids: Sequence[UUID]) -> Streams:
    """The given streams (and their subjects' keys) on asyncpg."""
    return Streams.from_rows(await conn.fetch(DOSSIER_EVENTS, list(ids)))


async def rows_from(conn: asyncpg.Connection | asyncpg.Pool, start: dict[UUID, int]) -> list[Any]:
    """The rows of each stream from its version in ``start`` on (0: every one)."""
    return await conn.fetch(EVENTS_FROM, list(start), list(start.values()))


def load_sync(recorder: PostgresApplicationRecorder, ids: Sequence[UUID]) -> Streams:
    """The given streams (and their subjects' keys) on the library's psycopg pool."""
    with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
        curs.execute(DOSSIER_EVENTS_PSYCOPG, (list(ids),), prepare=True)
        return Streams.from_rows(curs.fetchall())
