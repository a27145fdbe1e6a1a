"""Which purposes a tenant's register holds, from the stream index (kept in the writing
transaction), for commands that cover "every purpose" (a data-subject request, R23)."""

from __future__ import annotations

from eventsourcing.postgres import PostgresApplicationRecorder

from .postgres import STREAMS_TABLE

PURPOSE_CODES = (
    f"SELECT purpose FROM {STREAMS_TABLE} WHERE tenant = %s AND kind = 'purpose' ORDER BY purpose"
)


def purpose_codes(recorder: PostgresApplicationRecorder, tenant: str) -> list[str]:
    with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
        curs.execute(PURPOSE_CODES, (tenant,))
        return [row["purpose"] for row in curs.fetchall()]
