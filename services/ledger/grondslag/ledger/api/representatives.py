"""Representation: who may act for a subject, in which capacity and for how long (R11–R16)."""

from __future__ import annotations

import msgspec
from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from ..application import Ledger, utcnow
from ..domain.values import (
    Code,
    Instant,
    Line,
    Matter,
    Ref,
    Representation,
    RepresentationEnd,
    RepresentativeKind,
)
from ..web import SubjectRef, answers
from .auth import requires
from .body_values import EvidenceCreate, values_of


class RepresentativeCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A representative of the subject: kind, validity, evidence (court decision, …)."""

    representative_ref: Ref
    kind: RepresentativeKind
    valid_from: Instant
    evidence: EvidenceCreate
    valid_until: Instant | None = None
    purposes: tuple[Code, ...] = ()
    subject_competent_for: tuple[Matter, ...] = ()


class RepresentationEndCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Line
    effective_at: Instant | None = None


class RepresentationRecorded(msgspec.Struct):
    event_id: str
    subject_ref: str
    representative_ref: str


class RepresentativeController(Controller):
    path = "/v1/subjects/{subject_ref:str}/representatives"
    tags = ["representation"]
    guards = [requires("writer")]

    @post(
        operation_id="registerRepresentative",
        opt=answers(404, 409),
        sync_to_thread=True,
        summary="Register a representative (parent, guardian, curator, mentor, …)",
    )
    def register(
        self,
        request: Request,
        subject_ref: SubjectRef,
        data: JSONBody[RepresentativeCreate],
        ledger: NamedDependency[Ledger],
    ) -> RepresentationRecorded:
        representation = Representation(**values_of(data))
        event = ledger.register_representative(request.user.tenant, subject_ref, representation)
        return RepresentationRecorded(str(event), subject_ref, data.representative_ref)

    @post(
        "/{representative_ref:str}/end",
        operation_id="endRepresentation",
        opt=answers(404, 409),
        sync_to_thread=True,
        summary="End a representation; the consents it gave lapse then (R16)",
    )
    def end(
        self,
        request: Request,
        subject_ref: SubjectRef,
        representative_ref: SubjectRef,
        data: JSONBody[RepresentationEndCreate],
        ledger: NamedDependency[Ledger],
    ) -> RepresentationRecorded:
        end = RepresentationEnd(
            representative_ref=representative_ref,
            effective_at=data.effective_at or utcnow(),
            reason=data.reason,
        )
        event = ledger.end_representation(request.user.tenant, subject_ref, end)
        return RepresentationRecorded(str(event), subject_ref, representative_ref)
