"""Properties of representation (R11–R16): no sequence of commands lets anyone act outside
their scope or period, and no standing counts a consent outside them.

Random subjects (birth dates incl. 29 February, or unknown), purposes (care / property /
other, ``minor_may_consent``, ``survives_authority_end``), representations (every kind,
with or without ``valid_until``) and attempted consents, withdrawals and ends are applied
through the ``Ledger``. A small model of the rules predicts every refusal; afterwards every
recorded consent and every consent a lawful or pending standing counts at a random ``at``
— now and as known before each end was recorded — is checked against the rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from grondslag.ledger.application import Ledger
from grondslag.ledger.domain.consent import CLOCK_SKEW
from grondslag.ledger.domain.errors import InvalidInput, NotFound, RuleViolated
from grondslag.ledger.domain.ids import standing_id
from grondslag.ledger.domain.minors import AMSTERDAM, co_decides_in_care, is_minor, turns
from grondslag.ledger.domain.values import (
    Consent,
    Giver,
    PersonalData,
    PurposeTerms,
    Representation,
    RepresentationEnd,
)

from builders import EVIDENCE, MINUTE, SUBJECT, TENANT, moment, terms

EPOCH = datetime(1900, 1, 1, tzinfo=UTC)  # every purpose is in force throughout
WINDOW_START = datetime(2016, 1, 1, tzinfo=UTC)
WINDOW_MINUTES = int((datetime(2040, 1, 1, tzinfo=UTC) - WINDOW_START) / MINUTE)
PARENTAL = ("parental_authority", "guardian")
KINDS = (*PARENTAL, "curator", "mentor", "administrator", "authorised_person")
MATTERS = ("care", "property", "other")
LEAP_BIRTHS = [date(y, 2, 29) for y in (2004, 2008, 2012, 2016, 2020)]

PROPERTY_SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# -- the scenario ----------------------------------------------------------------------------
@dataclass(frozen=True)
class PurposeSpec:
    code: str
    matter: str
    minor_may_consent: bool
    survives: bool

    def terms(self) -> PurposeTerms:
        extra: dict[str, object] = {}
        if self.matter == "care":
            extra = {"special_categories": ("health",), "special_condition": "explicit_consent"}
        return terms(
            title=self.code,
            matter=self.matter,
            minor_may_consent=self.minor_may_consent,
            survives_authority_end=self.survives,
            **extra,
        )


@dataclass
class Rep:
    """A representation as the model knows it."""

    representation: Representation
    registered: bool = False
    end: datetime | None = None

    @property
    def kind(self) -> str:
        return self.representation.kind

    def ends_at(self, end: datetime | None) -> datetime | None:
        ends = [t for t in (self.representation.valid_until, end) if t is not None]
        return min(ends, default=None)

    def valid_at(self, at: datetime, end: datetime | None) -> bool:
        ends = self.ends_at(end)
        return self.representation.valid_from <= at and (ends is None or at < ends)


@dataclass
class Scenario:
    birth: date | None
    purposes: list[PurposeSpec]
    reps: list[Rep]
    commands: list[tuple]
    ats: list[datetime]
    log: list[str] = field(default_factory=list)


def minute_in_window(draw) -> datetime:
    return WINDOW_START + draw(st.integers(0, WINDOW_MINUTES)) * MINUTE


def instant(draw, anchors: list[datetime]) -> datetime:
    """Either near an instant where something changes (±1 minute) or anywhere."""
    if anchors and draw(st.booleans()):
        offset = draw(st.sampled_from([-MINUTE, MINUTE * 0, MINUTE]))
        return draw(st.sampled_from(anchors)) + offset
    return minute_in_window(draw)


def between(draw, start: datetime, end: datetime) -> datetime:
    return start + draw(st.integers(0, max(0, int((end - start) / MINUTE) - 1))) * MINUTE


def valid_from_for(draw, kind: str, birth: date | None, anchors: list[datetime]) -> datetime:
    if kind in PARENTAL:
        if birth is not None and draw(st.booleans()):
            return turns(birth, 0)  # from birth: valid throughout childhood
        return instant(draw, anchors)
    start = draw(st.sampled_from([WINDOW_START, None])) or instant(draw, anchors)
    if birth is not None:
        # curatele, mentorschap, bewind and a mandate are for adults: the model starts them
        # at 16, so that registrations between 16 and 18 exercise the refusal (R15)
        start = max(start, turns(birth, 16))
    return start


def time_for(draw, rep: Rep | None, birth: date | None, anchors: list[datetime]) -> datetime:
    """For a representative, often a moment inside its period; else any instant."""
    if rep is not None and draw(st.booleans()):
        r = rep.representation
        until = r.valid_until or r.valid_from + timedelta(days=3650)
        if r.kind in PARENTAL and birth is not None:
            until = min(until, turns(birth, 16))
        if until > r.valid_from:
            return between(draw, r.valid_from, until)
    return instant(draw, anchors)


@st.composite
def scenarios(draw) -> Scenario:
    birth = draw(
        st.none()
        | st.sampled_from(LEAP_BIRTHS)
        | st.dates(min_value=date(2002, 1, 1), max_value=date(2024, 12, 31))
        | st.dates(min_value=date(1940, 1, 1), max_value=date(1999, 12, 31))
    )
    anchors = [turns(birth, 12), turns(birth, 16)] if birth else []
    purposes = [
        PurposeSpec(
            f"p{i}",
            draw(st.sampled_from(MATTERS)),
            draw(st.booleans()),
            draw(st.booleans()),
        )
        for i in range(draw(st.integers(1, 3)))
    ]
    reps = []
    for i in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(KINDS))
        valid_from = valid_from_for(draw, kind, birth, anchors)
        valid_until = None
        if draw(st.booleans()):
            valid_until = valid_from + draw(st.integers(-1, 6 * 365 * 24 * 60)) * MINUTE
        purposes_named: tuple[str, ...] = ()
        if kind == "authorised_person":
            purposes_named = tuple(
                draw(st.lists(st.sampled_from([p.code for p in purposes]), unique=True))
            )
        competent = tuple(draw(st.lists(st.sampled_from(MATTERS), unique=True, max_size=2)))
        representation = Representation(
            representative_ref=f"rep-{i}",
            kind=kind,
            valid_from=valid_from,
            evidence=EVIDENCE,
            valid_until=valid_until,
            purposes=purposes_named,
            subject_competent_for=competent,
        )
        reps.append(Rep(representation))
        anchors.append(valid_from)
        if valid_until is not None:
            anchors.append(valid_until)
    end_times = [time_for(draw, rep, birth, anchors) for rep in reps]
    anchors += end_times
    by_ref = {rep.representation.representative_ref: rep for rep in reps}
    givers = st.sampled_from([None, "stranger", *by_ref])
    commands: list[tuple] = []
    for _ in range(draw(st.integers(1, 15))):
        what = draw(st.sampled_from(["give", "give", "give", "withdraw", "end"]))
        if what == "end" and reps:
            index = draw(st.integers(0, len(reps) - 1))
            commands.append(("end", reps[index], end_times[index]))
            continue
        what = "withdraw" if what == "withdraw" else "give"
        giver = draw(givers)
        at = time_for(draw, by_ref.get(giver or ""), birth, anchors)
        commands.append((what, draw(st.sampled_from(purposes)), giver, at))
        anchors.append(at)
    ats = [instant(draw, anchors) for _ in range(draw(st.integers(1, 4)))]
    return Scenario(birth, purposes, reps, commands, ats)


# -- the model of the rules ---------------------------------------------------------------
def registration_refusal(rep: Rep, birth: date | None) -> str | None:
    r = rep.representation
    if r.valid_until is not None and r.valid_until <= r.valid_from:
        return "R16"
    if r.kind in PARENTAL:
        if birth is None:
            return "R11"
        if r.valid_from >= turns(birth, 16):
            return "R14"
    adult_kinds = ("curator", "mentor", "administrator")
    if r.kind in adult_kinds and birth is not None and r.valid_from < turns(birth, 18):
        return "R15"  # curatele, mentorschap and bewind are for adults
    if r.kind == "authorised_person" and not r.purposes:
        return "R15"
    return None


def act_refusal(
    purpose: PurposeSpec,
    ref: str | None,
    at: datetime,
    reps: dict[str, Rep],
    birth: date | None,
) -> str | None:
    """The rule that refuses ``ref`` (None: the subject) acting for ``purpose`` at ``at``."""
    if ref is None:
        minor = birth is not None and at < turns(birth, 16)
        care_12_16 = purpose.matter == "care" and birth is not None and at >= turns(birth, 12)
        if minor and not purpose.minor_may_consent and not care_12_16:
            return "R11"
        for rep in reps.values():
            if not rep.valid_at(at, rep.end):
                continue
            competent = rep.representation.subject_competent_for
            if rep.kind == "curator":
                return "R15"
            if rep.kind == "mentor" and purpose.matter == "care" and "care" not in competent:
                return "R15"
            if (
                rep.kind == "administrator"
                and purpose.matter == "property"
                and "property" not in competent
            ):
                return "R15"
        return None
    rep = reps.get(ref)
    if rep is None or not rep.valid_at(at, rep.end):
        return "R16"
    return scope_refusal(purpose, rep, at, birth)


def scope_refusal(purpose: PurposeSpec, rep: Rep, at: datetime, birth: date | None) -> str | None:
    if rep.kind in PARENTAL and not (birth is not None and at < turns(birth, 16)):
        return "R14"
    if rep.kind == "mentor" and purpose.matter != "care":
        return "R15"
    if rep.kind == "administrator" and purpose.matter != "property":
        return "R15"
    if rep.kind == "authorised_person" and purpose.code not in rep.representation.purposes:
        return "R15"
    return None


# -- running a scenario -----------------------------------------------------------------------
def attempt(command, *args, **kwargs) -> str | None:
    """Run a command; answer the rule that refused it, or None when it was recorded."""
    try:
        command(*args, **kwargs)
    except RuleViolated as refusal:
        assert refusal.rule, refusal
        return refusal.rule
    except InvalidInput as refusal:  # a consent is recorded when given, never ahead
        assert refusal.field == "effective_at", refusal
        return "future"
    return None


def run(scenario: Scenario):
    """Apply the scenario; answer the ledger, the accepted consents and, for each end
    attempted, the moment before it with the representations' ends known then."""
    app = Ledger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    birth = scenario.birth
    for purpose in scenario.purposes:
        app.register_purpose(TENANT, purpose.code, purpose.terms(), EPOCH)
    app.put_subject(TENANT, SUBJECT, PersonalData(birth_date=birth))
    registered: dict[str, Rep] = {}
    for rep in scenario.reps:
        expected = registration_refusal(rep, birth)
        got = attempt(app.register_representative, TENANT, SUBJECT, rep.representation)
        assert got == expected, (rep.representation, birth)
        if got is None:
            rep.registered = True
            registered[rep.representation.representative_ref] = rep

    accepted: list[tuple[PurposeSpec, str | None, datetime]] = []
    snapshots: list[tuple[datetime, dict[str, datetime | None]]] = []
    for command in scenario.commands:
        if command[0] == "end":
            _, rep, at = command
            ref = rep.representation.representative_ref
            snapshots.append((moment(), {r: v.end for r, v in registered.items()}))
            end = RepresentationEnd(representative_ref=ref, effective_at=at, reason="court")
            if not rep.registered:
                with pytest.raises(NotFound):
                    app.end_representation(TENANT, SUBJECT, end)
                continue
            expected = "R16" if rep.end is not None or at < rep.representation.valid_from else None
            assert attempt(app.end_representation, TENANT, SUBJECT, end) == expected
            if expected is None:
                rep.end = at
            continue
        what, purpose, ref, at = command
        expected = act_refusal(purpose, ref, at, registered, birth)
        if what == "give":
            if at > moment() + CLOCK_SKEW:
                expected = "future"
            got = attempt(
                app.give_consent,
                TENANT,
                SUBJECT,
                purpose.code,
                method="written",
                explicit=True,
                notice_version="n1",
                evidence=EVIDENCE,
                recorded_by="staff:anna",
                effective_at=at,
                representative_ref=ref,
            )
            assert got == expected, (what, purpose, ref, at, birth)
            giver = registered[ref].kind if ref in registered else ref or "subject"
            event(f"consent by {giver}: {got or 'recorded'}")
            if got is None:
                accepted.append((purpose, ref, at))
        else:
            got = attempt(
                app.withdraw_consent,
                TENANT,
                SUBJECT,
                purpose.code,
                method="email",
                recorded_by="staff:bram",
                effective_at=at,
                representative_ref=ref,
            )
            # the giver is checked first; otherwise only R8 (nothing in force, future) refuses
            assert got == expected or (expected is None and got == "R8"), (what, ref, at, got)
    return app, registered, accepted, snapshots


