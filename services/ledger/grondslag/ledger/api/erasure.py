"""Erasure (R22): erase what may be erased, answer what may not — and the legal claims that
hold a purpose's data meanwhile."""

from __future__ import annotations

from typing import Annotated, cast

import msgspec
from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import JSONBody, Parameter

from ..application import ErasureRequest, Ledger, utcnow
from ..domain.erasure import ErasureOutcome, LapsedStanding
from ..domain.values import Code, Hold, Instant, LegalClaim, LegalClaimEnd, Line, Ref
from ..web import SubjectRef, answers
from .auth import requires
from .problems import PROBLEM_JSON, problem_type

ClaimRef = Annotated[
    str, Parameter(pattern=r"^[A-Za-z0-9._:@-]{1,128}(?!\n)$", description="the claim's ref")
]


class ErasureCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """An erasure request (art. 17): who records it, the request it answers, and — for a
    file shared by several clients — the other parties who join it."""

    recorded_by: Line
    request_id: Line | None = None
    joint_with: list[Ref] = msgspec.field(default_factory=list)
    reasons: Line | None = None


class ErasureHeld(msgspec.Struct, kw_only=True):
    """409 problem+json (R22): the holds, and what was erased all the same."""

    type: str
    title: str
    status: int
    detail: str
    rule: str
    instance: str | None = None
    subject_ref: str
    event_id: str | None = None
    holds: list[Hold]
    erased: list[str]
    lapsed: list[LapsedStanding]
    kept: list[str]
    already_erased: bool = False


class LegalClaimCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A legal claim (art. 17(3)(e)) for which the purpose's data must be kept: a reference to
    the case (a court's case number), never its contents: the log keeps it after erasure."""

    claim_ref: Ref
    purpose: Code
    reference: Line
    effective_at: Instant | None = None
    until: Instant | None = None
    recorded_by: Line | None = None


class LegalClaimEndCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Line
    effective_at: Instant | None = None
    recorded_by: Line | None = None


class RecordedEvent(msgspec.Struct):
    event_id: str


class ErasureController(Controller):
    path = "/v1/subjects/{subject_ref:str}"
    tags = ["erasure"]
    guards = [requires("writer")]

    @post(
        "/erasure",
        operation_id="eraseSubject",
        opt=answers(404, 409, successes={200: "Erased already: nothing more to do"}),
        sync_to_thread=True,
        status_code=201,
        summary="Erase the subject (R22): 201 erased, 200 erased already, 409 held in part "
        "(problem+json listing each hold and what was erased)",
        responses={
            409: ResponseSpec(
                data_container=ErasureHeld,
                description="Held in part (R22): each hold, and what was erased",
                generate_examples=False,
                media_type=PROBLEM_JSON,
            )
        },
    )
    def erase(
        self,
        request: Request,
        subject_ref: SubjectRef,
        data: JSONBody[ErasureCreate],
        ledger: NamedDependency[Ledger],
    ) -> Response[ErasureOutcome]:
        asked = ErasureRequest(
            recorded_by=data.recorded_by,
            joint_with=tuple(dict.fromkeys(r for r in data.joint_with if r != subject_ref)),
            reasons=data.reasons,
            request_id=data.request_id,
        )
        outcome = ledger.erase(request.user.tenant, subject_ref, asked)
        if outcome.complete:
            return Response(outcome, status_code=200 if outcome.already_erased else 201)
        held = ErasureHeld(
            type=problem_type("rule-violated"),
            title="Refused by rule R22",
            status=409,
            detail="some purposes are held from erasure (listed in holds); the rest was erased",
            rule="R22",
            instance=request.url.path,
            subject_ref=subject_ref,
            event_id=outcome.event_id,
            holds=outcome.held,
            erased=outcome.erased,
            lapsed=outcome.lapsed,
            kept=outcome.kept,
            already_erased=outcome.already_erased,
        )
        # the 409 has its own shape, documented in ``responses`` above
        return cast(
            Response[ErasureOutcome], Response(held, status_code=409, media_type=PROBLEM_JSON)
        )

    @post(
        "/legal-claims",
        operation_id="recordLegalClaim",
        opt=answers(404, 409),
        sync_to_thread=True,
        summary="Record a legal claim that holds a purpose's data from erasure (R22)",
    )
    def record_claim(
        self,
        request: Request,
        subject_ref: SubjectRef,
        data: JSONBody[LegalClaimCreate],
        ledger: NamedDependency[Ledger],
    ) -> RecordedEvent:
        claim = LegalClaim(
            claim_ref=data.claim_ref,
            purpose=data.purpose,
            reference=data.reference,
            effective_at=data.effective_at or utcnow(),
            until=data.until,
            recorded_by=data.recorded_by,
        )
        return RecordedEvent(
            str(ledger.record_legal_claim(request.user.tenant, subject_ref, claim))
        )

    @post(
        "/legal-claims/{claim_ref:str}/end",
        operation_id="endLegalClaim",
        opt=answers(404, 409),
        sync_to_thread=True,
        summary="The legal claim ended: it no longer holds erasure (R22)",
    )
    def end_claim(
        self,
        request: Request,
        subject_ref: SubjectRef,
        claim_ref: ClaimRef,
        data: JSONBody[LegalClaimEndCreate],
        ledger: NamedDependency[Ledger],
    ) -> RecordedEvent:
        end = LegalClaimEnd(
            claim_ref=claim_ref,
            effective_at=data.effective_at or utcnow(),
            reason=data.reason,
            recorded_by=data.recorded_by,
        )
        return RecordedEvent(str(ledger.end_legal_claim(request.user.tenant, subject_ref, end)))
