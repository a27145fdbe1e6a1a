"""A stored event the ledger cannot decode (damaged on disk, an upgrade that cannot read an old
payload) is never left out of an answer: every answer that folds the stream answers 503
naming it, records nothing, and answers again as before once the bytes are repaired. (A
single read of "now" whose read-model row is current answers from the row, which the
projector folded from the bytes as they were recorded: ``reads.held_standing``.)"""

from __future__ import annotations

import asyncio
import time

import asyncpg

from grondslag.ledger.domain.ids import standing_id
from grondslag.ledger.persistence.postgres import EVENTS_TABLE

from api_support import CONSENTS, PURPOSE, REF, assert_problem


def sql(database_url: str, query: str, *args: object) -> object:
    async def run() -> object:
        conn = await asyncpg.connect(database_url)
        try:
            return await conn.fetchval(query, *args)
        finally:
            await conn.close()

    return asyncio.run(run())


def wait_for_projections(database_url: str) -> None:
    """Every projection past the log's head, so none of them reads the damaged bytes."""
    deadline = time.monotonic() + 15
    query = (
        f"SELECT bool_and(position >= (SELECT max(notification_id) FROM {EVENTS_TABLE})) "
        "FROM grondslag_tracking WHERE projection IN ('current_standing', 'audit_log')"
    )
    while not sql(database_url, query):
        assert time.monotonic() < deadline, "the projector did not catch up"
        time.sleep(0.05)


def test_an_undecodable_event_answers_503_naming_its_stream_and_records_nothing(
    tenant, database_url: str
) -> None:
    tenant.register_purpose()
    tenant.put_subject(REF, birth_date="1990-05-01")
    assert tenant.consent(REF).status_code == 201
    stream = standing_id(tenant.name, REF, PURPOSE)
    wait_for_projections(database_url)
    original = sql(
        database_url,
        f"SELECT state FROM {EVENTS_TABLE} WHERE originator_id = $1 AND originator_version = 2",
        stream,
    )
    versions = f"SELECT max(originator_version) FROM {EVENTS_TABLE} WHERE originator_id = $1"
    sql(
        database_url,
        f"UPDATE {EVENTS_TABLE} SET state = $2 WHERE originator_id = $1 AND originator_version = 2",
        stream,
        b'{"consent": {"method": 42',
    )
    try:
        held = tenant.call("GET", f"/v1/subjects/{REF}/standing/{PURPOSE}")
        assert held.status_code == 200 and held.json()["lawful"] is True, held.text
        moment = held.json()["at"]  # a question of a moment folds the log
        read = tenant.call("GET", f"/v1/subjects/{REF}/standing/{PURPOSE}", params={"at": moment})
        body = assert_problem(read, 503)
        assert str(stream) in body["detail"]
        assert read.headers["retry-after"]
        everything = tenant.call("GET", f"/v1/subjects/{REF}/standing")
        assert_problem(everything, 503)
        withdrawal = tenant.call(
            "POST",
            f"{CONSENTS}/{PURPOSE}/withdrawal",
            json={"method": "email", "recorded_by": "staff:a"},
        )
        assert_problem(withdrawal, 503)
        assert sql(database_url, versions, stream) == 2, "a refused write recorded something"
    finally:
        sql(
            database_url,
            f"UPDATE {EVENTS_TABLE} SET state = $2 "
            "WHERE originator_id = $1 AND originator_version = 2",
            stream,
            original,
        )
    again = tenant.call("GET", f"/v1/subjects/{REF}/standing/{PURPOSE}")
    assert again.status_code == 200 and again.json()["lawful"] is True