def counted_consents(app: Ledger, purpose: PurposeSpec, answer) -> list[Consent]:
    stored = app._find(standing_id(TENANT, SUBJECT, purpose.code))
    facts = {str(f.event_id): f.statement for f in stored.facts} if stored else {}
    consents = [facts[event] for event in answer.evidence]
    assert all(isinstance(c, Consent) for c in consents), answer
    return consents


def check_counted(
    consent: Consent,
    purpose: PurposeSpec,
    at: datetime,
    reps: dict[str, Rep],
    ends: dict[str, datetime | None],
    birth: date | None,
) -> None:
    """A consent a lawful or pending standing counts at ``at`` is within the rules at ``at``."""
    assert consent.effective_at <= at
    ref = consent.representative_ref
    if ref is None:
        assert consent.capacity is None
        assert (
            not is_minor(birth, at)
            or purpose.minor_may_consent
            or (purpose.matter == "care" and co_decides_in_care(birth, at))
        ), ("a minor's own consent counted", at, birth)
        return
    rep = reps[ref]
    assert consent.capacity == rep.kind
    if rep.kind == "mentor":
        assert purpose.matter == "care"
    if rep.kind == "administrator":
        assert purpose.matter == "property"
    if rep.kind == "authorised_person":
        assert purpose.code in rep.representation.purposes
    assert rep.valid_at(consent.effective_at, ends.get(ref)), (
        "counted a consent given outside the representation's period (as known now)"
    )
    if not purpose.survives:
        assert rep.valid_at(at, ends.get(ref)), ("counted after the representation ended", at)
        if rep.kind in PARENTAL:
            assert is_minor(birth, at), ("a parent's consent counted from 16", at, birth)


