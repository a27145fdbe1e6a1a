"""Under an ``Idempotency-Key`` the first answer is the answer, also for a copy that ran
while the first committed: its command, reading the state the first left, is refused by
the rules (R24: restricted already; R18: decided already; R8: withdrawn already) — and
answers the committed result instead of that refusal (20 copies of a keyed restriction sent
at once to a serve answered 409 R24 to 13 of them)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from grondslag.ledger.application import Ledger
from grondslag.ledger.domain.errors import RuleViolated
from grondslag.ledger.domain.ids import standing_id
from grondslag.ledger.domain.values import (
    Establishment,
    Objection,
    ObjectionDecision,
    PersonalData,
    PurposeTerms,
    Restriction,
)
from grondslag.ledger.persistence.idempotency import CLAIM, Claim

from ledger_support import CONSENT, JAN_1, NOTICE

PHOTOS = PurposeTerms(title="Photos", basis="consent", notice=NOTICE)
REMINDERS = PurposeTerms(
    title="Reminders",
    basis="legitimate_interest",
    notice=NOTICE,
    legitimate_interest_assessment="LIA 2025-01",
)


@pytest.fixture
def tenant(ledger: Ledger) -> str:
    tenant = f"t-{secrets.token_hex(4)}"
    ledger.register_purpose(tenant, "photos", PHOTOS, JAN_1)
    ledger.register_purpose(tenant, "reminders", REMINDERS, JAN_1)
    ledger.put_subject(tenant, "s", PersonalData())
    return tenant


def under_key(tenant: str, key: str, command: Any) -> Any:
    """Run ``command`` as the request under ``key`` whose middleware found nothing stored
    under it yet (a copy that started before the first committed)."""
    token = CLAIM.set(Claim(tenant, key, b"h" * 32, subject_ref="s"))
    try:
        return command()
    finally:
        CLAIM.reset(token)


def test_r24_a_keyed_restriction_run_again_after_it_committed_answers_the_first(ledger, tenant):
    ledger.give_consent(tenant, "s", "photos", **CONSENT)

    def restrict() -> Any:
        restriction = Restriction(reasons="disputed", effective_at=datetime.now(UTC))
        return ledger.restrict_purposes(tenant, "s", ["photos"], restriction)

    first = under_key(tenant, "restrict-1", restrict)
    with pytest.raises(RuleViolated) as refused:
        under_key(tenant, "restrict-2", restrict)  # another key: restricted already
    assert refused.value.rule == "R24"
    again = under_key(tenant, "restrict-1", restrict)  # the same key: the first answer
    assert msgspec.json.encode(again) == msgspec.json.encode(first)
    standing = ledger.repository.get(standing_id(tenant, "s", "photos"))
    assert sum(isinstance(f.statement, Restriction) for f in standing.facts) == 1


def test_r18_a_keyed_decision_run_again_after_it_committed_answers_the_first(ledger, tenant):
    establishment = Establishment(basis="legitimate_interest", reference="r", effective_at=JAN_1)
    ledger.establish_basis(tenant, "s", "reminders", establishment)
    ledger.lodge_objection(
        tenant, "s", "reminders", Objection(grounds="no", effective_at=datetime.now(UTC))
    )

    def decide() -> Any:
        decision = ObjectionDecision(upheld=True, reasons="ok", effective_at=datetime.now(UTC))
        return ledger.decide_objection(tenant, "s", "reminders", decision)

    first = under_key(tenant, "decide-1", decide)
    with pytest.raises(RuleViolated):
        under_key(tenant, "decide-2", decide)  # another key: a second decision is refused
    again = under_key(tenant, "decide-1", decide)
    assert msgspec.json.encode(again) == msgspec.json.encode(first)
    standing = ledger.repository.get(standing_id(tenant, "s", "reminders"))
    assert sum(isinstance(f.statement, ObjectionDecision) for f in standing.facts) == 1
