"""R22: what an erasure request may erase now, and what holds the rest — from the ledger alone.

For each purpose the subject has a standing for, four kinds of hold (``Hold.kind``):

* ``retention`` — a running retention term of a contract or legal-obligation basis (R21):
  the basis is in force (until open: the term starts when it ends), or it ended and
  ``retention_until`` lies ahead. A purpose marked ``destroy_on_request`` (a WGBO medical
  file, BW 7:455) lifts it on the subject's request — unless a legal claim holds the file;
* ``legal_claim`` — a recorded legal claim (art. 17(3)(e)) on the purpose, not ended, not past
  its ``until``;
* ``purpose_hold`` — the register's ``erasure_hold``: a term counted from the basis's end
  (or from collection), e.g. MfN mediation files 18 months after the mediation ended; a
  consent the erasure itself ends counts as ending now;
* ``shared_file`` — a file of a ``shared_file`` purpose that other clients share (the same
  ``file_ref`` on their basis): it may go only on a joint request of all of them
  (``joint_with`` names every other party), else the hold lists who must join.

Pure: the caller loads the standings, the other parties of each shared file and the clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import msgspec

from .facts import Fact
from .retention import add_term
from .standing_at import StandingAnswer
from .values import Establishment, Hold, LegalClaim, LegalClaimEnd, PurposeTerms

RETAINED_BASES = ("contract", "legal_obligation")
Field = Literal["birth_date", "email"]


@dataclass(frozen=True)
class PurposeFile:
    """What the ledger knows of one of the subject's purposes, now."""

    purpose: str
    terms: PurposeTerms
    facts: list[Fact]
    answer: StandingAnswer
    parties: tuple[str, ...] = ()  # the other (not erased) clients of its shared file


@dataclass(frozen=True)
class Decision:
    """Which purposes may be erased, the holds on the others, the fields the holds keep."""

    erased: tuple[str, ...]
    held: tuple[Hold, ...]
    kept: tuple[Field, ...]

    @property
    def complete(self) -> bool:
        return not self.held


Claims = Mapping[str, tuple[LegalClaim, LegalClaimEnd | None]]


def file_ref(facts: Iterable[Fact]) -> str | None:
    """The shared file the subject's basis for this purpose is in (the latest named)."""
    refs = [
        f.statement.file_ref
        for f in facts
        if isinstance(f.statement, Establishment) and f.statement.file_ref
    ]
    return refs[-1] if refs else None


def decide(
    files: Iterable[PurposeFile], claims: Claims, joint_with: Iterable[str], now: datetime
) -> Decision:
    """R22: the holds on each purpose; the rest may be erased."""
    joint = set(joint_with)
    files = list(files)
    erased: list[str] = []
    held: list[Hold] = []
    held_terms: list[PurposeTerms] = []
    for file in sorted(files, key=lambda f: f.purpose):
        holds = holds_of(file, claims, joint, now)
        if holds:
            held += holds
            held_terms.append(file.terms)
        else:
            erased.append(file.purpose)
    # a claim on a purpose the subject has no standing for still holds that purpose's data
    known = {file.purpose for file in files}
    for purpose in sorted({claim.purpose for claim, _ in claims.values()} - known):
        held += legal_claim_holds(purpose, claims, now)
    kept: tuple[Field, ...] = ()
    if held:
        # the held standings keep their exact answers (age rules R11–R16) while they are
        # kept; the e-mail address only where a held purpose mails (direct marketing)
        mails = any(t.direct_marketing for t in held_terms)
        kept = ("birth_date", "email") if mails else ("birth_date",)
    return Decision(tuple(erased), tuple(held), kept)