def check_standing(app, scenario, purpose, at, known_at, reps, ends) -> None:
    answer = app.standing(TENANT, SUBJECT, purpose.code, at=at, known_at=known_at)
    if answer.status not in ("lawful", "pending"):
        assert answer.given_by == [] and not answer.lawful
        return
    consents = counted_consents(app, purpose, answer)
    event(f"standing {answer.status} counting {len(consents)} consent(s)")
    givers = [
        Giver("representative", c.representative_ref, c.capacity)
        if c.representative_ref
        else Giver("subject")
        for c in consents
    ]
    assert answer.given_by == givers
    assert givers, answer
    for consent in consents:
        check_counted(consent, purpose, at, reps, ends, scenario.birth)
    if (
        purpose.matter == "care"
        and not purpose.minor_may_consent
        and co_decides_in_care(scenario.birth, at)
    ):
        both = any(g.capacity in PARENTAL for g in givers) and Giver("subject") in givers
        assert answer.lawful == both, answer
        if not both:
            assert answer.missing in (["subject"], ["parental_authority"])
    else:
        assert answer.lawful and answer.missing == []


# -- the properties -------------------------------------------------------------------------
@PROPERTY_SETTINGS
@given(scenarios())
def test_no_command_sequence_lets_anyone_act_outside_their_scope_or_period(scenario):
    app, reps, accepted, _ = run(scenario)

    # every consent recorded is one the model accepted, in the capacity of its giver …
    for purpose in scenario.purposes:
        stored = app._find(standing_id(TENANT, SUBJECT, purpose.code))
        recorded = [
            f.statement
            for f in (stored.facts if stored else [])
            if isinstance(f.statement, Consent)
        ]
        mine = [(ref, at) for p, ref, at in accepted if p == purpose]
        assert [(c.representative_ref, c.effective_at) for c in recorded] == mine
        for consent in recorded:
            ref = consent.representative_ref
            assert consent.capacity == (reps[ref].kind if ref else None)
            # … and respected the rules at the moment it took effect
            assert act_refusal(purpose, ref, consent.effective_at, reps, scenario.birth) in (
                None,
                # an end recorded later may move the period's end before the consent
                *(["R16"] if ref and reps[ref].end is not None else []),
            )


