"""R22, the pure decision (``domain/erasure.py``): which purposes an erasure may erase now,
the holds on the others, and the personal fields the holds keep."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from grondslag.ledger.domain.erasure import PurposeFile, decide, holds_of
from grondslag.ledger.domain.facts import Fact
from grondslag.ledger.domain.standing_at import StandingAnswer
from grondslag.ledger.domain.values import (
    ErasureHold,
    Establishment,
    LegalClaim,
    LegalClaimEnd,
    Retention,
)

from builders import terms

NOW = datetime(2026, 12, 1, tzinfo=UTC)
COLLECTED = datetime(2025, 9, 1, tzinfo=UTC)


def _file(code: str, answer: dict[str, object] | None = None, **changes: object) -> PurposeFile:
    fact = Fact(
        uuid4(),
        COLLECTED,
        Establishment(basis="contract", reference="a", effective_at=COLLECTED, file_ref="f-1"),
    )
    state = {"lawful": False, "status": "lapsed", "reason": "basis_ended", **(answer or {})}
    now = StandingAnswer(purpose=code, at=NOW, known_at=NOW, **state)  # type: ignore[arg-type]
    return PurposeFile(code, terms(**changes), [fact], now)


def test_r22_nothing_held_erases_every_purpose_and_keeps_no_field():
    decision = decide([_file("a"), _file("b")], {}, (), NOW)
    assert (decision.erased, decision.held, decision.kept) == (("a", "b"), (), ())
    assert decision.complete


def test_r22_a_held_direct_marketing_purpose_keeps_the_e_mail_address_too():
    claim = LegalClaim(claim_ref="c", purpose="mail", reference="x", effective_at=COLLECTED)
    decision = decide(
        [_file("mail", direct_marketing=True), _file("b")], {"c": (claim, None)}, (), NOW
    )
    assert decision.erased == ("b",)
    assert [h.kind for h in decision.held] == ["legal_claim"]
    assert decision.kept == ("birth_date", "email")


def test_r22_a_held_purpose_that_does_not_mail_keeps_the_birth_date_only():
    claim = LegalClaim(claim_ref="c", purpose="a", reference="x", effective_at=COLLECTED)
    assert decide([_file("a")], {"c": (claim, None)}, (), NOW).kept == ("birth_date",)


def test_r22_an_ended_expired_or_future_claim_holds_nothing():
    def claim(**fields: object) -> LegalClaim:
        return LegalClaim(
            claim_ref="c", purpose="a", reference="x", **({"effective_at": COLLECTED} | fields)
        )

    end = LegalClaimEnd(claim_ref="c", effective_at=NOW, reason="settled")
    for claims in (
        {"c": (claim(), end)},
        {"c": (claim(until=NOW), None)},
        {"c": (claim(effective_at=datetime(2027, 1, 1, tzinfo=UTC)), None)},
    ):
        assert holds_of(_file("a"), claims, set(), NOW) == []


def test_r22_an_erasure_hold_counted_from_collection():
    hold = ErasureHold(term="P18M", reason="MfN", starts="collection")
    (held,) = holds_of(_file("m", erasure_hold=hold), {}, set(), NOW)
    assert (held.kind, held.until) == ("purpose_hold", datetime(2027, 3, 1, tzinfo=UTC))
    short = ErasureHold(term="P1Y", reason="MfN", starts="collection")
    assert holds_of(_file("m", erasure_hold=short), {}, set(), NOW) == []


def test_r22_destroy_on_request_lifts_the_retention_hold_only():
    answer = {"retention_until": datetime(2045, 1, 1, tzinfo=UTC), "basis": "contract"}
    retained = {"basis": "contract", "retention": Retention(term="P20Y")}
    (held,) = holds_of(_file("med", answer, **retained), {}, set(), NOW)
    assert held.kind == "retention"
    assert holds_of(_file("med", answer, destroy_on_request=True, **retained), {}, set(), NOW) == []


def test_r22_a_shared_file_lists_the_parties_who_have_not_joined():
    file = _file("plan", shared_file=True)
    file = PurposeFile(file.purpose, file.terms, file.facts, file.answer, ("b", "c"))
    (held,) = holds_of(file, {}, {"b"}, NOW)
    assert (held.kind, held.parties) == ("shared_file", ("c",))
    assert holds_of(file, {}, {"b", "c"}, NOW) == []


def test_r22_a_claim_on_a_purpose_without_a_standing_still_holds_it():
    claim = LegalClaim(claim_ref="c", purpose="invoicing", reference="x", effective_at=COLLECTED)
    decision = decide([_file("a")], {"c": (claim, None)}, (), NOW)
    assert decision.erased == ("a",)
    assert [(h.purpose, h.kind) for h in decision.held] == [("invoicing", "legal_claim")]
    assert decision.kept == ("birth_date",)
