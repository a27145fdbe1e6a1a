"""The event store on PostgreSQL, with a stream index kept in the same transaction.

The library's recorder calls ``_insert_events`` inside the transaction that appends the
events; we use that hook to index which streams exist (purposes of a tenant, standings
of a subject) and to record the results of ``Idempotency-Key`` requests (see
``idempotency``). Reads can then find every stream of a subject without waiting for any
projection: a practice system always reads its own writes.

When the database is away, every wait is bounded (``eventsourcing_env``, ``Factory``): a
command fails within ``wait_seconds`` and the API answers 503; pooled connections the
server dropped are found by the pool's check before use, and the pool reconnects by
itself once the server is back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit
from uuid import UUID

import psycopg
from eventsourcing.persistence import OperationalError, StoredEvent
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresFactory,
)
from eventsourcing.utils import Environment, EnvType
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL

from .. import envelope
from . import append, ddl, erasure, idempotency, in_doubt, opening, traces
from .fail_fast import failing_fast, refusals_of
from .migrations import WANTED
from .pool_check import check_quietly
from .schema_lock import SCHEMA_LOCK, VERSIONS_TABLE
from .sealing import AESGCM

STREAMS_TABLE = "grondslag_streams"
KEYS_TABLE = "grondslag_subject_keys"
EVENTS_TABLE = "grondslag_events"

CREATE_STREAMS = f"""
CREATE TABLE IF NOT EXISTS {STREAMS_TABLE} (
    originator_id uuid PRIMARY KEY,
    tenant text NOT NULL,
    kind text NOT NULL,
    subject_ref text,
    purpose text
);
CREATE INDEX IF NOT EXISTS {STREAMS_TABLE}_lookup
    ON {STREAMS_TABLE} (tenant, kind, subject_ref, purpose);
CREATE TABLE IF NOT EXISTS {KEYS_TABLE} (
    subject_id uuid PRIMARY KEY,
    key bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    destroyed_at timestamptz
);
ALTER TABLE {KEYS_TABLE} ADD COLUMN IF NOT EXISTS kek_id text;
"""


F = TypeVar("F", bound=Callable[..., Any])


def _unretried(method: F) -> F:
    """The library's method without its retry decorator."""
    return getattr(method, "__wrapped__", method)


def _migrated(curs: Cursor[DictRow]) -> bool:
    """``ddl.migrated``, on the library's cursor."""

    row = curs.execute(
        "SELECT to_regclass(%s) IS NOT NULL AS present", (VERSIONS_TABLE,)
    ).fetchone()
    if not row or not row["present"]:
        return False
    row = curs.execute(
        f"SELECT coalesce(max(version), 0) >= %s AS current FROM {VERSIONS_TABLE}", (WANTED,)
    ).fetchone()
    return bool(row and row["current"])


class IndexingRecorder(PostgresApplicationRecorder):
    """Appends events and indexes newly opened streams in one transaction."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any):
        super().__init__(datastore, **kwargs)
        self.sql_create_statements.append(SQL(CREATE_STREAMS))  # type: ignore[arg-type]
        self.sql_create_statements.append(SQL(idempotency.DDL))  # type: ignore[arg-type]
        self.sql_create_statements.append(SQL(traces.DDL))  # type: ignore[arg-type]
        self.sql_create_statements.append(SQL(append.DDL))  # type: ignore[arg-type]

    # The library retries these ten times on any OperationalError or InterfaceError, each
    # attempt waiting up to the pool timeout for a connection: with the database away a
    # command would hang for ten times ``wait_seconds``, and an append whose COMMIT was
    # lost on the wire would be sent again blindly. A pooled connection the server dropped
    # is caught by the pool's check before use instead (POSTGRES_PRE_PING), and any other
    # failure reaches the caller at once (503: retry later).
    _insert_in_pipeline = _unretried(PostgresApplicationRecorder.insert_events)
    select_events = _unretried(PostgresApplicationRecorder.select_events)
    select_notifications = _unretried(PostgresApplicationRecorder.select_notifications)
    max_notification_id = _unretried(PostgresApplicationRecorder.max_notification_id)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Append the events with the rows written beside them, in one statement
        (``append``); an erasure's, with statements of its own, in the library's pipeline."""
        if kwargs.get("shredding") or not stored_events:
            return self._insert_in_pipeline(stored_events, **kwargs)
        params = append.parameters(
            stored_events, kwargs.get("traces") or [], kwargs.get("idempotency") or []
        )
        lost: psycopg.Error | None = None
        with self.datastore.get_connection() as conn:
            pid = conn.info.backend_pid
            try:
                with conn.cursor() as curs:
                    curs.execute(append.CALL, params, prepare=True)
                    return [row["notification_id"] for row in curs.fetchall()]
            except psycopg.Error as error:
                if not conn.broken:  # the server answered: nothing of the call is stored
                    raise
                lost = error  # sent, and no answer: it may have committed
        connect = self.datastore.pool.kwargs
        assert isinstance(connect, dict)
        ids = in_doubt.resolve(connect, pid, append.CALL, stored_events)
        if ids is None:  # it did not: the database is away, as the error says
            raise OperationalError(str(lost)) from lost
        return ids

    def _create_table(self, curs: Cursor[DictRow]) -> None:
        """The library's tables and ours, taking turns with other processes, where the
        migrations have not made them already (``ddl.RUN_WHEN_MIGRATED``: their locks)."""
        if not ddl.RUN_WHEN_MIGRATED and _migrated(curs):
            return
        curs.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        super()._create_table(curs)

    def _insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        rows = [opening.index_row(e) for e in stored_events if e.topic in opening.TOPICS]
        if rows:
            curs.executemany(
                f"INSERT INTO {STREAMS_TABLE} (originator_id, tenant, kind, subject_ref, purpose) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                rows,
            )
        super()._insert_events(curs, stored_events, **kwargs)

    def _insert_stored_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        super()._insert_stored_events(curs, stored_events, **kwargs)  # takes the table lock
        with curs.connection.cursor() as other:
            erasure.refuse_erased_meanwhile(other, stored_events)  # R22
        # after the events, so that a key already committed fails at the library's pipeline
        # sync as an IntegrityError (a conflict), not as an aborted pipeline
        shredding = kwargs.get("shredding")
        results = kwargs.get("idempotency") or []
        traced = kwargs.get("traces") or []
        if shredding or results or traced:
            with curs.connection.cursor() as other:  # the library reads ids from ``curs``
                if traced:  # the requests' trace context, for the relay's messages
                    other.executemany(traces.INSERT, traced)
                if shredding:  # R22: the key and the rows naming the subject go with it
                    erasure.shred(other, shredding)
                if results:  # the Idempotency-Key results commit with the events, or not at all
                    other.executemany(idempotency.INSERT, results)


