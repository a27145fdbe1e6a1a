"""The ledger application: commands on the event store (synchronous, like the library).

Each command loads the dossier it needs (one round trip), lets the aggregate decide — it
checks the rules and folds its answer before it records anything — and saves the new
events in one transaction. A concurrent write to the same stream makes the save fail
on its version check; the command is then run again on the fresh state, after a short
random wait (``retried_on_conflict``).
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ParamSpec, TypeVar, get_type_hints
from uuid import UUID, uuid4

import msgspec
import psycopg
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, OperationalError
from eventsourcing.postgres import PostgresApplicationRecorder

from .domain import bounds, erasure
from .domain.consent import CLOCK_SKEW
from .domain.context import Context
from .domain.controller import Controller, ControllerIdentity, IdentityVersion
from .domain.dossier import Dossier
from .domain.erasure import ErasureOutcome, LapsedStanding
from .domain.errors import ConcurrentChange, DomainError, InvalidInput, NotFound, RuleViolated
from .domain.ids import controller_id, purpose_id, subject_id
from .domain.minors import AMSTERDAM
from .domain.preconditions import check_precondition, entity_tag, standing_tag
from .domain.purpose import Purpose
from .domain.purpose_versions import version_in_force
from .domain.recorded_order import after_last
from .domain.request_answer import request_answer
from .domain.request_values import Answer, Confirmation, Extension, RequestAnswer, RequestIntake
from .domain.standing import Recorded, Standing
from .domain.standing_at import StandingAnswer
from .domain.subject import Subject
from .domain.subject_request import SubjectRequest, request_stream_id
from .domain.values import (
    BasisEnd,
    Erasure,
    Establishment,
    LegalClaim,
    LegalClaimEnd,
    Objection,
    ObjectionDecision,
    PersonalData,
    PurposeTerms,
    Representation,
    RepresentationEnd,
    Restriction,
    RestrictionLift,
)
from .persistence import actors, traces
from .persistence.dossiers import Streams, dossier_ids, load_sync
from .persistence.erasure import Shredding
from .persistence.group_commit import GroupCommit
from .persistence.idempotency import CLAIM, Claim, committed, encode_result
from .persistence.mapper import MsgspecMapper
from .persistence.postgres import STREAMS_TABLE
from .persistence.register_index import purpose_codes
from .persistence.sealing import InMemoryKeyStore, KeyStore, new_key, seal, unseal

P = ParamSpec("P")
R = TypeVar("R")
ATTEMPTS = 8
BACK_OFF_SECONDS = 0.005  # before attempt n+1: a random wait of up to 5 ms × 2ⁿ
RequestRecorded = tuple[UUID, RequestAnswer]
PURPOSE_REGISTERED = "ledger.domain.purpose:Purpose.Registered"


def retried_on_conflict(command: Callable[P, R]) -> Callable[P, R]:
    """Run the command again when another writer got to the same stream first — and,
    under an ``Idempotency-Key``, answer the result committed under the key instead of
    recording anything twice (see ``persistence.idempotency``)."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        ledger = args[0]
        assert isinstance(ledger, Ledger)
        claim = CLAIM.get()
        if claim is not None and claim.replay is not None:
            return ledger._replayed(command, claim)
        for attempt in range(ATTEMPTS):
            try:
                return command(*args, **kwargs)
            except DomainError:
                # a copy under the same key that committed meanwhile makes this one's rules
                # refuse it (R24: restricted already; R18: decided already): the committed
                # result is the answer, not the refusal
                if claim is not None and not claim.spent and ledger._committed_before(claim):
                    return ledger._replayed(command, claim)
                raise
            except (IntegrityError, OperationalError) as error:
                # a key committed meanwhile (a concurrent retry was first) fails the append
                # on its primary key — reported as a conflict or, in the driver's pipeline
                # mode, as an aborted pipeline: what committed decides
                if claim is not None and ledger._committed_before(claim):
                    return ledger._replayed(command, claim)
                # a conflict on a stream's version may also surface as the aborted pipeline
                # of the statement after it (the R22 check): nothing committed, so run again
                # — but not for ever, as if it were a conflict: what aborted it may persist
                aborted = isinstance(error.__cause__, psycopg.errors.PipelineAborted)
                if not isinstance(error, IntegrityError) and (
                    not aborted or attempt == ATTEMPTS - 1
                ):
                    raise
                if attempt == ATTEMPTS - 1:
                    raise ConcurrentChange(
                        "the same record was changed concurrently; retry"
                    ) from error
                # writers that lost together would meet again at once: each waits a random
                # part of a doubling span ("full jitter"), so that they come back apart
                time.sleep(random.uniform(0, BACK_OFF_SECONDS * 2**attempt))
        raise AssertionError("unreachable")

    return run


