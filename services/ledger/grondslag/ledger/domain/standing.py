"""The standing aggregate: the whole history of why one subject's data may be processed
for one purpose (one stream per tenant, subject and purpose).

It guards its own rules: each command checks its statement against the standing as it
stood at the statement's effective time (the ``check_…`` functions of the rule modules),
then folds the facts with the new one at every instant they will later be asked about
(``answerable``) before it triggers the event. So no code path can record an event the
rules refuse, and the answer a command returns was computed before its event was stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate

from . import bases, bounds, newsletter, objection, representation, restriction
from . import consent as consent_rules
from .context import Context
from .errors import InvalidInput, RuleViolated
from .facts import Fact, Statement
from .ids import event_id, standing_id
from .minors import AGE_OF_CONSENT, turns
from .purpose_versions import version_in_force
from .recorded_order import InVersionOrder, after_last
from .standing_at import StandingAnswer, answerable, standing_at, unnoticed_lapse
from .topics import recorded_as
from .values import (
    BasisEnd,
    Consent,
    Establishment,
    Evidence,
    Lapse,
    Method,
    Objection,
    ObjectionDecision,
    PurposeTerms,
    Restriction,
    RestrictionLift,
    Withdrawal,
)

Recorded = tuple[UUID, StandingAnswer]
__all__ = ["Fact", "Recorded", "Standing", "Statement"]


@recorded_as("ledger.domain.standing")
class Standing(InVersionOrder, Aggregate):
    """Facts about one (subject, purpose); ``standing_at`` folds them into an answer."""

    @staticmethod
    def create_id(tenant: str, subject_ref: str, purpose: str) -> Any:
        return standing_id(tenant, subject_ref, purpose)

    class Opened(Aggregate.Created):
        """The ledger started keeping the standing of a subject for a purpose."""

        tenant: str
        subject_ref: str
        purpose: str

    class ConsentGiven(Aggregate.Event):
        """Consent was given, by the subject or a representative."""

        consent: Consent

        def apply(self, aggregate: Standing) -> None:
            aggregate._learn(self, self.consent)

    class ConsentWithdrawn(Aggregate.Event):
        """Consent was withdrawn; it took effect when it reached the practice (R8)."""

        withdrawal: Withdrawal

        def apply(self, aggregate: Standing) -> None:
            aggregate._learn(self, self.withdrawal)

    class BasisEstablished(Aggregate.Event):
        """A contract, legal obligation or other non-consent basis took effect."""

        establishment: Establishment

        def apply(self, aggregate: Standing) -> None:
            aggregate._learn(self, self.establishment)

    class BasisEnded(Aggregate.Event):
        """The non-consent basis ended; the purpose's retention term starts (R21)."""

        basis_end: BasisEnd

        def apply(self, aggregate: Standing) -> None:
            aggregate._learn(self, self.basis_end)

    class ObjectionLodged(Aggregate.Event):
        """The subject objected to the processing (art. 21; R17, R18)."""

        objection: Objection

        def apply(self, aggregate: Standing) -> None:
            aggregate._learn(self, self.objection)

    class ObjectionDecided(Aggregate.Event):
        """The controller decided the objection (R18)."""

        decision: ObjectionDecision

        def apply(self, aggregate: Standing) -> None:
            aggregate._learn(self, self.decision)

    class BasisLapsed(Aggregate.Event):
        """The deadline clock noticed that a date ended the standing; published to NATS."""

        lapse: Lapse

        def apply(self, aggregate: Standing) -> None:
            aggregate._learn(self, self.lapse)

    class RetentionExpired(Aggregate.Event):
        """The retention term after the basis ended has run out: delete the data (R21)."""

        lapse: Lapse

        def apply(self, aggregate: Standing) -> None:
            aggregate._learn(self, self.lapse)

    class ProcessingRestricted(Aggregate.Event):
        """Processing was restricted (art. 18): not lawful until lifted (R24)."""

        restriction: Restriction

        def apply(self, aggregate: Standing) -> None:
            aggregate._learn(self, self.restriction)

    class RestrictionLifted(Aggregate.Event):
        """The restriction was lifted; the standing is what its bases make it again (R24)."""

        lift: RestrictionLift

        def apply(self, aggregate: Standing) -> None:
            aggregate._learn(self, self.lift)

    def __init__(self, tenant: str, subject_ref: str, purpose: str):
        self.tenant = tenant
        self.subject_ref = subject_ref
        self.purpose = purpose
        self.facts: list[Fact] = []

    @classmethod
    def open(
        cls, tenant: str, subject_ref: str, purpose: str, at: datetime | None = None
    ) -> Standing:
        return cls._create(
            cls.Opened,
            id=cls.create_id(tenant, subject_ref, purpose),
            tenant=tenant,
            subject_ref=subject_ref,
            purpose=purpose,
            timestamp=at,
        )

    def give_consent(
        self,
        context: Context,
        *,
        method: Method,
        explicit: bool,
        notice_version: str,
        evidence: Evidence,
        recorded_by: str,
        effective_at: datetime | None = None,
        expires_at: datetime | None = None,
        representative_ref: str | None = None,
    ) -> Recorded:
        """R4, R6, R7, R9–R16: a consent given by the subject or a representative."""
        effective_at = effective_at or context.now
        bounds.check_instant("effective_at", effective_at)
        bounds.check_instant("expires_at", expires_at)
        _check_not_ahead(effective_at, context.now)
        version = consent_rules.purpose_version_for(
            self.purpose, context.versions, notice_version, effective_at
        )
        consent_rules.check_purpose_takes_consent(self.purpose, version.terms)
        giver = representation.check_may_act(
            self.purpose, version.terms, context.subject, representative_ref, effective_at
        )
        consent = Consent(
            method=method,
            explicit=explicit,
            notice_version=notice_version,
            purpose_version=version.number,
            evidence=evidence,
            effective_at=effective_at,
            recorded_by=recorded_by,
            representative_ref=representative_ref,
            capacity=giver.capacity,
            expires_at=expires_at,
        )
        consent_rules.check_explicit(version.terms, consent)
        consent_rules.check_expiry(consent)
        return self._record(self.ConsentGiven, context, consent)

    def withdraw_consent(
        self,
        context: Context,
        *,
        method: Method,
        recorded_by: str,
        effective_at: datetime | None = None,
        representative_ref: str | None = None,
    ) -> Recorded:
        """R8: a withdrawal, by any channel, of a consent in force when it took effect."""
        effective_at = effective_at or context.now
        bounds.check_instant("effective_at", effective_at)
        in_force = version_in_force(context.versions, effective_at) or context.versions[-1]
        capacity = None
        if not consent_rules.withdrawn_by_whoever_reads_the_mail(method, representative_ref):
            capacity = representation.check_may_act(
                self.purpose, in_force.terms, context.subject, representative_ref, effective_at
            ).capacity
        withdrawal = Withdrawal(
            method=method,
            effective_at=effective_at,
            recorded_by=recorded_by,
            representative_ref=representative_ref,
            capacity=capacity,
        )
        consent_rules.check_withdrawal_time(withdrawal, context.now)
        if not self._consent_in_force(context, effective_at):
            raise RuleViolated(
                "R8",
                f"there is no consent for {self.purpose!r} in force at "
                f"{effective_at.isoformat()} to withdraw",
                field="effective_at",
            )
        return self._record(self.ConsentWithdrawn, context, withdrawal)

    def unsubscribe(self, context: Context, *, recorded_by: str) -> Recorded | None:
        """R20: one click ends at once what the purpose's terms say it ends
        (``newsletter.unsubscribing_ends``): the consent, by a withdrawal (R8), or the
        processing, by an objection (R17). None when nothing is in force any more for it to
        end (unsubscribed before, or never subscribed): repeating it records nothing."""
        if newsletter.unsubscribing_ends(context.versions[-1].terms) == "consent":
            if not self._consent_in_force(context, context.now):
                return None
            return self.withdraw_consent(
                context, method="unsubscribe_link", recorded_by=recorded_by
            )
        objection_ = Objection(
            grounds=newsletter.UNSUBSCRIBE_GROUNDS,
            effective_at=context.now,
            recorded_by=recorded_by,
        )
        terms, before = self._check_statement(context, objection_)
        if objection.objection_refusal(self.purpose, terms, before) is not None:
            return None
        return self._record(self.ObjectionLodged, context, objection_)

    def establish_basis(self, context: Context, establishment: Establishment) -> Recorded:
        """R1, R17–R19: a contract, legal obligation or other non-consent basis."""
        terms, before = self._check_statement(context, establishment)
        bases.check_establishment(self.purpose, terms, establishment, before)
        return self._record(self.BasisEstablished, context, establishment)

    def end_basis(self, context: Context, basis_end: BasisEnd) -> Recorded:
        """R21: the basis in force ends; its retention term starts."""
        _, before = self._check_statement(context, basis_end)
        bases.check_end(self.purpose, before)
        return self._record(self.BasisEnded, context, basis_end)

    def lodge_objection(self, context: Context, objection_: Objection) -> Recorded:
        """R17, R18: the subject objects to processing on this basis."""
        terms, before = self._check_statement(context, objection_)
        objection.check_objection(self.purpose, terms, before)
        return self._record(self.ObjectionLodged, context, objection_)

    def decide_objection(self, context: Context, decision: ObjectionDecision) -> Recorded:
        """R18: the controller decides a pending objection."""
        terms, before = self._check_statement(context, decision)
        objection.check_decision(terms, before)
        objection.check_not_decided(self.facts, decision)
        return self._record(self.ObjectionDecided, context, decision)

    def restrict(self, context: Context, restriction_: Restriction) -> Recorded:
        """R24 (art. 18): restricted, not lawful, from its effective time until lifted."""
        self._check_statement(context, restriction_)
        restriction.check_restriction(self.purpose, self.facts, restriction_)
        return self._record(self.ProcessingRestricted, context, restriction_)

    def lift_restriction(self, context: Context, lift: RestrictionLift) -> Recorded:
        """R24: lift the restriction in force when the lift takes effect."""
        self._check_statement(context, lift)
        restriction.check_lift(self.purpose, self.facts, lift)
        return self._record(self.RestrictionLifted, context, lift)

    def notice_lapse(self, context: Context) -> UUID | None:
        """Record, once, that time alone has ended this standing by now (expiry, 16th
        birthday, end of a representation or of retention, notice revision); answers its
        event id, or None when there is nothing new to notice."""
        lapse = unnoticed_lapse(self.facts, self._before(context, context.now))
        if lapse is None:
            return None
        kind = self.RetentionExpired if lapse.reason == "retention_expired" else self.BasisLapsed
        return self._record(kind, context, lapse)[0]

    def note_age_of_consent(self, context: Context) -> Recorded | None:
        """R22, before the birth date is erased: record the 16th-birthday lapse (R14) that the
        fold computes from it, unless recorded already, so that it can stand in for the birth
        date afterwards (``SubjectView.age_of_consent_at``). None when there is none."""
        birth = context.subject.birth_date
        if birth is None or (sixteen := turns(birth, AGE_OF_CONSENT)) > context.now:
            return None
        lapse = Lapse(reason="subject_reached_age_of_consent", effective_at=sixteen)
        then = self._before(context, sixteen)
        if (then.status, then.reason, then.until) != ("lapsed", lapse.reason, sixteen):
            return None
        if any(fact.statement == lapse for fact in self.facts):
            return None
        return self._record(self.BasisLapsed, context, lapse)

    def lapse_on_erasure(self, context: Context) -> Recorded | None:
        """R22: the subject's erasure ends the consent in force (reason ``erased``), at once;
        None when no consent is in force to end."""
        before = self._before(context, context.now)
        if before.status not in ("lawful", "pending") or not before.given_by:
            return None  # no consent covers it now (another basis, or nothing in force)
        return self._record(
            self.BasisLapsed, context, Lapse(reason="erased", effective_at=context.now)
        )

    def _check_statement(
        self,
        context: Context,
        statement: Establishment
        | BasisEnd
        | Objection
        | ObjectionDecision
        | Restriction
        | RestrictionLift,
    ) -> tuple[PurposeTerms, StandingAnswer]:
        """Bounds, clock and register at the statement's effective time; answers the
        purpose's terms then and the standing just before the statement."""
        bounds.check_instant("effective_at", statement.effective_at)
        _check_not_ahead(statement.effective_at, context.now)
        in_force = version_in_force(context.versions, statement.effective_at)
        if in_force is None:
            raise RuleViolated(
                "R2", f"purpose {self.purpose!r} was not yet registered then", field="effective_at"
            )
        return in_force.terms, self._before(context, statement.effective_at)

    def _consent_in_force(self, context: Context, at: datetime) -> bool:
        """Whether a consent is in force at ``at`` to be withdrawn (R8)."""
        return self._before(context, at).status in ("lawful", "pending")

    def _before(self, context: Context, at: datetime) -> StandingAnswer:
        """The standing at ``at`` as the other rules judge it: without an art. 18
        restriction (R24), which only holds processing back — a consent under it can still
        be withdrawn, a basis ended, an objection lodged or decided."""
        facts = [f for f in self.facts if not isinstance(f.statement, restriction.RESTRICTIONS)]
        return standing_at(self.purpose, facts, context.versions, at, context.now, context.subject)

    def _record(self, event_class: Any, context: Context, statement: Statement) -> Recorded:
        """Fold the facts with the new one everywhere they will be asked about, then
        trigger the event (recorded at ``context.now``, the instant the answer is for — or
        just after the last fact, if the caller's clock is not past it: ``recorded_order``)."""
        at = after_last(context.now, [fact.recorded_at for fact in self.facts[-1:]])
        if at != context.now:
            context = msgspec.structs.replace(context, now=at)
        fact = Fact(event_id(self.id, self.version + 1), context.now, statement)
        answer = answerable(
            self.purpose, [*self.facts, fact], context.versions, context.now, context.subject
        )
        self.trigger_event(
            event_class, timestamp=context.now, **{_FIELDS[type(statement)]: statement}
        )
        return fact.event_id, answer

    def _learn(self, event: Aggregate.Event, statement: Statement) -> None:
        fact = Fact(
            event_id(event.originator_id, event.originator_version), event.timestamp, statement
        )
        self.facts.append(fact)


_FIELDS: dict[type, str] = {
    Consent: "consent",
    Withdrawal: "withdrawal",
    Establishment: "establishment",
    BasisEnd: "basis_end",
    Objection: "objection",
    ObjectionDecision: "decision",
    Lapse: "lapse",
    Restriction: "restriction",
    RestrictionLift: "lift",
}


def _check_not_ahead(effective_at: datetime, now: datetime) -> None:
    """Statements are recorded when they happen: an effect beyond the clock skew is 422."""
    if effective_at > now + consent_rules.CLOCK_SKEW:
        raise InvalidInput(
            "effective_at lies in the future; record it when it happens", field="effective_at"
        )