class Factory(PostgresFactory):
    """The library's PostgreSQL infrastructure, with every wait for the database bounded.

    ``POSTGRES_CONNECT_TIMEOUT`` is, to the library, how long a command waits for a pooled
    connection; here it also bounds establishing one (libpq's ``connect_timeout``: an
    unreachable host otherwise holds a pool worker for over two minutes), and the pool's
    background reconnection gives up after twice as long — and starts again at the next
    request — instead of backing off for up to five minutes, so that the pool is back
    within seconds of the database; and once a wait has run out, the commands of requests
    that queued meanwhile fail at once instead of waiting in turn (``fail_fast``).
    """

    def __init__(self, env: Environment | EnvType | None):
        super().__init__(env)
        wait = int(self.env.get(self.POSTGRES_CONNECT_TIMEOUT) or DEFAULT_WAIT_SECONDS)
        pool = self.datastore.pool
        assert isinstance(pool.kwargs, dict)
        pool.kwargs["connect_timeout"] = max(2, wait)  # libpq counts whole seconds, ≥ 2
        pool.reconnect_timeout = 2.0 * wait
        # No statement is prepared behind the library's back: psycopg prepares a statement
        # on its fifth run, and one whose turn came inside a transaction that a conflict
        # aborted (the trace and Idempotency-Key rows follow the events in one pipeline) is
        # then taken as prepared though the server never saw it, so that the command's rerun
        # failed with 'prepared statement "_pg3_…" does not exist' (500). The library's own
        # statements ask to be prepared (``prepare=True``) and still are.
        pool.kwargs["prepare_threshold"] = None
        # the pre-ping asks the server only when its socket says something happened (the
        # library passes the pool its own check, which sends a query on every checkout)
        if pool._check is not None:
            pool._check = check_quietly
        # the library builds its datastore itself: its connections are wrapped here
        self.datastore.get_connection = failing_fast(  # type: ignore[method-assign, assignment]
            self.datastore.get_connection,
            refusals_of(
                "/".join(
                    str(self.env.get(name))
                    for name in (self.POSTGRES_HOST, self.POSTGRES_PORT, self.POSTGRES_DBNAME)
                )
            ),
        )


DEFAULT_WAIT_SECONDS = 5


def eventsourcing_env(
    database_url: str, pool_size: int, wait_seconds: int = DEFAULT_WAIT_SECONDS
) -> dict[str, str]:
    """The library's environment for our PostgreSQL event store, from a ``DATABASE_URL``;
    a command waits at most ``wait_seconds`` for a connection (see ``Factory``)."""
    url = urlsplit(database_url)
    if url.scheme not in ("postgres", "postgresql"):
        raise ValueError(f"DATABASE_URL must be a postgresql:// URL, not {url.scheme}://")
    return {
        "PERSISTENCE_MODULE": "grondslag.ledger.persistence.postgres:Factory",
        "APPLICATION_RECORDER_TOPIC": "grondslag.ledger.persistence.postgres:IndexingRecorder",
        "POSTGRES_DBNAME": unquote(url.path.lstrip("/")) or "postgres",
        "POSTGRES_HOST": url.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": unquote(url.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(url.password or ""),
        "POSTGRES_POOL_SIZE": str(pool_size),
        "POSTGRES_MAX_OVERFLOW": "0",  # a fixed pool: connections are a shared budget
        "POSTGRES_CONNECT_TIMEOUT": str(wait_seconds),  # waiting for a pooled connection
        "POSTGRES_PRE_PING": "y",  # a connection the server dropped is replaced before use
        "CREATE_TABLE": "y",
    }


class PostgresKeyStore:
    """Per-subject keys in PostgreSQL, on the event store's own connection pool, each
    wrapped by the process's key-encryption key (``envelope``)."""

    def __init__(self, datastore: PostgresDatastore):
        self.datastore = datastore

    def key_for(self, subject_id: UUID) -> bytes | None:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                f"SELECT key, kek_id FROM {KEYS_TABLE} WHERE subject_id = %s", (subject_id,)
            )
            row = curs.fetchone()
            if not row or row["key"] is None:
                return None
            return envelope.unwrap_subject_key(subject_id, row["kek_id"], bytes(row["key"]))

    def create_key(self, subject_id: UUID) -> bytes:
        key = AESGCM.generate_key(bit_length=256)
        kek_id, wrapped = envelope.wrap_subject_key(subject_id, key)
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                f"INSERT INTO {KEYS_TABLE} (subject_id, key, kek_id) VALUES (%s, %s, %s) "
                "ON CONFLICT (subject_id) DO NOTHING",
                (subject_id, wrapped, kek_id),
            )
        return self.key_for(subject_id) or key
