"""R22: what the bitemporal fold answers about the time before an erasure, once the birth
date is gone. The 16th-birthday lapse (R14) the ledger recorded — by the deadline clock, or
by the erasure itself just before it destroyed the key — stands in for the birth date, so a
parent's consent still ends on the child's 16th birthday, as known before and after the
erasure. R13's pending periods (a care purpose between 12 and 16 needs the child too) cannot
be reconstructed: without the birth date the parent's consent answers lawful there (a
documented design choice, docs/rules.md R22). Runs on the module's own database."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta

import pytest
from eventsourcing.persistence import IntegrityError

from grondslag.ledger.application import ErasureRequest, Ledger
from grondslag.ledger.domain.errors import RuleViolated
from grondslag.ledger.domain.minors import turns
from grondslag.ledger.domain.values import Evidence, PersonalData, Representation

from projector_support import give, new_tenant, terms

PHOTO, CARE = "photo", "youth-care"
REGISTER = {PHOTO: terms("Foto"), CARE: terms("Jeugdhulp", matter="care")}


def _child(ledger: Ledger, tenant: str, born: date) -> str:
    ref = f"child-{secrets.token_hex(3)}"
    ledger.put_subject(tenant, ref, PersonalData(birth_date=born))
    ledger.register_representative(
        tenant,
        ref,
        Representation(
            representative_ref="parent-1",
            kind="parental_authority",
            valid_from=datetime(born.year, born.month, born.day, tzinfo=UTC),
            evidence=Evidence(document_ref="birth-certificate"),
        ),
    )
    return ref


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_r22_a_recorded_age_lapse_stands_in_for_the_erased_birth_date(ledger: Ledger) -> None:
    tenant = new_tenant(ledger, REGISTER)
    born = date(2008, 6, 10)
    sixteen = turns(born, 16)
    ref = _child(ledger, tenant, born)
    give(
        ledger,
        tenant,
        ref,
        PHOTO,
        representative_ref="parent-1",
        effective_at=_at("2020-01-01T10:00:00+00:00"),
    )
    before = ledger.standing(tenant, ref, PHOTO, at=_at("2025-01-01T00:00:00+00:00"))
    assert (before.status, before.reason, before.until) == (
        "lapsed",
        "subject_reached_age_of_consent",
        sixteen,
    )
    known_before = datetime.now(UTC)

    outcome = ledger.erase(tenant, ref, ErasureRequest(recorded_by="staff:x"))
    assert outcome.complete and outcome.lapsed == []  # the consent had lapsed already
    assert ledger.personal_data(tenant, ref) is None  # the birth date is gone

    for known_at in (known_before, datetime.now(UTC)):
        at_15 = ledger.standing(
            tenant, ref, PHOTO, at=sixteen - timedelta(days=1), known_at=known_at
        )
        assert at_15.lawful and at_15.given_by[0].capacity == "parental_authority"
        at_17 = ledger.standing(
            tenant, ref, PHOTO, at=sixteen + timedelta(days=365), known_at=known_at
        )
        assert (at_17.status, at_17.reason, at_17.until) == (
            "lapsed",
            "subject_reached_age_of_consent",
            sixteen,
        )
    # the erasure recorded the lapse the clock had not noticed yet, before the key went
    facts = ledger.dossier(tenant, ref, PHOTO).facts
    assert [f.statement.effective_at for f in facts if getattr(f.statement, "reason", None)] == [
        sixteen
    ]


def test_r22_without_the_birth_date_r13_pending_periods_cannot_be_reconstructed(
    ledger: Ledger,
) -> None:
    tenant = new_tenant(ledger, REGISTER)
    ref = _child(ledger, tenant, date(2012, 3, 1))  # 12 on 1 March 2024, 16 in 2028
    give(
        ledger,
        tenant,
        ref,
        CARE,
        representative_ref="parent-1",
        effective_at=_at("2023-01-01T10:00:00+00:00"),
    )
    at_13 = _at("2025-06-01T00:00:00+00:00")
    before = ledger.standing(tenant, ref, CARE, at=at_13)
    assert (before.status, before.missing) == ("pending", ["subject"])  # R13: the child too

    outcome = ledger.erase(tenant, ref, ErasureRequest(recorded_by="staff:x"))
    assert [lapse.purpose for lapse in outcome.lapsed] == [CARE]  # pending counts as in force
    after = ledger.standing(tenant, ref, CARE, at=at_13)
    assert after.status == "lawful"  # the design choice: the 12th birthday is not recorded
    now = ledger.standing(tenant, ref, CARE)
    assert (now.status, now.reason) == ("lapsed", "erased")


def test_r22_a_consent_decided_just_before_the_erasure_committed_is_not_stored(
    ledger: Ledger,
) -> None:
    """A command that read the subject just before its erasure committed may try to store a
    consent on a standing of its own after it: the database refuses it as a conflict, and
    the command, run again on fresh state, is refused by R22."""
    tenant = new_tenant(ledger, REGISTER)
    ref = f"late-{secrets.token_hex(3)}"
    ledger.put_subject(tenant, ref, PersonalData(email="late@example.nl"))
    dossier = ledger.dossier(tenant, ref, PHOTO)  # read before the erasure
    assert ledger.erase(tenant, ref, ErasureRequest(recorded_by="staff:x")).complete
    now = datetime.now(UTC)
    standing = dossier.standing_for_commands(now)
    consent = {
        "method": "written",
        "explicit": True,
        "notice_version": "2025-01",
        "evidence": Evidence(document_ref="intake.pdf"),
        "recorded_by": "staff:late",
    }
    standing.give_consent(dossier.context(now), **consent)  # its rules passed, before
    with pytest.raises(IntegrityError):
        ledger._commit(standing)
    assert ledger.standing(tenant, ref, PHOTO).status == "none"  # nothing was stored
    with pytest.raises(RuleViolated) as refused:  # the command run again on fresh state
        ledger.give_consent(tenant, ref, PHOTO, **consent)
    assert refused.value.rule == "R22"
