"""Non-consent bases (R1, R19, R21) and objections to them (R17, R18)."""

from __future__ import annotations

import msgspec
from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from ..application import Ledger, utcnow
from ..domain.values import (
    Basis,
    BasisEnd,
    Code,
    Establishment,
    Instant,
    Line,
    Objection,
    ObjectionDecision,
    Ref,
    Text,
)
from ..web import CodePath, SubjectRef, answers
from .auth import requires
from .consents import Recorded
from .preconditions import IfMatch, conditions


class BasisCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A contract, legal obligation, legitimate interest, … taking effect for the subject."""

    purpose: Code
    basis: Basis
    reference: Line
    effective_at: Instant | None = None
    opt_out_offered: bool = False
    recorded_by: Line | None = None
    file_ref: Ref | None = None  # R22: the shared file (mediation, parenting plan) it is in


class BasisEndCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Line
    effective_at: Instant | None = None
    recorded_by: Line | None = None


class ObjectionCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    purpose: Code
    grounds: Text
    effective_at: Instant | None = None
    recorded_by: Line | None = None


class DecisionCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Upheld, or rejected with the compelling grounds that override the objection (R18)."""

    upheld: bool
    reasons: Text
    effective_at: Instant | None = None
    recorded_by: Line | None = None


class BasisController(Controller):
    path = "/v1/subjects/{subject_ref:str}/bases"
    tags = ["bases"]
    guards = [requires("writer")]

    @post(
        operation_id="establishBasis",
        opt=answers(404, 409, 412),
        sync_to_thread=True,
        summary="Record a non-consent basis (contract, legal obligation, …)",
    )
    def establish(
        self,
        request: Request,
        subject_ref: SubjectRef,
        data: JSONBody[BasisCreate],
        ledger: NamedDependency[Ledger],
        if_match: IfMatch = None,
    ) -> Recorded:
        establishment = Establishment(
            basis=data.basis,
            reference=data.reference,
            effective_at=data.effective_at or utcnow(),
            recorded_by=data.recorded_by,
            opt_out_offered=data.opt_out_offered,
            file_ref=data.file_ref,
        )
        with conditions(if_match):
            event, standing = ledger.establish_basis(
                request.user.tenant, subject_ref, data.purpose, establishment
            )
        return Recorded(str(event), standing)

    @post(
        "/{purpose:str}/end",
        operation_id="endBasis",
        opt=answers(404, 409, 412),
        sync_to_thread=True,
        summary="End the basis; the purpose's retention term starts (R21)",
    )
    def end(
        self,
        request: Request,
        subject_ref: SubjectRef,
        purpose: CodePath,
        data: JSONBody[BasisEndCreate],
        ledger: NamedDependency[Ledger],
        if_match: IfMatch = None,
    ) -> Recorded:
        basis_end = BasisEnd(
            effective_at=data.effective_at or utcnow(),
            reason=data.reason,
            recorded_by=data.recorded_by,
        )
        with conditions(if_match):
            event, standing = ledger.end_basis(request.user.tenant, subject_ref, purpose, basis_end)
        return Recorded(str(event), standing)


class ObjectionController(Controller):
    path = "/v1/subjects/{subject_ref:str}/objections"
    tags = ["bases"]
    guards = [requires("writer")]

    @post(
        operation_id="lodgeObjection",
        opt=answers(404, 409, 412),
        sync_to_thread=True,
        summary="Record an art. 21 objection (R17 direct marketing, R18)",
    )
    def lodge(
        self,
        request: Request,
        subject_ref: SubjectRef,
        data: JSONBody[ObjectionCreate],
        ledger: NamedDependency[Ledger],
        if_match: IfMatch = None,
    ) -> Recorded:
        lodged = Objection(
            grounds=data.grounds,
            effective_at=data.effective_at or utcnow(),
            recorded_by=data.recorded_by,
        )
        with conditions(if_match):
            event, standing = ledger.lodge_objection(
                request.user.tenant, subject_ref, data.purpose, lodged
            )
        return Recorded(str(event), standing)

    @post(
        "/{purpose:str}/decision",
        operation_id="decideObjection",
        opt=answers(404, 409, 412),
        sync_to_thread=True,
        summary="Record the decision on an objection (R18)",
    )
    def decide(
        self,
        request: Request,
        subject_ref: SubjectRef,
        purpose: CodePath,
        data: JSONBody[DecisionCreate],
        ledger: NamedDependency[Ledger],
        if_match: IfMatch = None,
    ) -> Recorded:
        decision = ObjectionDecision(
            upheld=data.upheld,
            reasons=data.reasons,
            effective_at=data.effective_at or utcnow(),
            recorded_by=data.recorded_by,
        )
        with conditions(if_match):
            event, standing = ledger.decide_objection(
                request.user.tenant, subject_ref, purpose, decision
            )
        return Recorded(str(event), standing)