def utcnow() -> datetime:
    return datetime.now(UTC)


class IdentityPut(msgspec.Struct, frozen=True):
    """What ``PUT /v1/tenant`` did: opened the controller's stream, recorded an identity."""

    created: bool
    recorded: bool


class Ledger(Application[UUID]):
    """Purposes, subjects and standings of every tenant, on one event store."""

    name = "Grondslag"

    def __init__(self, env: dict[str, str] | None = None, keys: KeyStore | None = None):
        super().__init__(env)
        self.keys: KeyStore = keys or InMemoryKeyStore()
        self.group = GroupCommit(self._save_traced)

    def construct_mapper(self) -> MsgspecMapper:
        return MsgspecMapper()

    def _save_traced(self, *events: Any, **kwargs: Any) -> Any:
        """``save``, with the trace context of the requests that recorded the events."""
        return self.save(*events, traces=traces.rows(events), **kwargs)

    # -- the register ---------------------------------------------------------------
    @retried_on_conflict
    def register_purpose(
        self, tenant: str, code: str, terms: PurposeTerms, effective_at: datetime
    ) -> Purpose:
        if self._find(purpose_id(tenant, code)) is not None:
            raise RuleViolated("R2", f"purpose {code!r} is already registered; revise it instead")
        purpose = Purpose.register(tenant, code, terms, effective_at)
        self._commit(purpose, purpose)
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
        check_precondition(entity_tag(purpose.version))
        terms = msgspec.structs.replace(purpose.latest.terms, **changes)
        purpose.revise(terms, material, effective_at)
        self._commit(purpose, purpose)
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
        check_precondition(entity_tag(subject.version) if subject else None)
        if subject is not None:
            subject.check_not_erased()  # R22
        key = self.keys.key_for(sid) or self.keys.create_key(sid)
        today = utcnow().astimezone(AMSTERDAM).date()
        sealer = functools.partial(seal, key, sid)
        if subject is None:
            self._commit(Subject.admit(tenant, subject_ref, data, sealer, today), True)
            return True
        if unseal(key, sid, subject.sealed_personal_data) != data:
            subject.correct(data, sealer, today)
            self._commit(subject, False)
        return False

    def subject(self, tenant: str, subject_ref: str) -> Subject:
        subject = self._find(subject_id(tenant, subject_ref))
        if subject is None:
            raise NotFound(f"subject {subject_ref!r} is not registered; PUT it first")
        return subject

    def personal_data(self, tenant: str, subject_ref: str) -> PersonalData | None:
        subject = self.subject(tenant, subject_ref)
        sid = subject_id(tenant, subject_ref)
        shredded = bool(subject.erasures)  # R22
        return unseal(self.keys.key_for(sid), sid, subject.sealed_personal_data, shredded=shredded)

    # -- commands on a standing: load the dossier, let the aggregate decide, save ------
    @retried_on_conflict
    def give_consent(self, tenant: str, subject_ref: str, purpose: str, **fields: Any) -> Recorded:
        """R4, R6–R16 (see ``Standing.give_consent`` for the fields)."""
        return self._on_standing(
            tenant, subject_ref, purpose, lambda s, c: s.give_consent(c, **fields)
        )

    @retried_on_conflict
    def withdraw_consent(
        self, tenant: str, subject_ref: str, purpose: str, **fields: Any
    ) -> Recorded:
        """R8 (see ``Standing.withdraw_consent`` for the fields)."""
        return self._on_standing(
            tenant, subject_ref, purpose, lambda s, c: s.withdraw_consent(c, **fields)
        )

    @retried_on_conflict
    def unsubscribe(
        self, tenant: str, subject_ref: str, purpose: str, recorded_by: str
    ) -> Recorded | None:
        """R20: one click (see ``Standing.unsubscribe``); None when it had nothing to end."""
        return self._on_standing(
            tenant, subject_ref, purpose, lambda s, c: s.unsubscribe(c, recorded_by=recorded_by)
        )

    @retried_on_conflict
    def establish_basis(
        self, tenant: str, subject_ref: str, purpose: str, establishment: Establishment
    ) -> Recorded:
        return self._on_standing(
            tenant, subject_ref, purpose, lambda s, c: s.establish_basis(c, establishment)
        )

    @retried_on_conflict
    def end_basis(
        self, tenant: str, subject_ref: str, purpose: str, basis_end: BasisEnd
    ) -> Recorded:
        return self._on_standing(
            tenant, subject_ref, purpose, lambda s, c: s.end_basis(c, basis_end)
        )

    @retried_on_conflict
    def lodge_objection(
        self, tenant: str, subject_ref: str, purpose: str, objection: Objection
    ) -> Recorded:
        return self._on_standing(
            tenant, subject_ref, purpose, lambda s, c: s.lodge_objection(c, objection)
        )

    @retried_on_conflict
    def decide_objection(
        self, tenant: str, subject_ref: str, purpose: str, decision: ObjectionDecision
    ) -> Recorded:
        return self._on_standing(
            tenant, subject_ref, purpose, lambda s, c: s.decide_objection(c, decision)
        )

    @retried_on_conflict
    def notice_lapse(self, tenant: str, subject_ref: str, purpose: str) -> UUID | None:
        """The deadline clock: record, once, a lapse that time alone brought about."""
        dossier = self.dossier(tenant, subject_ref, purpose)
        if dossier.standing_stream is None or dossier.register is None:
            return None
        standing = dossier.standing_stream
        event = standing.notice_lapse(dossier.context(dossier.now(utcnow())))
        if event is not None:
            self._commit(standing)
        return event

    def _on_standing(
        self,
        tenant: str,
        subject_ref: str,
        purpose: str,
        command: Callable[[Standing, Context], R],
    ) -> R:
        """Run ``command`` on the standing and commit what it recorded (nothing, when it
        answers None)."""
        dossier = self._known_dossier(tenant, subject_ref, purpose)
        check_precondition(standing_tag(dossier))
        assert dossier.subject is not None
        dossier.subject.check_not_erased()  # R22
        now = dossier.now(utcnow())
        standing = dossier.standing_for_commands(now)
        recorded = command(standing, dossier.context(now))
        if recorded is not None:
            self._commit(standing, recorded)
        return recorded

    # -- representation -----------------------------------------------------------------
    @retried_on_conflict
    def register_representative(
        self, tenant: str, subject_ref: str, registration: Representation
    ) -> UUID:
        dossier = self.dossier(tenant, subject_ref, "")
        if dossier.subject is None:
            raise NotFound(f"subject {subject_ref!r} is not registered; PUT it first")
        subject = dossier.subject
        subject.check_not_erased()  # R22
        event = subject.register_representative(registration, dossier.view(utcnow()).birth_date)
        self._commit(subject, event)
        return event

    @retried_on_conflict
    def end_representation(self, tenant: str, subject_ref: str, end: RepresentationEnd) -> UUID:
        subject = self.subject(tenant, subject_ref)
        subject.check_not_erased()  # R22
        event = subject.end_representation(end)
        self._commit(subject, event)
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
        dossier = self._known_dossier(tenant, subject_ref, purpose)
        present = dossier.present(utcnow())  # as the API's read: ``Dossier.present``
        return dossier.standing(at or present, known_at or present)

    def _known_dossier(self, tenant: str, subject_ref: str, purpose: str) -> Dossier:
        """The dossier of a registered subject for a registered purpose (R2), or a refusal."""
        dossier = self.dossier(tenant, subject_ref, purpose)
        if dossier.subject is None:
            raise NotFound(f"subject {subject_ref!r} is not registered; PUT it first")
        if dossier.register is None:
            raise RuleViolated("R2", f"purpose {purpose!r} is not in the register", field="purpose")
        return dossier

    def dossier(self, tenant: str, subject_ref: str, purpose: str) -> Dossier:
        """The subject, the purpose and the standing — in one round trip on PostgreSQL."""
        ids = dossier_ids(tenant, subject_ref, [purpose] if purpose else [])
        if isinstance(self.recorder, PostgresApplicationRecorder):
            streams = load_sync(self.recorder, ids)
        else:
            found = {i: aggregate for i in ids if (aggregate := self._find(i)) is not None}
            keys = {i: key for i in ids if (key := self.keys.key_for(i)) is not None}
            streams = Streams(found, keys)
        return streams.dossier(tenant, subject_ref, purpose)

    def _commit(self, aggregate: Any, result: Any = None) -> None:
        """Store the aggregate's new events, sharing a transaction with concurrent commands;
        under an ``Idempotency-Key``, the command's ``result`` commits with them."""
        claim = CLAIM.get()
        if claim is not None and claim.spent:
            claim = None  # its result is committed already
        record = None
        if claim is not None:
            about = claim.subject_ref or getattr(aggregate, "subject_ref", None)
            record = (claim.tenant, claim.key, claim.request_hash, encode_result(result), about)
        events = list(aggregate.collect_events())
        actors.stamp(events)  # here, in the command's thread: another may write the group
        traces.stamp(events)
        self.group.commit(events, record)
        if claim is not None:
            claim.spent = True

    def _committed_before(self, claim: Claim) -> bool:
        """Whether a result is committed under the claim's key (then it is the answer);
        refuses a key committed for another request."""
        if not isinstance(self.recorder, PostgresApplicationRecorder):
            return False
        found = committed(self.recorder, claim)
        if found is None:
            return False
        if found[0] != claim.request_hash:
            raise InvalidInput(
                "this Idempotency-Key was used for a different request", field="Idempotency-Key"
            )
        claim.replay = found[1]
        return True

    def _replayed(self, command: Callable[..., Any], claim: Claim) -> Any:
        """The committed result of ``command`` again, as it first answered."""
        assert claim.replay is not None
        claim.replayed = True
        kind = get_type_hints(command)["return"]
        if isinstance(kind, type) and issubclass(kind, Aggregate):
            where = msgspec.json.decode(claim.replay)
            return self.repository.get(UUID(where["aggregate"]), version=where["version"])
        return msgspec.json.decode(claim.replay, type=kind)

    def _find(self, aggregate_id: UUID) -> Any:
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    # -- data-subject requests (R23) ---------------------------------------------------
    @retried_on_conflict
    def receive_request(
        self,
        tenant: str,
        subject_ref: str,
        intake: RequestIntake,
        promised_term: str | None = None,
    ) -> RequestAnswer:
        """Record a request with its due date (and ``promised_by`` when the practice
        promised a shorter ``promised_term``, e.g. ``P4W``); the ledger names it (a UUID)."""
        dossier = self.dossier(tenant, subject_ref, "")
        if dossier.subject is None:
            raise NotFound(f"subject {subject_ref!r} is not registered; PUT it first")
        now = utcnow()
        request = SubjectRequest.receive(
            tenant,
            subject_ref,
            str(uuid4()),
            intake,
            dossier.view(now),
            self._register_versions(tenant),
            now,
            promised_term,
        )
        answer = request_answer(request, now)
        restricted = []
        # R22: an erased subject's standings are a pseudonymous history: nothing to restrict
        if intake.kind == "restriction" and not dossier.subject.erased_completely:
            restricted = self._restricted_on_request(request, now)
        self._commit(_Together([request, *restricted]), answer)
        return answer

    def _restricted_on_request(self, request: SubjectRequest, now: datetime) -> list[Standing]:
        """R24: a restriction request ("afschermen") restricts every purpose it covers from
        when it reached the practice (or the purpose's registration, if later), in the
        transaction that records it; a purpose with no
        standing has nothing to restrict, one restricted already stays as it is."""
        standings = []
        for purpose in request.purposes:
            dossier = self.dossier(request.tenant, request.subject_ref, purpose)
            standing = dossier.standing_stream
            if standing is None or dossier.register is None:
                continue
            registered = dossier.versions[0].effective_at  # the purpose's register start
            restriction = Restriction(
                reasons=f"restriction request {request.request_id}",
                effective_at=max(request.received_at, registered),
                recorded_by=request.recorded_by,
                request_id=request.request_id,
            )
            try:
                standing.restrict(dossier.context(dossier.now(now)), restriction)
            except RuleViolated as refused:
                if refused.rule != "R24":
                    raise
                continue
            standings.append(standing)
        return standings

    @retried_on_conflict
    def extend_request(self, tenant: str, request_id: str, extension: Extension) -> RequestRecorded:
        return self._on_request(tenant, request_id, lambda r, now: r.extend(extension, now))

    @retried_on_conflict
    def answer_request(self, tenant: str, request_id: str, answer: Answer) -> RequestRecorded:
        return self._on_request(tenant, request_id, lambda r, now: r.answer_with(answer, now))

    @retried_on_conflict
    def confirm_request(
        self, tenant: str, request_id: str, confirmation: Confirmation
    ) -> RequestRecorded:
        return self._on_request(tenant, request_id, lambda r, now: r.confirm(confirmation, now))

    @retried_on_conflict
    def notice_request_deadline(self, tenant: str, request_id: str, lead: timedelta) -> UUID | None:
        """The deadline clock: record, once, that a request's due date is near or passed."""
        request = self.subject_request(tenant, request_id)
        event = request.notice_deadline(utcnow(), lead)
        if event is not None:
            self._commit(request)
        return event

    def subject_request(self, tenant: str, request_id: str) -> SubjectRequest:
        request = self._find(request_stream_id(tenant, request_id))
        if request is None:
            raise NotFound(f"request {request_id!r} is not recorded")
        return request

    def _on_request(
        self,
        tenant: str,
        request_id: str,
        command: Callable[[SubjectRequest, datetime], UUID],
    ) -> RequestRecorded:
        request = self.subject_request(tenant, request_id)
        now = after_last(utcnow(), [request.modified_on])
        event = command(request, now)
        recorded = (event, request_answer(request, now))
        self._commit(request, recorded)
        return recorded

    def _register_versions(self, tenant: str) -> dict[str, list[Any]]:
        """Every registered purpose of the tenant, with its versions."""
        if isinstance(self.recorder, PostgresApplicationRecorder):
            codes = purpose_codes(self.recorder, tenant)
            streams = load_sync(self.recorder, [purpose_id(tenant, code) for code in codes])
            found = {code: streams.get(purpose_id(tenant, code)) for code in codes}
        else:  # the in-memory store of unit tests: look through the log
            registered = [
                self._find(UUID(str(n.originator_id)))
                for n in self.recorder.select_notifications(start=None, limit=1_000_000)
                if n.topic == PURPOSE_REGISTERED
            ]
            found = {p.code: p for p in registered if p.tenant == tenant}
        return {code: purpose.versions for code, purpose in found.items() if purpose}

    # -- erasure (R22) -------------------------------------------------------------------
    @retried_on_conflict
    def record_legal_claim(self, tenant: str, subject_ref: str, claim: LegalClaim) -> UUID:
        """R22: a legal claim holds the purpose's data from erasure while it runs."""
        subject = self.subject(tenant, subject_ref)
        self.purpose(tenant, claim.purpose)  # R2
        _check_not_ahead(claim.effective_at)
        event = subject.record_legal_claim(claim)
        self._commit(subject, event)
        return event

    @retried_on_conflict
    def end_legal_claim(self, tenant: str, subject_ref: str, end: LegalClaimEnd) -> UUID:
        subject = self.subject(tenant, subject_ref)
        _check_not_ahead(end.effective_at)
        event = subject.end_legal_claim(end)
        self._commit(subject, event)
        return event

    @retried_on_conflict
    def erase(self, tenant: str, subject_ref: str, request: ErasureRequest) -> ErasureOutcome:
        """R22: destroy the subject's personal-data key (crypto-shredding) and end every
        consent (``erased``), unless holds keep some purposes: then what they need is sealed
        anew under a fresh key and the answer lists each hold. A repeat records nothing."""
        clock = utcnow()
        if request.request_id is not None:
            self._check_erasure_request(tenant, subject_ref, request.request_id)
        sid = subject_id(tenant, subject_ref)
        purposes = self._standing_purposes(tenant, subject_ref)
        streams = self._streams(dossier_ids(tenant, subject_ref, purposes))
        subject: Subject | None = streams.get(sid)
        if subject is None:
            raise NotFound(f"subject {subject_ref!r} is not registered; PUT it first")
        dossiers = [streams.dossier(tenant, subject_ref, code) for code in purposes]
        now = max([clock, *(d.now(clock) for d in dossiers)])  # ``recorded_order``
        noticed, lapses = _erasure_lapses(dossiers, now)
        if subject.erased_completely:  # nothing can start after it (``refuse_erased_meanwhile``)
            return _outcome(subject, already=True)
        files = [self._purpose_file(d, now) for d in dossiers if d.register is not None]
        decision = erasure.decide(files, subject.legal_claims, request.joint_with, now)
        last = subject.erasures[-1] if subject.erasures else None
        unchanged = last is not None and (last.erased, last.held) == (
            decision.erased,
            decision.held,
        )
        if unchanged and not lapses and not noticed:
            return _outcome(subject, already=True)
        personal = streams.dossier(tenant, subject_ref, "").personal_data()
        fresh, sealed = None, None
        if decision.kept and personal is not None:
            kept = PersonalData(
                birth_date=personal.birth_date if "birth_date" in decision.kept else None,
                email=personal.email if "email" in decision.kept else None,
            )
            fresh = new_key()
            sealed = seal(fresh, sid, kept)
        record = Erasure(
            effective_at=now,
            recorded_by=request.recorded_by,
            complete=decision.complete,
            erased=decision.erased,
            held=decision.held,
            kept=decision.kept if sealed is not None else (),
            request_id=request.request_id,
            joint_with=tuple(request.joint_with),
            reasons=request.reasons,
        )
        subject.erase(record, sealed, now)
        outcome = _outcome(subject, lapsed=[lapsed for _, lapsed in lapses])
        events = list(subject.collect_events())
        for standing in {id(s): s for s in [*noticed, *(s for s, _ in lapses)]}.values():
            events += standing.collect_events()
        shredding = Shredding(
            tenant,
            subject_ref,
            sid,
            fresh,
            held=tuple(sorted({hold.purpose for hold in decision.held})),
            email_kept="email" in record.kept,
        )
        self._shred(events, outcome, shredding)
        return outcome

    def _check_erasure_request(self, tenant: str, subject_ref: str, request_id: str) -> None:
        """R23: an erasure that answers a request names a recorded erasure request of this
        subject (another tenant's, or another subject's, is no request of this one)."""
        found = self._find(request_stream_id(tenant, request_id))
        if not isinstance(found, SubjectRequest) or found.subject_ref != subject_ref:
            raise InvalidInput(
                f"request {request_id!r} is no request of subject {subject_ref!r}",
                field="request_id",
            )
        if found.kind != "erasure":
            raise InvalidInput(
                f"request {request_id!r} asks for {found.kind}, not erasure", field="request_id"
            )

    def _standing_purposes(self, tenant: str, subject_ref: str) -> list[str]:
        """Every purpose the subject has a standing for (the stream index)."""
        if not isinstance(self.recorder, PostgresApplicationRecorder):
            raise NotImplementedError("erasure runs on the PostgreSQL event store")
        with self.recorder.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                f"SELECT purpose FROM {STREAMS_TABLE} WHERE tenant = %s AND kind = 'standing' "
                "AND subject_ref = %s ORDER BY purpose",
                (tenant, subject_ref),
            )
            return [row["purpose"] for row in curs.fetchall()]

    def _streams(self, ids: list[UUID]) -> Streams:
        assert isinstance(self.recorder, PostgresApplicationRecorder)
        return load_sync(self.recorder, ids)

    def _purpose_file(self, dossier: Dossier, now: datetime) -> erasure.PurposeFile:
        assert dossier.register is not None
        version = version_in_force(dossier.versions, now) or dossier.versions[-1]
        parties: tuple[str, ...] = ()
        ref = erasure.file_ref(dossier.facts)
        if version.terms.shared_file and ref is not None:
            parties = self._file_parties(dossier, ref)
        return erasure.PurposeFile(
            dossier.purpose, version.terms, dossier.facts, dossier.standing(now, now), parties
        )

    def _file_parties(self, dossier: Dossier, ref: str) -> tuple[str, ...]:
        """R22: the other clients (not erased) whose basis names the same shared file."""
        assert isinstance(self.recorder, PostgresApplicationRecorder)
        with self.recorder.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                f"SELECT subject_ref FROM {STREAMS_TABLE} WHERE tenant = %s AND kind = 'standing' "
                "AND purpose = %s AND subject_ref <> %s",
                (dossier.tenant, dossier.purpose, dossier.subject_ref),
            )
            others = [row["subject_ref"] for row in curs.fetchall()]
        ids = [i for other in others for i in dossier_ids(dossier.tenant, other, [dossier.purpose])]
        streams = self._streams(ids)
        parties = []
        for other in others:
            theirs = streams.dossier(dossier.tenant, other, dossier.purpose)
            erased = theirs.subject is not None and theirs.subject.erased_completely
            if not erased and erasure.file_ref(theirs.facts) == ref:
                parties.append(other)
        return tuple(sorted(parties))

    def _shred(self, events: list[Any], result: Any, shredding: Shredding) -> None:
        """Store the erasure's events, destroy the key and forget the rows that name the
        subject — in one transaction (not a shared one: it carries its own statements)."""
        claim = CLAIM.get()
        if claim is not None and claim.spent:
            claim = None
        records = []
        if claim is not None:
            records.append(
                (claim.tenant, claim.key, claim.request_hash, encode_result(result), None)
            )
        actors.stamp(events)
        traces.stamp(events)
        self._save_traced(*events, idempotency=records, shredding=shredding)
        if claim is not None:
            claim.spent = True

    # -- the controller's identity; restriction (data-subject rights) -----------------
    @retried_on_conflict
    def record_controller_identity(
        self, tenant: str, identity: ControllerIdentity, effective_at: datetime | None = None
    ) -> IdentityPut:
        """Record who the controller is from ``effective_at`` (default now); an identity
        that already applies then records nothing. R23 for the promised answer term."""
        controller: Controller | None = self._find(controller_id(tenant))
        now = after_last(utcnow(), [controller.modified_on] if controller else [])
        created = controller is None
        if controller is None:
            controller = Controller.open(tenant, now)
        recorded = controller.record(identity, effective_at or now, now)
        result = IdentityPut(created=created, recorded=recorded)
        if recorded:
            self._commit(controller, result)
        return result

    def controller_identity(
        self, tenant: str, at: datetime | None = None, known_at: datetime | None = None
    ) -> ControllerIdentity | None:
        """Who the controller was at ``at``, as known at ``known_at`` (default now); None
        when no identity was recorded for then."""
        now = utcnow()
        version = self.controller_version(tenant, at or now, known_at or now)
        return version.identity if version else None

    def controller_version(
        self, tenant: str, at: datetime, known_at: datetime
    ) -> IdentityVersion | None:
        """The recorded identity of ``controller_identity`` with its two times."""
        controller: Controller | None = self._find(controller_id(tenant))
        return controller.at(at, known_at) if controller else None

    @retried_on_conflict
    def restrict(
        self, tenant: str, subject_ref: str, purpose: str, restriction: Restriction
    ) -> Recorded:
        """R24 (art. 18): the purpose is restricted, not lawful, until lifted."""
        return self._on_standing(
            tenant, subject_ref, purpose, lambda s, c: s.restrict(c, restriction)
        )

    @retried_on_conflict
    def restrict_purposes(
        self, tenant: str, subject_ref: str, purposes: list[str], restriction: Restriction
    ) -> list[Recorded]:
        """``restrict`` for several purposes at once: all of them, in one transaction, or
        none (the first refusal refuses the whole request)."""
        clock = utcnow()
        standings, answers = [], []
        for purpose in dict.fromkeys(purposes):
            try:
                dossier = self._known_dossier(tenant, subject_ref, purpose)
                assert dossier.subject is not None
                dossier.subject.check_not_erased()  # R22
                now = dossier.now(clock)
                standing = dossier.standing_for_commands(now)
                answers.append(standing.restrict(dossier.context(now), restriction))
            except DomainError as refusal:  # named as the body names it: purposes[i]
                if refusal.field == "purpose":
                    refusal.field = f"purposes[{purposes.index(purpose)}]"
                raise
            standings.append(standing)
        self._commit(_Together(standings), answers)
        return answers

    @retried_on_conflict
    def lift_restriction(
        self, tenant: str, subject_ref: str, purpose: str, lift: RestrictionLift
    ) -> Recorded:
        """R24: lift the restriction in force when the lift takes effect (else 409)."""
        return self._on_standing(
            tenant, subject_ref, purpose, lambda s, c: s.lift_restriction(c, lift)
        )


