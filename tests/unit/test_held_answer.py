"""A held answer (``reads.held_standing.as_of``) served for a later "now" is the bytes the API
would render for the fold's answer with ``at`` and ``known_at`` that "now" — its evidence
records untouched — and a rendering that does not begin as the fold's does is refused (the
read folds), never served with the wrong instants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from grondslag.ledger.reads.held_standing import as_of
from grondslag.ledger.reads.standing import AuditedStanding, EvidenceRecord

FOLDED = datetime(2026, 12, 2, 10, 8, 48, 901236, tzinfo=UTC)
RECORD = EvidenceRecord(
    event_id="bfd067bb-b0d1-5e93-af9f-3a5898245aa9",
    type="ConsentGiven",
    effective_at=datetime(2025, 9, 2, 10, tzinfo=UTC),
    recorded_at=datetime(2025, 9, 2, 10, 1, tzinfo=UTC),
    recorded_by="staff:jdevries",
    proof="/v1/audit/proofs/bfd067bb-b0d1-5e93-af9f-3a5898245aa9",
)


def _answer(purpose: str, at: datetime) -> AuditedStanding:
    return AuditedStanding(
        purpose=purpose,
        at=at,
        known_at=at,
        lawful=True,
        status="lawful",
        basis="consent",
        since=datetime(2025, 9, 2, 10, tzinfo=UTC),
        evidence=[RECORD.event_id],
        evidence_records=[RECORD],
    )


@pytest.mark.parametrize("purpose", ["photo-in-dossier", 'quote"and\\slash', "pasfoto-ë"])
@pytest.mark.parametrize(
    "now",
    [
        FOLDED,
        FOLDED + timedelta(microseconds=1),
        FOLDED + timedelta(hours=3),
        datetime(2027, 1, 1, tzinfo=UTC),  # no fraction: a shorter rendering of the instant
    ],
)
def test_the_held_answer_at_a_later_now_is_the_folds_rendering_at_that_now(
    purpose: str, now: datetime
) -> None:
    rendered = msgspec.json.encode(_answer(purpose, FOLDED))
    assert as_of(rendered, purpose, FOLDED, now) == msgspec.json.encode(_answer(purpose, now))


def test_a_rendering_of_another_instant_or_purpose_is_refused() -> None:
    rendered = msgspec.json.encode(_answer("photo-in-dossier", FOLDED))
    now = FOLDED + timedelta(minutes=1)
    assert as_of(rendered, "photo-in-dossier", FOLDED - timedelta(microseconds=1), now) is None
    assert as_of(rendered, "photo", FOLDED, now) is None
    # a fold whose `known_at` is not its `at` (never stored so) is no held answer either
    other = msgspec.structs.replace(_answer("photo-in-dossier", FOLDED), known_at=now)
    assert as_of(msgspec.json.encode(other), "photo-in-dossier", FOLDED, now) is None
