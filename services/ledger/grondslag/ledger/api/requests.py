"""Data-subject requests (R23): record one, list the open ones by due date, show one with
its history; extend it, answer it, and the practice systems' confirmations."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody, Parameter, QueryParameter

from ..application import Ledger, utcnow
from ..domain.request_values import (
    Answer,
    Channel,
    Confirmation,
    Extension,
    IdentityCheck,
    IdentityMethod,
    Outcome,
    RequestAnswer,
    RequestIntake,
    RequestKind,
)
from ..domain.values import Code, Instant, Line, Ref, Text
from ..reads.paging import DEFAULT_LIMIT
from ..reads.requests import RequestPage, StatusFilter, list_requests, one_request
from ..web import READERS, SubjectRef, answers
from .auth import requires
from .paging import NEXT_LINK, Cursor, Limit, paged
from .positions import reading

RequestId = Annotated[
    str,
    Parameter(
        pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?!\n)$",
        description="the request's id, as the ledger gave it",
    ),
]


class IdentityCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """How identity was verified and by whom — never the ID document or its number (R5)."""

    method: IdentityMethod
    verified_by: Line
    verified_at: Instant | None = None


class RequestCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A request as it reached the practice; ``received_at`` (default: now) starts the term."""

    kind: RequestKind
    channel: Channel
    identity: IdentityCreate
    received_at: Instant | None = None
    representative_ref: Ref | None = None
    purposes: tuple[Code, ...] = ()  # empty: every purpose of the register
    recorded_by: Line | None = None
    note: Text | None = None


class ExtensionCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """By one or two further months in all (GDPR 12(3)), within the first month (R23)."""

    months: Literal[1, 2]
    reasons: Text
    told_subject_at: Instant | None = None
    recorded_by: Line | None = None


class AnswerCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    outcome: Outcome
    reasons: Text
    answered_at: Instant | None = None
    recorded_by: Line | None = None


class ConfirmationCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What a practice system did about the request (e.g. the client file exported)."""

    system: Line
    what: Text
    done_at: Instant | None = None


class RequestEventRecorded(msgspec.Struct):
    event_id: str
    request: RequestAnswer


class SubjectRequestController(Controller):
    path = "/v1/subjects/{subject_ref:str}/requests"
    tags = ["requests"]
    guards = [requires("writer")]

    @post(
        operation_id="receiveRequest",
        opt=answers(404, 409, location="/v1/requests/{request_id}"),
        sync_to_thread=True,
        summary="Record a data-subject request; answers it with its due date (R23)",
    )
    def receive(
        self,
        request: Request,
        subject_ref: SubjectRef,
        data: JSONBody[RequestCreate],
        ledger: NamedDependency[Ledger],
    ) -> Response[RequestAnswer]:
        intake = RequestIntake(
            kind=data.kind,
            received_at=data.received_at or utcnow(),
            channel=data.channel,
            identity=IdentityCheck(**msgspec.structs.asdict(data.identity)),
            representative_ref=data.representative_ref,
            purposes=data.purposes,
            recorded_by=data.recorded_by,
            note=data.note,
        )
        # the practice's own promised term (e.g. P4W), as its identity stated it when the
        # request reached it: ``promised_by`` beside the legal due date
        tenant = request.user.tenant
        controller = ledger.controller_identity(tenant, at=intake.received_at)
        promised_term = controller.promised_term if controller else None
        answer = ledger.receive_request(tenant, subject_ref, intake, promised_term)
        location = {"Location": f"/v1/requests/{answer.request_id}"}
        return Response(answer, status_code=201, headers=location)


class RequestController(Controller):
    path = "/v1/requests"
    tags = ["requests"]

    @get(
        opt=answers(headers={"Link": NEXT_LINK}),
        operation_id="listRequests",
        guards=[requires(*READERS)],
        summary="Requests by due date (open ones by default), a page at a time",
    )
    async def list_by_due_date(
        self,
        request: Request,
        status: FromQuery[StatusFilter] = "open",
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
        subject_ref: Annotated[
            str | None,
            QueryParameter(
                pattern=r"^[A-Za-z0-9._:@-]{1,128}(?!\n)$",
                required=False,
                description="only this subject's requests",
            ),
        ] = None,
    ) -> Response[RequestPage]:
        tenant = request.user.tenant
        page = await reading(
            request, list_requests, tenant, status, limit, cursor, utcnow(), subject_ref
        )
        return paged(request, page, page.next)

    @get(
        "/{request_id:str}",
        operation_id="showRequest",
        opt=answers(404),
        guards=[requires(*READERS)],
        summary="One request with its due date, extension, answer, confirmations and history",
    )
    async def show(self, request: Request, request_id: RequestId) -> RequestAnswer:
        return await reading(request, one_request, request.user.tenant, request_id, utcnow())

    @post(
        "/{request_id:str}/extension",
        operation_id="extendRequest",
        opt=answers(404, 409),
        guards=[requires("writer")],
        sync_to_thread=True,
        summary="Extend the term by one or two further months, within the first month (R23)",
    )
    def extend(
        self,
        request: Request,
        request_id: RequestId,
        data: JSONBody[ExtensionCreate],
        ledger: NamedDependency[Ledger],
    ) -> RequestEventRecorded:
        extension = Extension(**msgspec.structs.asdict(data))
        event, answer = ledger.extend_request(request.user.tenant, request_id, extension)
        return RequestEventRecorded(str(event), answer)

    @post(
        "/{request_id:str}/answer",
        operation_id="answerRequest",
        opt=answers(404, 409),
        guards=[requires("writer")],
        sync_to_thread=True,
        summary="Record the answer (after the due date it is recorded and shown as late)",
    )
    def answer(
        self,
        request: Request,
        request_id: RequestId,
        data: JSONBody[AnswerCreate],
        ledger: NamedDependency[Ledger],
    ) -> RequestEventRecorded:
        answer = Answer(
            outcome=data.outcome,
            reasons=data.reasons,
            answered_at=data.answered_at or utcnow(),
            recorded_by=data.recorded_by,
        )
        event, folded = ledger.answer_request(request.user.tenant, request_id, answer)
        return RequestEventRecorded(str(event), folded)

    @post(
        "/{request_id:str}/confirmations",
        operation_id="confirmRequest",
        opt=answers(404, 409),
        guards=[requires("writer")],
        sync_to_thread=True,
        summary="A practice system confirms what it did about the request",
    )
    def confirm(
        self,
        request: Request,
        request_id: RequestId,
        data: JSONBody[ConfirmationCreate],
        ledger: NamedDependency[Ledger],
    ) -> RequestEventRecorded:
        confirmation = Confirmation(
            system=data.system, what=data.what, done_at=data.done_at or utcnow()
        )
        event, answer = ledger.confirm_request(request.user.tenant, request_id, confirmation)
        return RequestEventRecorded(str(event), answer)
