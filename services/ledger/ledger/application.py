"""The ledger application: commands on the event store (synchronous, like the library).

Each command loads the aggregates it needs, lets the domain decide, and saves the new
events in one transaction. A concurrent write to the same stream makes the save fail
on its version check; the command is then run again on the fresh state.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar
from uuid import UUID

import msgspec
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError
from eventsourcing.postgres import PostgresApplicationRecorder

from .domain import bases, objection, representation
from .domain import consent as consent_rules
from .domain.errors import ConcurrentChange, InvalidInput, NotFound, RuleViolated
from .domain.ids import purpose_id, standing_id, subject_id
from .domain.purpose import Purpose, version_in_force
from .domain.standing import Standing
from .domain.standing_at import StandingAnswer, standing_at, unnoticed_lapse
from .domain.subject import Subject, SubjectView
from .domain.values import (
    BasisEnd,
    Consent,
    Establishment,
    Evidence,
    Method,
    Objection,
    ObjectionDecision,
    PersonalData,
    PurposeTerms,
    Representation,
    RepresentationEnd,
    Withdrawal,
)
from .persistence.group_commit import GroupCommit
from .persistence.mapper import MsgspecMapper
from .persistence.postgres import select_streams
from .persistence.sealing import InMemoryKeyStore, KeyStore, seal, unseal

P = ParamSpec("P")
R = TypeVar("R")
ATTEMPTS = 5


def retried_on_conflict(command: Callable[P, R]) -> Callable[P, R]:
    """Run the command again when another writer got to the same stream first."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        for _ in range(ATTEMPTS - 1):
            try:
                return command(*args, **kwargs)
            except IntegrityError:
                continue
        try:
            return command(*args, **kwargs)
        except IntegrityError as error:
            raise ConcurrentChange("the same record was changed concurrently; retry") from error

    return run


def utcnow() -> datetime:
    return datetime.now(UTC)