def holds_of(file: PurposeFile, claims: Claims, joint: set[str], now: datetime) -> list[Hold]:
    claimed = legal_claim_holds(file.purpose, claims, now)
    holds = list(claimed)
    retention = retention_hold(file, now)
    if retention is not None and not (file.terms.destroy_on_request and not claimed):
        holds.append(retention)
    if (purpose_hold := _purpose_hold(file, now)) is not None:
        holds.append(purpose_hold)
    if (shared := _shared_file_hold(file, joint)) is not None:
        holds.append(shared)
    return holds


def legal_claim_holds(purpose: str, claims: Claims, now: datetime) -> list[Hold]:
    holds = []
    for claim, end in claims.values():
        if claim.purpose != purpose or claim.effective_at > now:
            continue
        if (end is not None and end.effective_at <= now) or (
            claim.until is not None and claim.until <= now
        ):
            continue
        holds.append(
            Hold(
                purpose=purpose,
                kind="legal_claim",
                reason=f"a legal claim ({claim.claim_ref}: {claim.reference}) needs this data "
                "(GDPR art. 17(3)(e))",
                until=claim.until,
            )
        )
    return holds


def retention_hold(file: PurposeFile, now: datetime) -> Hold | None:
    """R21: the retention term of a contract or legal-obligation basis is running."""
    answer = file.answer
    if answer.basis not in RETAINED_BASES and file.terms.basis not in RETAINED_BASES:
        return None
    if answer.status in ("lawful", "restricted") and answer.basis in RETAINED_BASES:
        return Hold(
            purpose=file.purpose,
            kind="retention",
            reason=f"the {answer.basis} basis is in force; its retention term (R21) starts "
            "when it ends",
        )
    until = answer.retention_until
    if answer.reason == "basis_ended" and until is not None and until > now:
        return Hold(
            purpose=file.purpose,
            kind="retention",
            reason="the retention term after the basis ended is running (R21)",
            until=until,
        )
    return None


def _purpose_hold(file: PurposeFile, now: datetime) -> Hold | None:
    rule = file.terms.erasure_hold
    answer = file.answer
    if rule is None or not file.facts:
        return None
    if rule.starts == "collection":
        start: datetime | None = min(f.effective_at for f in file.facts)
    elif answer.status == "lapsed":
        start = answer.until
    elif answer.status in ("lawful", "pending", "restricted") and answer.basis == "consent":
        start = now  # the erasure ends the consent now
    elif answer.status == "none":
        return None
    else:
        start = None  # the basis is in force: the term has not started
    until = add_term(start, rule.term) if start is not None else None
    if until is not None and until <= now:
        return None
    counted = "from collection" if rule.starts == "collection" else "after the basis ends"
    return Hold(
        purpose=file.purpose,
        kind="purpose_hold",
        reason=f"{rule.reason} (the register: no erasure within {rule.term} {counted})",
        until=until,
    )


def _shared_file_hold(file: PurposeFile, joint: set[str]) -> Hold | None:
    if not file.terms.shared_file:
        return None
    missing = tuple(sorted(set(file.parties) - joint))
    if not missing:
        return None
    return Hold(
        purpose=file.purpose,
        kind="shared_file",
        reason=f"file {file_ref(file.facts)!r} is shared with other clients; only a joint "
        "request of all of them erases it (name them in joint_with)",
        parties=missing,
    )


class LapsedStanding(msgspec.Struct, frozen=True):
    """A consent the erasure ended (``BasisLapsed``, reason ``erased``)."""

    purpose: str
    event_id: str


class ErasureOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """What an erasure request did: erased, held (409), or found erased already."""

    subject_ref: str
    complete: bool
    already_erased: bool = False  # a repeat: nothing was recorded
    event_id: str | None = None  # the ``Subject.Erased`` event (the last one, on a repeat)
    effective_at: datetime | None = None
    erased: list[str] = msgspec.field(default_factory=list)
    held: list[Hold] = msgspec.field(default_factory=list)
    lapsed: list[LapsedStanding] = msgspec.field(default_factory=list)
    kept: list[str] = msgspec.field(default_factory=list)
