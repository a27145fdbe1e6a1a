"""Restriction of processing (art. 18, "afschermen"; R24): restricted, not lawful, until
lifted, published as a stop and, at the lift, a start."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from ..application import Ledger, utcnow
from ..domain.values import Code, Instant, Line, Restriction, RestrictionLift, Text
from ..web import CodePath, SubjectRef, answers
from .auth import requires
from .consents import Recorded
from .preconditions import IfMatch, conditions


class RestrictionCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Restrict processing for the named purposes, from ``effective_at`` (default now)."""

    purposes: Annotated[list[Code], msgspec.Meta(min_length=1, max_length=100)]
    reasons: Text
    request_id: Line | None = None  # the data-subject request this answers
    effective_at: Instant | None = None
    recorded_by: Line | None = None


class RestrictionLiftCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reasons: Text
    effective_at: Instant | None = None
    recorded_by: Line | None = None


class Restricted(msgspec.Struct):
    """Each purpose's event and the standing it leaves."""

    restricted: list[Recorded]


class RestrictionController(Controller):
    path = "/v1/subjects/{subject_ref:str}/restrictions"
    tags = ["restrictions"]
    guards = [requires("writer")]

    @post(
        operation_id="restrictProcessing",
        opt=answers(404, 409),
        sync_to_thread=True,
        summary="Restrict processing for purposes (art. 18): restricted, not lawful, until "
        "lifted (R24; all purposes or none)",
    )
    def restrict(
        self,
        request: Request,
        subject_ref: SubjectRef,
        data: JSONBody[RestrictionCreate],
        ledger: NamedDependency[Ledger],
    ) -> Restricted:
        restriction = Restriction(
            reasons=data.reasons,
            effective_at=data.effective_at or utcnow(),
            recorded_by=data.recorded_by,
            request_id=data.request_id,
        )
        answers = ledger.restrict_purposes(
            request.user.tenant, subject_ref, data.purposes, restriction
        )
        return Restricted([Recorded(str(event), standing) for event, standing in answers])

    @post(
        "/{purpose:str}/lift",
        operation_id="liftRestriction",
        opt=answers(404, 409, 412),
        sync_to_thread=True,
        summary="Lift the restriction in force (R24: 409 when none is in force then)",
    )
    def lift(
        self,
        request: Request,
        subject_ref: SubjectRef,
        purpose: CodePath,
        data: JSONBody[RestrictionLiftCreate],
        ledger: NamedDependency[Ledger],
        if_match: IfMatch = None,
    ) -> Recorded:
        lift = RestrictionLift(
            reasons=data.reasons,
            effective_at=data.effective_at or utcnow(),
            recorded_by=data.recorded_by,
        )
        with conditions(if_match):
            event, standing = ledger.lift_restriction(
                request.user.tenant, subject_ref, purpose, lift
            )
        return Recorded(str(event), standing)
