"""``standing_at``: the bitemporal answer — what applied at ``at``, as known at ``known_at``.

A pure fold over the facts recorded at or before ``known_at``. The state at one instant
(``_Timeline.state``) applies the statements that took effect by then, in effective order,
and drops every consent whose cover ended by then: expiry (R9), a material notice revision
(R10), the subject's 16th birthday for a parent's consent (R14), the end of the
representation that gave it (R16). Between 12 and 16 a care purpose needs both the parent
and the minor (R13). The state can only change at a known instant — a statement's effect,
a cover's end, a birthday — so ``since``, ``until`` and ``changes_at`` come from evaluating
those instants. Late records never rewrite history; they add knowledge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import msgspec

from . import notice_revision
from .errors import InvalidInput
from .facts import Fact
from .minors import AGE_OF_CARE_CONSENT, AGE_OF_CONSENT, co_decides_in_care, turns
from .purpose_versions import PurposeVersion, known_versions, version_in_force
from .representation import PARENTAL
from .restriction import RESTRICTIONS, restriction_in_force
from .retention import retention_until
from .subject_view import SubjectView
from .values import (
    Basis,
    BasisEnd,
    Consent,
    Establishment,
    Giver,
    Lapse,
    LapseReason,
    Objection,
    ObjectionDecision,
    PurposeTerms,
    Status,
    Withdrawal,
)


class StandingAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """Lawful or not, on which basis, since and until when, why, and which events prove it."""

    purpose: str
    at: datetime
    known_at: datetime
    lawful: bool
    status: Status
    basis: Basis | None = None
    since: datetime | None = None
    until: datetime | None = None
    reason: LapseReason | None = None
    evidence: list[str] = msgspec.field(default_factory=list)
    given_by: list[Giver] = msgspec.field(default_factory=list)
    missing: list[str] = msgspec.field(default_factory=list)
    retention_until: datetime | None = None
    changes_at: datetime | None = None


@dataclass
class _State:
    status: Status = "none"
    reason: LapseReason | None = None
    ended_at: datetime | None = None
    evidence: list[str] = field(default_factory=list)
    given_by: list[Giver] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    retention_until: datetime | None = None
    cover: str | None = None  # what covers it: "consent" or the non-consent basis

    @property
    def run(self) -> tuple[Status, str | None]:
        """What must stay the same for a period to continue (``since`` starts a new one)."""
        return self.status, self.cover


def standing_at(
    purpose: str,
    facts: list[Fact],
    versions: list[PurposeVersion],
    at: datetime,
    known_at: datetime,
    subject: SubjectView | None = None,
) -> StandingAnswer:
    timeline = _Timeline(
        facts, known_versions(versions, known_at), known_at, subject or SubjectView()
    )
    return _answer(purpose, timeline, at, known_at)


def standing_now(
    purpose: str,
    facts: list[Fact],
    versions: list[PurposeVersion],
    now: datetime,
    subject: SubjectView,
) -> tuple[StandingAnswer, datetime | None]:
    """``standing_at(now, now)``, and the first instant after ``now`` at which the answer for
    "now" may change with the clock alone (None: none is known). Every instant the state may
    change at is one the timeline names, so until then ``standing_at(t, t)`` for a later
    ``t`` says what this answer says, but for ``at`` and ``known_at`` — as long as nothing is
    recorded meanwhile (a later record is a new stream version) and nothing was recorded
    after ``now``."""
    timeline = _Timeline(facts, known_versions(versions, now), now, subject)
    answer = _answer(purpose, timeline, now, now)
    return answer, next((instant for instant in timeline.instants() if instant > now), None)


def answerable(
    purpose: str,
    facts: list[Fact],
    versions: list[PurposeVersion],
    now: datetime,
    subject: SubjectView,
) -> StandingAnswer:
    """The answer for now, having folded the state at every instant at which it may later
    change (each effect, expiry, birthday, end of authority or of retention): so a command
    whose facts could not be answered at one of its deadlines is refused before it is stored,
    instead of failing every later question (and the projector) after it was."""
    timeline = _Timeline(facts, known_versions(versions, now), now, subject)
    try:
        for instant in timeline.instants():
            timeline.state(instant)
        answer = _answer(purpose, timeline, now, now)
    except (ValueError, OverflowError, ArithmeticError) as error:
        raise InvalidInput(
            f"the standing could not be answered at one of its deadlines ({error}); "
            "nothing was recorded"
        ) from error
    return answer


def _answer(purpose: str, timeline: _Timeline, at: datetime, known_at: datetime) -> StandingAnswer:
    now = timeline.state(at)
    terms = timeline.terms_at(at)
    instants = timeline.instants()
    before = [t for t in instants if t <= at]
    after = [t for t in instants if t > at]
    changes_at = next((t for t in after if _differs(timeline.state(t), now)), None)
    since = until = None
    if now.status in ("lawful", "pending", "restricted"):
        since = _run_start(timeline, before, now.status)
        if now.status == "lawful":
            until = next((t for t in after if timeline.state(t).status != "lawful"), None)
    elif now.status == "lapsed":
        until = now.ended_at
        lawful_before = [t for t in before if t < (until or at)]
        since = _last_run_start(timeline, lawful_before, "lawful")
    return StandingAnswer(
        purpose=purpose,
        at=at,
        known_at=known_at,
        lawful=now.status == "lawful",
        status=now.status,
        basis=terms.basis if terms else None,
        since=since,
        until=until,
        reason=now.reason,
        evidence=now.evidence,
        given_by=now.given_by,
        missing=now.missing,
        retention_until=now.retention_until,
        changes_at=changes_at,
    )


TIME_DRIVEN: frozenset[LapseReason] = frozenset(
    {
        "expired",
        "subject_reached_age_of_consent",
        "representative_authority_ended",
        "notice_revised",
        "retention_expired",
    }
)


def unnoticed_lapse(facts: list[Fact], answer: StandingAnswer) -> Lapse | None:
    """The date-driven lapse this answer shows that the log does not record yet, if any
    (what the deadline clock records as ``BasisLapsed`` / ``RetentionExpired``)."""
    if answer.status != "lapsed" or answer.reason not in TIME_DRIVEN:
        return None
    when = answer.retention_until if answer.reason == "retention_expired" else answer.until
    if when is None:
        return None
    lapse = Lapse(reason=answer.reason, effective_at=when)
    return None if any(fact.statement == lapse for fact in facts) else lapse


def _differs(a: _State, b: _State) -> bool:
    return (a.status, a.reason, a.evidence) != (b.status, b.reason, b.evidence)


def _last_run_start(
    timeline: _Timeline, instants: list[datetime], status: Status
) -> datetime | None:
    """The first instant of the last run of ``status`` among ``instants``, wherever it ends
    (a lawful period may be followed by a restriction before it lapsed)."""
    start = last = None
    previous = None
    for instant in instants:
        state = timeline.state(instant)
        if state.status == status:
            start = instant if start is None or state.run != previous else start
            last = start
        else:
            start = None
        previous = state.run
    return last


def _run_start(timeline: _Timeline, instants: list[datetime], status: Status) -> datetime | None:
    """The first instant of the unbroken run of ``status`` (with the same cover) that
    ``instants`` end in."""
    start = None
    previous = None
    for instant in instants:
        state = timeline.state(instant)
        if state.status == status:
            start = instant if start is None or state.run != previous else start
        else:
            start = None
        previous = state.run
    return start


class _Timeline:
    def __init__(
        self,
        facts: list[Fact],
        versions: list[PurposeVersion],
        known_at: datetime,
        subject: SubjectView,
    ):
        self.facts = sorted(
            (f for f in facts if f.recorded_at <= known_at),
            key=lambda f: (f.effective_at, f.recorded_at),
        )
        self.versions = versions
        self.subject = subject
        self._restrictions = [f for f in self.facts if isinstance(f.statement, RESTRICTIONS)]
        self._states: dict[datetime, _State] = {}
        self._instants: list[datetime] | None = None

    def terms_at(self, at: datetime) -> PurposeTerms | None:
        version = version_in_force(self.versions, at) or (
            self.versions[0] if self.versions else None
        )
        return version.terms if version else None

    def instants(self) -> list[datetime]:
        """Every instant at which the state may change."""
        if self._instants is None:
            self._instants = self._moments()
        return self._instants

    def _moments(self) -> list[datetime]:
        moments = {f.effective_at for f in self.facts}
        moments |= {v.effective_at for v in self.versions}
        for fact in self.facts:
            if isinstance(fact.statement, Consent):
                moments |= {when for when, _ in self._ends(fact.statement)}
        birth = self.subject.birth_date
        if birth is not None:
            moments |= {turns(birth, AGE_OF_CARE_CONSENT), turns(birth, AGE_OF_CONSENT)}
        elif self.subject.age_of_consent_at is not None:  # R22: the erased birth date
            moments.add(self.subject.age_of_consent_at)
        established_at = None
        for fact in self.facts:
            statement = fact.statement
            ends: list[datetime] = []
            if isinstance(statement, Establishment):
                established_at = statement.effective_at
                changed = self._basis_changed(fact, datetime.max.replace(tzinfo=UTC))
                ends = [changed] if changed else []
            elif isinstance(statement, BasisEnd):
                ends = [statement.effective_at]
            for end in ends:
                terms = self.terms_at(end)
                retention = terms.retention if terms else None
                until = retention_until(retention, established_at, end)
                if until is not None:
                    moments.add(until)
        return sorted(moments)

    def state(self, at: datetime) -> _State:
        if at not in self._states:
            if not self._states:  # the first question: every instant's state in one walk
                self._sweep([*self.instants(), at])
            else:
                self._states[at] = self._state(at)
        return self._states[at]

    def _sweep(self, points: list[datetime]) -> None:
        """The state at each of ``points``, applying each fact once: O(facts + points),
        where asking each point alone would walk the facts again for every one."""
        walk, facts, applied = _Walk(self), self.facts, 0
        for at in sorted(points):
            while applied < len(facts) and facts[applied].effective_at <= at:
                walk.apply(facts[applied])
                applied += 1
            self._states[at] = self._restricted(walk.state_at(at), at)

    def _state(self, at: datetime) -> _State:
        walk = _Walk(self)
        for fact in self.facts:
            if fact.effective_at > at:
                break
            walk.apply(fact)
        return self._restricted(walk.state_at(at), at)

    def _restricted(self, state: _State, at: datetime) -> _State:
        restricted = restriction_in_force(self._restrictions, at)
        if restricted is None or state.status not in ("lawful", "pending", "restricted"):
            return state  # R24: a lapsed or absent basis has nothing to restrict
        return _State(
            "restricted",
            "restricted",
            None,
            [*state.evidence, str(restricted.event_id)],
            state.given_by,
            cover=state.cover,
        )

    def _basis_changed(self, basis: Fact, at: datetime) -> datetime | None:
        """When a later purpose version, in force by ``at``, rests on another basis than the
        one established (R1: a change of basis applies from its effective date)."""
        assert isinstance(basis.statement, Establishment)
        for version in self.versions:
            if basis.effective_at < version.effective_at <= at and (
                version.terms.basis != basis.statement.basis
            ):
                return version.effective_at
        return None

    def _objected(
        self,
        objection: Fact,
        decision: Fact | None,
        basis: Fact | None,
        terms: PurposeTerms | None,
    ) -> _State:
        ids = [str(f.event_id) for f in (basis, objection, decision) if f is not None]
        if terms is not None and terms.direct_marketing:  # R17: absolute, at once
            return _State("lapsed", "objection", objection.effective_at, ids)
        if decision is None:  # R18: restricted until decided
            return _State("restricted", None, None, ids)
        return _State("lapsed", "objection", decision.effective_at, ids)  # upheld

    def _covered(self, in_force: dict[str, Fact], at: datetime) -> _State:
        terms = self.terms_at(at)
        facts = sorted(in_force.values(), key=lambda f: f.effective_at)
        evidence = [str(f.event_id) for f in facts]
        givers = [_giver(f.statement) for f in facts if isinstance(f.statement, Consent)]
        if (
            terms
            and terms.matter == "care"
            and not terms.minor_may_consent
            and co_decides_in_care(self.subject.birth_date, at)
        ):
            parent = any(g.capacity in PARENTAL for g in givers)
            own = any(g.party == "subject" for g in givers)
            if not (parent and own):  # R13: both the parent and the minor
                missing = ["subject"] if parent else ["parental_authority"]
                return _State("pending", None, None, evidence, givers, missing, cover="consent")
        return _State("lawful", None, None, evidence, givers, cover="consent")

    def _drop_ended(
        self,
        in_force: dict[str, Fact],
        upto: datetime,
        ended: tuple[datetime, LapseReason, list[str]] | None,
    ) -> tuple[datetime, LapseReason, list[str]] | None:
        for key, fact in list(in_force.items()):
            assert isinstance(fact.statement, Consent)
            ends = [(when, reason) for when, reason in self._ends(fact.statement) if when <= upto]
            if ends:
                when, reason = min(ends)
                del in_force[key]
                if ended is None or when >= ended[0]:
                    ended = (when, reason, [str(fact.event_id)])
        return ended

    def _ends(self, consent: Consent) -> list[tuple[datetime, LapseReason]]:
        """When and why this consent stops covering the purpose, as far as known."""
        ends: list[tuple[datetime, LapseReason]] = []
        if consent.expires_at is not None:
            ends.append((consent.expires_at, "expired"))
        revised = notice_revision.cover_ends_at(self.versions, consent.notice_version)
        if revised is not None:
            ends.append((revised, "notice_revised"))
        if consent.representative_ref:
            ends += self._authority_ends(consent)
        return ends

    def _authority_ends(self, consent: Consent) -> list[tuple[datetime, LapseReason]]:
        """R14/R16: a representative's consent lapses when its authority ends — unless the
        purpose survives that end; a consent given when the authority had already ended (as
        learnt later: a backdated end, a corrected birth date) never counted at all."""
        authority: list[tuple[datetime, LapseReason]] = []
        birth = self.subject.birth_date
        sixteen = turns(birth, AGE_OF_CONSENT) if birth else self.subject.age_of_consent_at
        if consent.capacity in PARENTAL and sixteen is not None:
            authority.append((sixteen, "subject_reached_age_of_consent"))
        record = self.subject.representations.get(consent.representative_ref or "")
        if record is not None and record.ends_at is not None:
            authority.append((record.ends_at, "representative_authority_ended"))
        if not authority:
            return []
        end, reason = min(authority)
        if consent.effective_at >= end:
            return [(consent.effective_at, reason)]
        terms = self.terms_at(consent.effective_at)
        return [] if terms and terms.survives_authority_end else [(end, reason)]


class _Walk:
    """The facts applied in effective order, one at a time: what is in force after them —
    the consents (by who gave them), the non-consent basis, an objection and its decision —
    and the last end so far. ``state_at`` reads the state at an instant at or after the last
    fact applied without changing the walk, so one walk answers every later instant."""

    def __init__(self, timeline: _Timeline):
        self.timeline = timeline
        self.in_force: dict[str, Fact] = {}
        self.ended: tuple[datetime, LapseReason, list[str]] | None = None
        self.basis: Fact | None = None  # the non-consent basis in force
        self.established_at: datetime | None = None
        self.objection: Fact | None = None  # lodged and not rejected
        self.decision: Fact | None = None

    def apply(self, fact: Fact) -> None:
        in_force = self.in_force
        self.ended = self.timeline._drop_ended(in_force, fact.effective_at, self.ended)
        statement = fact.statement
        if isinstance(statement, Consent):  # R12: one parent's consent suffices
            in_force[statement.representative_ref or ""] = fact
        elif isinstance(statement, Withdrawal) and in_force:  # R12: either one's ends all
            ids = [str(f.event_id) for f in in_force.values()] + [str(fact.event_id)]
            self.ended = (statement.effective_at, "withdrawn", ids)
            in_force.clear()
        elif isinstance(statement, Lapse) and statement.reason == "erased" and in_force:
            # R22: the erasure ends every consent at its instant (a recorded fact, not
            # a date the fold computes, unlike the clock's other lapses)
            ids = [str(f.event_id) for f in in_force.values()] + [str(fact.event_id)]
            self.ended = (statement.effective_at, "erased", ids)
            in_force.clear()
        elif isinstance(statement, Establishment):
            self.basis, self.established_at = fact, statement.effective_at
        elif isinstance(statement, BasisEnd) and self.basis is not None:
            self.ended = (
                statement.effective_at,
                "basis_ended",
                [str(self.basis.event_id), str(fact.event_id)],
            )
            self.basis = None
        elif isinstance(statement, Objection):
            self.objection, self.decision = fact, None
        elif isinstance(statement, ObjectionDecision) and self.objection and self.decision is None:
            self.decision = fact
            if not statement.upheld:  # R18: compelling grounds; lawful again from now
                self.objection = None

    def state_at(self, at: datetime) -> _State:
        """The state at ``at``, restrictions apart."""
        timeline = self.timeline
        in_force = dict(self.in_force)
        ended = timeline._drop_ended(in_force, at, self.ended)
        basis, objection = self.basis, self.objection
        terms = timeline.terms_at(at)
        if basis is not None and (changed := timeline._basis_changed(basis, at)) is not None:
            # R1: the new version's basis applies from its effective date; the established
            # basis ends there, and with it starts the retention of what it collected (R21)
            ended = (changed, "basis_ended", [str(basis.event_id)])
            basis = None
        if objection is not None and basis is not None:  # an ended basis ends the matter
            return timeline._objected(objection, self.decision, basis, terms)
        if basis is not None:
            assert isinstance(basis.statement, Establishment)
            return _State("lawful", None, None, [str(basis.event_id)], cover=basis.statement.basis)
        if in_force:
            return timeline._covered(in_force, at)
        if ended and ended[1] == "basis_ended":
            ended_terms = timeline.terms_at(ended[0])
            retention = ended_terms.retention if ended_terms else None
            until = retention_until(retention, self.established_at, ended[0])
            if until is not None and until <= at:  # R21
                return _State(
                    "lapsed", "retention_expired", ended[0], ended[2], retention_until=until
                )
            return _State("lapsed", "basis_ended", ended[0], ended[2], retention_until=until)
        if ended:
            return _State("lapsed", ended[1], ended[0], ended[2])
        return _State()


def _giver(consent: Consent) -> Giver:
    if consent.representative_ref:
        return Giver("representative", consent.representative_ref, consent.capacity)
    return Giver("subject")