@PROPERTY_SETTINGS
@given(scenarios())
def test_no_standing_counts_a_consent_outside_its_givers_scope_or_period(scenario):
    app, reps, _, snapshots = run(scenario)
    ends = {ref: rep.end for ref, rep in reps.items()}
    for purpose in scenario.purposes:
        for at in scenario.ats:
            check_standing(app, scenario, purpose, at, None, reps, ends)
            # as known before each end was recorded: the ends known then, no later ones
            for known_at, ends_then in snapshots:
                check_standing(app, scenario, purpose, at, known_at, reps, ends_then)


@settings(max_examples=300, deadline=None)
@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2090, 12, 31)), st.integers(0, 20))
@example(date(1916, 5, 1), 0)  # the two days of 1900-2090 without a midnight in Amsterdam
@example(date(1924, 5, 16), 16)
def test_turns_is_midnight_amsterdam_on_the_birthday_or_1_march(born, years):
    turned = turns(born, years)
    local = turned.astimezone(AMSTERDAM)
    try:
        birthday = born.replace(year=born.year + years)
    except ValueError:
        birthday = date(born.year + years, 3, 1)
    # the first instant of the birthday there: midnight, or 01:00 where the clocks were put
    # forward at midnight (1 May 1916)
    assert local.date() == birthday
    assert (turned - timedelta(microseconds=1)).astimezone(AMSTERDAM).date() < birthday
    midnight = datetime(birthday.year, birthday.month, birthday.day, tzinfo=AMSTERDAM)
    if midnight.astimezone(UTC).astimezone(AMSTERDAM).hour == 0:  # midnight existed
        assert (local.hour, local.minute, local.second) == (0, 0, 0)
    assert turned.utcoffset() == timedelta(0)
    assert is_minor(born, turned - timedelta(microseconds=1)) == (years <= 16)