class _Together:
    """Several aggregates whose new events commit in one transaction."""

    def __init__(self, aggregates: list[Any]):
        self.aggregates = aggregates

    def collect_events(self) -> list[Any]:
        return [event for a in self.aggregates for event in a.collect_events()]


class ErasureRequest(msgspec.Struct, frozen=True, kw_only=True):
    """R22: an erasure request as the practice records it."""

    recorded_by: str
    joint_with: tuple[str, ...] = ()
    reasons: str | None = None
    request_id: str | None = None


def _erasure_lapses(
    dossiers: list[Dossier], now: datetime
) -> tuple[list[Standing], list[tuple[Standing, LapsedStanding]]]:
    """R22 on each standing: the 16th-birthday lapse noted while the birth date is known (it
    stands in for it afterwards), and the end of the consent in force (reason ``erased``)."""
    noticed: list[Standing] = []
    lapses: list[tuple[Standing, LapsedStanding]] = []
    for dossier in dossiers:
        standing = dossier.standing_stream
        if standing is None or dossier.register is None:
            continue
        if standing.note_age_of_consent(dossier.context(now)) is not None:
            noticed.append(standing)
        recorded = standing.lapse_on_erasure(dossier.context(now))
        if recorded is not None:
            lapses.append((standing, LapsedStanding(dossier.purpose, str(recorded[0]))))
    return noticed, lapses


def _outcome(
    subject: Subject, *, already: bool = False, lapsed: list[Any] | None = None
) -> ErasureOutcome:
    last = subject.erasures[-1]
    return ErasureOutcome(
        subject_ref=subject.subject_ref,
        complete=last.complete,
        already_erased=already,
        event_id=str(subject.last_erasure_event),
        effective_at=last.effective_at,
        erased=list(last.erased),
        held=list(last.held),
        lapsed=lapsed or [],
        kept=list(last.kept),
    )


def _check_not_ahead(effective_at: datetime) -> None:
    bounds.check_instant("effective_at", effective_at)
    if effective_at > utcnow() + CLOCK_SKEW:
        raise InvalidInput(
            "effective_at lies in the future; record it when it happens", field="effective_at"
        )
