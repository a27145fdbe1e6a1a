"""Consents: record one (R4, R6–R10) and record its withdrawal (R8)."""

from __future__ import annotations

import msgspec
from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from ..application import Ledger
from ..domain.standing_at import StandingAnswer
from ..domain.values import Code, Instant, Line, Method, Ref
from ..web import CodePath, SubjectRef, answers
from .auth import requires
from .body_values import EvidenceCreate, values_of
from .preconditions import IfMatch, conditions


class ConsentCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A consent as the practice received it (R7: who, how, which notice, what proof)."""

    purpose: Code
    method: Method
    explicit: bool
    notice_version: Line
    evidence: EvidenceCreate
    recorded_by: Line
    representative_ref: Ref | None = None
    effective_at: Instant | None = None
    expires_at: Instant | None = None


class WithdrawalCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A withdrawal as it reached the practice; ``effective_at`` is when it arrived (R8)."""

    method: Method
    recorded_by: Line
    representative_ref: Ref | None = None
    effective_at: Instant | None = None


class Recorded(msgspec.Struct):
    """The id of the event just recorded and the standing it leaves."""

    event_id: str
    standing: StandingAnswer


class ConsentController(Controller):
    path = "/v1/subjects/{subject_ref:str}/consents"
    tags = ["consent"]
    guards = [requires("writer")]

    @post(
        operation_id="giveConsent",
        opt=answers(404, 409, 412),
        sync_to_thread=True,
        summary="Record a consent",
    )
    def give(
        self,
        request: Request,
        subject_ref: SubjectRef,
        data: JSONBody[ConsentCreate],
        ledger: NamedDependency[Ledger],
        if_match: IfMatch = None,
    ) -> Recorded:
        fields = values_of(data)
        purpose = fields.pop("purpose")
        with conditions(if_match):
            event, standing = ledger.give_consent(
                request.user.tenant, subject_ref, purpose, **fields
            )
        return Recorded(str(event), standing)

    @post(
        "/{purpose:str}/withdrawal",
        operation_id="withdrawConsent",
        opt=answers(404, 409, 412),
        sync_to_thread=True,
        summary="Record a withdrawal (takes effect when it reached the practice)",
    )
    def withdraw(
        self,
        request: Request,
        subject_ref: SubjectRef,
        purpose: CodePath,
        data: JSONBody[WithdrawalCreate],
        ledger: NamedDependency[Ledger],
        if_match: IfMatch = None,
    ) -> Recorded:
        with conditions(if_match):
            event, standing = ledger.withdraw_consent(
                request.user.tenant, subject_ref, purpose, **msgspec.structs.asdict(data)
            )
        return Recorded(str(event), standing)
