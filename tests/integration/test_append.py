"""A save is one statement (``persistence.append``): the events, their stream index rows,
their trace context and the ``Idempotency-Key`` result commit together or not at all, a
conflict on one stream stores nothing of the call, and R22's check still runs after the
table lock."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError

from grondslag.ledger.application import Ledger
from grondslag.ledger.domain.ids import standing_id, subject_id
from grondslag.ledger.domain.standing import Standing
from grondslag.ledger.domain.values import PersonalData, PurposeTerms
from grondslag.ledger.persistence import traces
from grondslag.ledger.persistence.idempotency import CLAIM, Claim
from grondslag.ledger.persistence.postgres import EVENTS_TABLE, STREAMS_TABLE

from ledger_support import CONSENT, JAN_1, NOTICE

TERMS = PurposeTerms(title="P", basis="consent", notice=NOTICE)
TRACEPARENT = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"


@pytest.fixture
def tenant(ledger: Ledger) -> str:
    tenant = f"t-{secrets.token_hex(4)}"
    ledger.register_purpose(tenant, "p", TERMS, JAN_1)
    return tenant


def _rows(url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, args).fetchall()


@pytest.fixture
def statements(ledger: Ledger) -> Iterator[list[str]]:
    """The statements each save sends, while the test runs."""
    sent: list[str] = []
    execute, executemany = psycopg.Cursor.execute, psycopg.Cursor.executemany
    insert = ledger.recorder.insert_events
    saving = False

    def counted(method: Any) -> Any:
        def run(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
            if saving:
                sent.append(str(query))
            return method(self, query, *args, **kwargs)

        return run

    def insert_events(*args: Any, **kwargs: Any) -> Any:
        nonlocal saving
        saving = True
        try:
            return insert(*args, **kwargs)
        finally:
            saving = False

    with (
        mock.patch.object(psycopg.Cursor, "execute", counted(execute)),
        mock.patch.object(psycopg.Cursor, "executemany", counted(executemany)),
        mock.patch.object(ledger.recorder, "insert_events", insert_events),
    ):
        yield sent


def test_a_keyed_traced_consent_is_one_statement_with_its_index_trace_and_result(
    ledger: Ledger, tenant: str, own_database_url: str, statements: list[str]
) -> None:
    ledger.put_subject(tenant, "s", PersonalData())
    statements.clear()
    claim = Claim(tenant, "key-1", b"h" * 32, subject_ref="s")
    token, traced = CLAIM.set(claim), traces.TRACEPARENT.set(TRACEPARENT)
    try:
        ledger.give_consent(tenant, "s", "p", **CONSENT)
    finally:
        CLAIM.reset(token)
        traces.TRACEPARENT.reset(traced)
    assert len(statements) == 1, statements  # the library's pipeline sent ten
    stream = standing_id(tenant, "s", "p")
    assert _rows(
        own_database_url,
        f"SELECT tenant, kind, subject_ref, purpose FROM {STREAMS_TABLE} WHERE originator_id = %s",
        stream,
    ) == [(tenant, "standing", "s", "p")]
    assert _rows(
        own_database_url,
        "SELECT originator_version, traceparent FROM grondslag_event_traces "
        "WHERE originator_id = %s ORDER BY 1",
        stream,
    ) == [(1, TRACEPARENT), (2, TRACEPARENT)]
    assert _rows(
        own_database_url,
        "SELECT request_hash, subject_ref FROM grondslag_idempotency_results "
        "WHERE tenant = %s AND key = %s",
        tenant,
        "key-1",
    ) == [(b"h" * 32, "s")]


def _fresh_consent(ledger: Ledger, tenant: str, ref: str) -> Standing:
    standing = Standing.open(tenant, ref, "p")
    dossier = ledger.dossier(tenant, ref, "p")
    standing.give_consent(dossier.context(datetime.now(UTC)), **CONSENT)
    return standing


def test_a_conflict_on_one_stream_stores_nothing_of_the_call(
    ledger: Ledger, tenant: str, own_database_url: str
) -> None:
    ledger.put_subject(tenant, "a", PersonalData())
    ledger.put_subject(tenant, "b", PersonalData())
    ledger.save(_fresh_consent(ledger, tenant, "a"))
    stale = _fresh_consent(ledger, tenant, "a")  # versions 1 and 2 again: taken
    fresh = _fresh_consent(ledger, tenant, "b")
    events = [*fresh.collect_events(), *stale.collect_events()]
    before = _rows(own_database_url, f"SELECT count(*) FROM {EVENTS_TABLE}")
    token = traces.TRACEPARENT.set(TRACEPARENT)
    try:
        traces.stamp(events)
        record = (tenant, "key-2", b"h" * 32, b"{}", "b")
        with pytest.raises(IntegrityError):
            ledger._save_traced(*events, idempotency=[record])
    finally:
        traces.TRACEPARENT.reset(token)
    b = standing_id(tenant, "b", "p")
    assert _rows(own_database_url, f"SELECT count(*) FROM {EVENTS_TABLE}") == before
    for table in (STREAMS_TABLE, "grondslag_event_traces"):
        assert _rows(own_database_url, f"SELECT 1 FROM {table} WHERE originator_id = %s", b) == []
    assert (
        _rows(
            own_database_url,
            "SELECT 1 FROM grondslag_idempotency_results WHERE tenant = %s AND key = 'key-2'",
            tenant,
        )
        == []
    )
    ledger.save(_fresh_consent(ledger, tenant, "b"))  # alone, it is stored
    assert (
        len(_rows(own_database_url, f"SELECT 1 FROM {EVENTS_TABLE} WHERE originator_id = %s", b))
        == 2
    )


def test_r22_a_consent_for_a_subject_erased_meanwhile_is_refused_after_the_lock(
    ledger: Ledger, tenant: str, own_database_url: str
) -> None:
    ledger.put_subject(tenant, "e", PersonalData())
    standing = _fresh_consent(ledger, tenant, "e")  # decided before the erasure committed
    with psycopg.connect(own_database_url) as conn:  # what the erasure's shredding does
        conn.execute(
            "UPDATE grondslag_subject_keys SET key = NULL, destroyed_at = now() "
            "WHERE subject_id = %s",
            (subject_id(tenant, "e"),),
        )
    with pytest.raises(IntegrityError, match="R22"):
        ledger.save(standing)
    stream = standing_id(tenant, "e", "p")
    assert (
        _rows(own_database_url, f"SELECT 1 FROM {EVENTS_TABLE} WHERE originator_id = %s", stream)
        == []
    )
