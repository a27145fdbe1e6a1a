"""R22: what an erasure destroys beside the events, in the transaction that records it.

The subject's sealing key (``grondslag_subject_keys``: the key is set to NULL, or replaced
by the fresh key of what the holds keep — wrapped like every stored key, ``envelope`` —
and ``destroyed_at`` is set), and every row that
names the subject outside the log: the e-mail index (a keyed hash of the address), link
tokens (unsubscribe links, pending double opt-in confirmations: the sign-ups), and the
``Idempotency-Key`` records of its requests (their request hashes would let anyone holding
a guessed body — an address, a birth date — confirm it). Those tables belong to the API's
schema; a ledger running without them (the domain's tests) skips them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from ..envelope import wrap_subject_key

KEYS_TABLE = "grondslag_subject_keys"
IDEMPOTENCY_RESULTS = "grondslag_idempotency_results"
IDEMPOTENCY_ANSWERS = "grondslag_idempotency"
EMAIL_INDEX = "grondslag_email_index"
LINK_TOKENS = "grondslag_link_tokens"


@dataclass(frozen=True)
class Shredding:
    """One subject's erasure: its key goes (``fresh`` replaces it, for what the holds keep)
    and every row that names it outside the log."""

    tenant: str
    subject_ref: str
    subject_id: UUID
    fresh: bytes | None = None
    held: tuple[str, ...] = ()  # purposes still held: their links stay
    email_kept: bool = False  # a held direct-marketing purpose keeps the address: its index too


def shred(curs: Any, shredding: Shredding) -> None:
    """Run on the recorder's cursor, inside the transaction that appends the events."""
    kek_id, wrapped = None, None  # destroyed: NULL; what the holds keep: wrapped anew
    if shredding.fresh is not None:
        kek_id, wrapped = wrap_subject_key(shredding.subject_id, shredding.fresh)
    curs.execute(
        f"UPDATE {KEYS_TABLE} SET key = %s, kek_id = %s, destroyed_at = now() "
        "WHERE subject_id = %s",
        (wrapped, kek_id, shredding.subject_id),
    )
    where = (shredding.tenant, shredding.subject_ref)
    for table in (IDEMPOTENCY_RESULTS, IDEMPOTENCY_ANSWERS, LINK_TOKENS, EMAIL_INDEX):
        curs.execute("SELECT to_regclass(%s) IS NOT NULL AS present", (table,))
        row = curs.fetchone()
        if (row["present"] if isinstance(row, dict) else row[0]) is not True:
            continue
        if table == LINK_TOKENS:
            curs.execute(
                f"DELETE FROM {table} WHERE tenant = %s AND subject_ref = %s "
                "AND NOT (purpose = ANY(%s))",
                (*where, list(shredding.held)),
            )
        elif table != EMAIL_INDEX or not shredding.email_kept:
            curs.execute(f"DELETE FROM {table} WHERE tenant = %s AND subject_ref = %s", where)


# events that make a standing lawful: none may be stored for a subject erased meanwhile
STARTS = {
    "ledger.domain.standing:Standing.ConsentGiven",
    "ledger.domain.standing:Standing.BasisEstablished",
    "ledger.domain.standing:Standing.ObjectionDecided",
}
ERASED_MEANWHILE = """
DO $$ BEGIN
IF EXISTS (
    SELECT 1 FROM grondslag_streams st
    JOIN grondslag_streams su ON su.tenant = st.tenant AND su.kind = 'subject'
        AND su.subject_ref = st.subject_ref
    JOIN grondslag_subject_keys k ON k.subject_id = su.originator_id
    WHERE st.originator_id = ANY(ARRAY[{ids}]::uuid[])
      AND k.key IS NULL AND k.destroyed_at IS NOT NULL
) THEN
    RAISE EXCEPTION 'R22: the subject was erased meanwhile' USING ERRCODE = 'unique_violation';
END IF;
END $$
"""


def refuse_erased_meanwhile(curs: Any, stored_events: Sequence[StoredEvent]) -> None:
    """R22, under the event store's table lock: a command that read its subject just before
    the subject's erasure committed must not store a consent (or another start) after it.
    The database refuses it as a conflict (the transaction fails, nothing is stored), so
    that the command runs again on fresh state and is refused there
    (``Subject.check_not_erased``), and a shared transaction retries the others alone."""
    standings = started_streams(stored_events)
    if standings:  # UUIDs, spelt by ``UUID`` itself: nothing else reaches the statement
        curs.execute(ERASED_MEANWHILE.format(ids=", ".join(f"'{s}'" for s in standings)))


def started_streams(stored_events: Sequence[StoredEvent]) -> list[UUID]:
    """The standings the events make lawful (``STARTS``): what R22's check looks at."""
    return sorted({UUID(str(e.originator_id)) for e in stored_events if e.topic in STARTS})
