"""Who may consent or withdraw for whom: minors (R11, R13, R14) and adults with a
representative (R15, R16).

``check_may_act`` answers, for one statement at one moment, in which capacity the giver
acts — or refuses, naming the rule. ``standing_at`` then decides what the consents given
add up to (both parent and minor in care between 12 and 16, lapses at 16 or at the end
of a representation).
"""

from __future__ import annotations

from datetime import date, datetime

from . import bounds
from .errors import NotFound, RuleViolated
from .minors import (
    AGE_OF_CONSENT,
    AGE_OF_MAJORITY,
    AMSTERDAM,
    NEVER,
    co_decides_in_care,
    is_minor,
    turns,
)
from .subject_view import RepresentationRecord, SubjectView
from .values import Giver, PurposeTerms, Representation, RepresentationEnd

PARENTAL = frozenset({"parental_authority", "guardian"})
ADULT_KINDS = frozenset({"curator", "mentor", "administrator"})


def check_may_act(
    code: str,
    terms: PurposeTerms,
    subject: SubjectView,
    representative_ref: str | None,
    at: datetime,
) -> Giver:
    """The capacity in which a consent or withdrawal at ``at`` is given, or a refusal."""
    if representative_ref is None:
        _check_subject_acts(terms, subject, at)
        return Giver("subject")
    record = subject.representations.get(representative_ref)
    if record is None:
        raise RuleViolated(
            "R16",
            f"{representative_ref!r} is not a registered representative of this subject "
            "(a parent without authority is not a representative, R11)",
            field="representative_ref",
        )
    representation = record.representation
    if not record.valid_at(at):
        raise RuleViolated(
            "R16",
            f"{representative_ref!r} could act from {representation.valid_from.isoformat()}"
            + (f" until {record.ends_at.isoformat()}" if record.ends_at else "")
            + f", not at {at.isoformat()}",
            field="effective_at",
        )
    kind = representation.kind
    if kind in PARENTAL and not is_minor(subject.birth_date, at):
        raise RuleViolated(
            "R14",
            "from the 16th birthday only the subject gives or withdraws consent; "
            f"a {kind} representative no longer can",
            field="representative_ref",
        )
    if kind == "mentor" and terms.matter != "care":
        raise RuleViolated(
            "R15",
            f"a mentor acts in personal (care) matters only, not in {terms.matter} matters",
            field="representative_ref",
        )
    if kind == "administrator" and terms.matter != "property":
        raise RuleViolated(
            "R15",
            f"an administrator (bewindvoerder) acts in property and money matters only, not in "
            f"{terms.matter} matters",
            field="representative_ref",
        )
    if kind == "authorised_person" and code not in representation.purposes:
        raise RuleViolated(
            "R15",
            f"the mandate of {representative_ref!r} does not cover purpose {code!r}",
            field="representative_ref",
        )
    return Giver("representative", representative_ref, kind)


def _check_subject_acts(terms: PurposeTerms, subject: SubjectView, at: datetime) -> None:
    birth = subject.birth_date
    if is_minor(birth, at) and not terms.minor_may_consent:
        if terms.matter == "care" and co_decides_in_care(birth, at):
            return  # R13: the minor's own consent, beside the parent's
        raise RuleViolated(
            "R11",
            "under 16 consent is given by a parent with authority or a guardian "
            f"(the subject turns 16 on {_birthday(birth)})"
            if birth
            else "under 16 consent is given by a parent with authority or a guardian",
            field="representative_ref",
        )
    for record in subject.representations.values():
        if not record.valid_at(at):
            continue
        kind, competent = record.representation.kind, record.representation.subject_competent_for
        if kind == "curator":
            raise RuleViolated(
                "R15",
                "under curatele the subject's own consent is not valid; the curator acts",
                field="representative_ref",
            )
        for matter, representative in (("care", "mentor"), ("property", "administrator")):
            if kind == representative and terms.matter == matter and matter not in competent:
                raise RuleViolated(
                    "R15",
                    f"a {kind} acts in {matter} matters; the subject's own consent counts only "
                    f"where the representation records the subject as competent for {matter}",
                    field="representative_ref",
                )


def _birthday(birth: date) -> str:
    moment = turns(birth, AGE_OF_CONSENT)
    return (
        "no date in the calendar"
        if moment == NEVER
        else moment.astimezone(AMSTERDAM).date().isoformat()
    )


def check_registration(
    representation: Representation,
    existing: dict[str, RepresentationRecord],
    birth_date: date | None,
) -> None:
    ref, kind = representation.representative_ref, representation.kind
    bounds.check_instant("valid_from", representation.valid_from)
    bounds.check_instant("valid_until", representation.valid_until)
    if ref in existing:
        # one representative_ref names one representation, so that every consent it gave
        # keeps pointing at the period and evidence it was given under
        raise RuleViolated(
            "R16",
            f"{ref!r} is already registered for this subject; a new representation "
            "(e.g. a new court decision) needs its own representative_ref",
            field="representative_ref",
        )
    until = representation.valid_until
    if until is not None and until <= representation.valid_from:
        raise RuleViolated("R16", "valid_until must be after valid_from", field="valid_until")
    if kind in PARENTAL:
        if birth_date is None:
            raise RuleViolated(
                "R11",
                "record the subject's birth date (PUT the subject) before registering "
                f"a {kind}: its authority to consent depends on the subject's age",
                field="kind",
            )
        if representation.valid_from >= turns(birth_date, AGE_OF_CONSENT):
            raise RuleViolated(
                "R14",
                f"the subject is 16 or older at valid_from; a {kind} cannot consent",
                field="valid_from",
            )
    adult_from = turns(birth_date, AGE_OF_MAJORITY) if birth_date else None
    if kind in ADULT_KINDS and adult_from and representation.valid_from < adult_from:
        raise RuleViolated(
            "R15",
            f"a {kind} is appointed for adults (BW 1:378 ff.); for a minor the parent "
            "with authority or the guardian acts",
            field="kind",
        )
    if kind == "authorised_person" and not representation.purposes:
        raise RuleViolated(
            "R15", "an authorised person's mandate must name its purposes", field="purposes"
        )


def check_end(end: RepresentationEnd, existing: dict[str, RepresentationRecord]) -> None:
    bounds.check_instant("effective_at", end.effective_at)
    record = existing.get(end.representative_ref)
    if record is None:
        raise NotFound(f"representative {end.representative_ref!r} is not registered")
    if record.end is not None:
        raise RuleViolated(
            "R16", "this representation has already ended", field="representative_ref"
        )
    if end.effective_at < record.representation.valid_from:
        raise RuleViolated(
            "R16", "a representation cannot end before it began", field="effective_at"
        )