class Ledger(Application[UUID]):
    """Purposes, subjects and standings of every tenant, on one event store."""

    name = "Grondslag"

    def __init__(self, env: dict[str, str] | None = None, keys: KeyStore | None = None):
        super().__init__(env)
        self.keys: KeyStore = keys or InMemoryKeyStore()
        self.group = GroupCommit(self.save)

    def construct_mapper(self) -> MsgspecMapper:  # type: ignore[override]
        return MsgspecMapper()

    # -- the register ---------------------------------------------------------------
    @retried_on_conflict
    def register_purpose(
        self, tenant: str, code: str, terms: PurposeTerms, effective_at: datetime
    ) -> Purpose:
        if self._find(purpose_id(tenant, code)) is not None:
            raise RuleViolated("R2", f"purpose {code!r} is already registered; revise it instead")
        purpose = Purpose.register(tenant, code, terms, effective_at)
        self._commit(purpose)
        return purpose

    @retried_on_conflict
    def revise_purpose(
        self,
        tenant: str,
        code: str,
        changes: dict[str, Any],
        material: bool,
        effective_at: datetime,
    ) -> Purpose:
        purpose = self._find(purpose_id(tenant, code))
        if purpose is None:
            raise NotFound(f"purpose {code!r} is not in the register")
        terms = msgspec.structs.replace(purpose.latest.terms, **changes)
        purpose.revise(terms, material, effective_at)
        self._commit(purpose)
        return purpose

    def purpose(self, tenant: str, code: str) -> Purpose:
        purpose = self._find(purpose_id(tenant, code))
        if purpose is None:
            raise RuleViolated("R2", f"purpose {code!r} is not in the register", field="purpose")
        return purpose

    # -- subjects ---------------------------------------------------------------------
    @retried_on_conflict
    def put_subject(self, tenant: str, subject_ref: str, data: PersonalData) -> bool:
        """Create or update a subject; answers whether it was created."""
        sid = subject_id(tenant, subject_ref)
        subject: Subject | None = self._find(sid)
        key = self.keys.key_for(sid) or self.keys.create_key(sid)
        if subject is None:
            self._commit(Subject.register(tenant, subject_ref, seal(key, sid, data)))
            return True
        if unseal(key, sid, subject.sealed_personal_data) != data:
            subject.record_personal_data(seal(key, sid, data))
            self._commit(subject)
        return False

    def subject(self, tenant: str, subject_ref: str) -> Subject:
        subject = self._find(subject_id(tenant, subject_ref))
        if subject is None:
            raise NotFound(f"subject {subject_ref!r} is not registered; PUT it first")
        return subject

    def personal_data(self, tenant: str, subject_ref: str) -> PersonalData | None:
        subject = self.subject(tenant, subject_ref)
        sid = subject_id(tenant, subject_ref)
        return unseal(self.keys.key_for(sid), sid, subject.sealed_personal_data)

    # -- consent ----------------------------------------------------------------------
    @retried_on_conflict
    def give_consent(
        self,
        tenant: str,
        subject_ref: str,
        purpose: str,
        *,
        method: Method,
        explicit: bool,
        notice_version: str,
        evidence: Evidence,
        recorded_by: str,
        effective_at: datetime | None = None,
        expires_at: datetime | None = None,
        representative_ref: str | None = None,
    ) -> tuple[UUID, StandingAnswer]:
        view, register_entry, standing = self._load_for_standing(tenant, subject_ref, purpose)
        effective_at = effective_at or utcnow()
        version = consent_rules.purpose_version_for(
            purpose, register_entry.versions, notice_version, effective_at
        )
        consent_rules.check_purpose_takes_consent(purpose, version.terms)
        giver = representation.check_may_act(
            purpose, version.terms, view, representative_ref, effective_at
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
        standing = standing or Standing.open(tenant, subject_ref, purpose)
        event = standing.give_consent(consent)
        self._commit(standing)
        return event, self._answer(standing, register_entry, view)

    @retried_on_conflict
    def withdraw_consent(
        self,
        tenant: str,
        subject_ref: str,
        purpose: str,
        *,
        method: Method,
        recorded_by: str,
        effective_at: datetime | None = None,
        representative_ref: str | None = None,
    ) -> tuple[UUID, StandingAnswer]:
        view, register_entry, standing = self._load_for_standing(tenant, subject_ref, purpose)
        now = utcnow()
        effective_at = effective_at or now
        in_force = version_in_force(register_entry.versions, effective_at) or register_entry.latest
        if consent_rules.withdrawn_by_whoever_reads_the_mail(method, representative_ref):
            giver_capacity = None
        else:
            giver_capacity = representation.check_may_act(
                purpose, in_force.terms, view, representative_ref, effective_at
            ).capacity
        withdrawal = Withdrawal(
            method=method,
            effective_at=effective_at,
            recorded_by=recorded_by,
            representative_ref=representative_ref,
            capacity=giver_capacity,
        )
        consent_rules.check_withdrawal_time(withdrawal, now)
        before = standing and standing_at(
            purpose, standing.facts, register_entry.versions, effective_at, now, view
        )
        if not before or before.status not in ("lawful", "pending"):
            raise RuleViolated(
                "R8",
                f"there is no consent for {purpose!r} in force at {effective_at.isoformat()} "
                "to withdraw",
                field="effective_at",
            )
        assert standing is not None
        event = standing.withdraw_consent(withdrawal)
        self._commit(standing)
        return event, self._answer(standing, register_entry, view)

    # -- other bases and objections ------------------------------------------------------
    @retried_on_conflict
    def establish_basis(
        self, tenant: str, subject_ref: str, purpose: str, establishment: Establishment
    ) -> tuple[UUID, StandingAnswer]:
        def check(terms: PurposeTerms, before: StandingAnswer) -> None:
            bases.check_establishment(purpose, terms, establishment, before)

        return self._record_statement(
            tenant,
            subject_ref,
            purpose,
            establishment,
            check,
            lambda standing: standing.establish_basis(establishment),
        )

    @retried_on_conflict
    def end_basis(
        self, tenant: str, subject_ref: str, purpose: str, basis_end: BasisEnd
    ) -> tuple[UUID, StandingAnswer]:
        return self._record_statement(
            tenant,
            subject_ref,
            purpose,
            basis_end,
            lambda _, before: bases.check_end(purpose, before),
            lambda standing: standing.end_basis(basis_end),
        )

    @retried_on_conflict
    def lodge_objection(
        self, tenant: str, subject_ref: str, purpose: str, objection_: Objection
    ) -> tuple[UUID, StandingAnswer]:
        return self._record_statement(
            tenant,
            subject_ref,
            purpose,
            objection_,
            lambda terms, before: objection.check_objection(purpose, terms, before),
            lambda standing: standing.lodge_objection(objection_),
        )

    @retried_on_conflict
    def decide_objection(
        self, tenant: str, subject_ref: str, purpose: str, decision: ObjectionDecision
    ) -> tuple[UUID, StandingAnswer]:
        return self._record_statement(
            tenant,
            subject_ref,
            purpose,
            decision,
            objection.check_decision,
            lambda standing: standing.decide_objection(decision),
        )

    def _record_statement(
        self,
        tenant: str,
        subject_ref: str,
        purpose: str,
        statement: Any,
        check: Callable[[PurposeTerms, StandingAnswer], None],
        record: Callable[[Standing], UUID],
    ) -> tuple[UUID, StandingAnswer]:
        """Check a statement against the standing at its effective time, then record it."""
        view, register_entry, standing = self._load_for_standing(tenant, subject_ref, purpose)
        now = utcnow()
        if statement.effective_at > now + consent_rules.CLOCK_SKEW:
            raise InvalidInput(
                "effective_at lies in the future; record it when it happens", field="effective_at"
            )
        in_force = version_in_force(register_entry.versions, statement.effective_at)
        if in_force is None:
            raise RuleViolated(
                "R2", f"purpose {purpose!r} was not yet registered then", field="effective_at"
            )
        facts = standing.facts if standing else []
        before = standing_at(
            purpose, facts, register_entry.versions, statement.effective_at, now, view
        )
        check(in_force.terms, before)
        standing = standing or Standing.open(tenant, subject_ref, purpose)
        event = record(standing)
        self._commit(standing)
        return event, self._answer(standing, register_entry, view)

    # -- the deadline clock ---------------------------------------------------------------
    @retried_on_conflict
    def notice_lapse(self, tenant: str, subject_ref: str, purpose: str) -> UUID | None:
        """Record, once, that time alone has ended this standing by now (expiry, 16th
        birthday, end of a representation or of retention, notice revision)."""
        view, register_entry, standing = self._load_for_standing(tenant, subject_ref, purpose)
        if standing is None:
            return None
        lapse = unnoticed_lapse(standing.facts, self._answer(standing, register_entry, view))
        if lapse is None:
            return None
        event = standing.notice_lapse(lapse)
        if event is not None:
            self._commit(standing)
        return event

    # -- representation -----------------------------------------------------------------
    @retried_on_conflict
    def register_representative(
        self, tenant: str, subject_ref: str, registration: Representation
    ) -> UUID:
        subject = self.subject(tenant, subject_ref)
        event = subject.register_representative(registration, self._view(subject).birth_date)
        self._commit(subject)
        return event

    @retried_on_conflict
    def end_representation(self, tenant: str, subject_ref: str, end: RepresentationEnd) -> UUID:
        subject = self.subject(tenant, subject_ref)
        event = subject.end_representation(end)
        self._commit(subject)
        return event

    # -- queries (the HTTP read side uses asyncpg; these serve tests and commands) -----
    def standing(
        self,
        tenant: str,
        subject_ref: str,
        purpose: str,
        at: datetime | None = None,
        known_at: datetime | None = None,
    ) -> StandingAnswer:
        subject = self.subject(tenant, subject_ref)
        register_entry = self.purpose(tenant, purpose)
        now = utcnow()
        known_at = known_at or now
        standing = self._find(standing_id(tenant, subject_ref, purpose))
        facts = standing.facts if standing else []
        return standing_at(
            purpose,
            facts,
            register_entry.versions,
            at or now,
            known_at,
            self._view(subject, known_at),
        )

    def _view(
        self, subject: Subject, known_at: datetime | None = None, key: bytes | None = None
    ) -> SubjectView:
        """What the rules may know of the subject: its birth date, unsealed, and who
        represents it — as known at ``known_at`` (default: now)."""
        known_at = known_at or utcnow()
        sealed = subject.sealed_as_of(known_at)
        key = key or self.keys.key_for(subject.id)
        personal = unseal(key, subject.id, sealed) if sealed else None
        return subject.view(personal.birth_date if personal else None, known_at)

    def _answer(
        self, standing: Standing, register_entry: Purpose, view: SubjectView
    ) -> StandingAnswer:
        now = utcnow()
        return standing_at(
            standing.purpose, standing.facts, register_entry.versions, now, now, view
        )

    def _load_for_standing(
        self, tenant: str, subject_ref: str, purpose: str
    ) -> tuple[SubjectView, Purpose, Standing | None]:
        """What the rules may know of the subject now, the purpose and the standing — in one
        round trip on PostgreSQL."""
        sid = subject_id(tenant, subject_ref)
        ids = (sid, purpose_id(tenant, purpose), standing_id(tenant, subject_ref, purpose))
        if isinstance(self.recorder, PostgresApplicationRecorder):
            stored, key = select_streams(self.recorder, ids, key_of=sid)
            found: dict[UUID, Any] = {}
            for event in map(self.mapper.to_domain_event, stored):
                found[event.originator_id] = event.mutate(found.get(event.originator_id))
            subject, register_entry, standing = (found.get(i) for i in ids)
        else:
            subject, register_entry, standing = (self._find(i) for i in ids)
            key = self.keys.key_for(sid)
        if subject is None:
            raise NotFound(f"subject {subject_ref!r} is not registered; PUT it first")
        if register_entry is None:
            raise RuleViolated("R2", f"purpose {purpose!r} is not in the register", field="purpose")
        return self._view(subject, key=key), register_entry, standing

    def _commit(self, aggregate: Any) -> None:
        """Store the aggregate's new events, sharing a transaction with concurrent commands."""
        self.group.commit(list(aggregate.collect_events()))

    def _find(self, aggregate_id: UUID) -> Any:
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
