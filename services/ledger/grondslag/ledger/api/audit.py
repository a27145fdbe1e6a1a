"""The auditor's API: signed checkpoints, inclusion and consistency proofs, export bundles.

Roles: ``auditor`` and ``admin`` may do everything here; ``reader`` may fetch checkpoints
and proofs (a practice system may keep witness copies); nobody else may export."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.openapi import ResponseSpec
from litestar.params import FromQuery, Parameter, QueryParameter

from ..application import utcnow
from ..audit import store as audit_store
from ..audit.bundle import Bundle
from ..domain.values import Instant
from ..persistence import access_log
from ..persistence.actors import key_actor
from ..reads import audit
from ..web import AUDITORS, PROOF_READERS, EventIdPath, SubjectRef, answers
from .auth import requires
from .positions import reading
from .problems import ProblemError, aware, problem_type

MAX_TREE_SIZE = 2**53 - 1  # exact in every JSON reader, far inside PostgreSQL's bigint
TreeSize = Annotated[int, Parameter(ge=0, le=MAX_TREE_SIZE, description="a tree size")]
# litestar enforces the constraints of an optional parameter only when they annotate the
# whole ``X | None``, not the ``X`` inside it; its OpenAPI leaves out a bound of 0 there
OptionalTreeSize = Annotated[
    int | None,
    Parameter(
        ge=0,
        le=MAX_TREE_SIZE,
        required=False,
        description="a tree size",
        schema_extra={"minimum": 0},
    ),
]
OptionalCode = Annotated[
    str | None,
    Parameter(pattern=r"^[a-z0-9-]{1,64}(?!\n)$", required=False, description="purpose code"),
]


class AuditController(Controller):
    path = "/v1/audit"
    tags = ["audit"]

    @get(
        "/checkpoints/latest",
        operation_id="getLatestCheckpoint",
        guards=[requires(*PROOF_READERS)],
        summary="The tenant's latest signed checkpoint (tree size, root, time) with the "
        "public key that signed it",
    )
    async def latest_checkpoint(self, request: Request) -> audit.SignedCheckpoint:
        checkpoint, public_key = await reading(
            request, audit.latest, request.user.tenant, ask=request.app.state.pool
        )
        return audit.signed(checkpoint, public_key)

    @get(
        "/keys",
        operation_id="getSigningKeys",
        guards=[requires(*PROOF_READERS)],
        summary="Every key that signed checkpoints, and the rotation statements that link "
        "them (each signed by the old and the new key)",
    )
    async def signing_keys(self, request: Request) -> audit.KeyHistory:
        return await reading(request, audit.key_history, request.app.state.audit_keys.current())

    @post(
        "/checkpoints",
        operation_id="signCheckpoint",
        guards=[requires(*AUDITORS)],
        summary="Sign a checkpoint of the tenant's audit log now (no body)",
    )
    async def sign_checkpoint(self, request: Request) -> audit.SignedCheckpoint:
        key = request.app.state.audit_keys.current()
        await audit_store.register_key(request.app.state.pool, key)  # (a key put in by hand)
        checkpoint = await audit_store.sign_now(
            request.app.state.pool, key, request.user.tenant, utcnow()
        )
        return audit.signed(checkpoint, key.public_key)

    @get(
        "/proofs/{event_id:str}",
        operation_id="getInclusionProof",
        opt=answers(404, 409),
        guards=[requires(*PROOF_READERS)],
        summary="The inclusion proof of one event in a signed checkpoint (the latest, or "
        "the one of `tree_size`)",
    )
    async def proof(
        self,
        request: Request,
        event_id: EventIdPath,
        tree_size: FromQuery[OptionalTreeSize] = None,
    ) -> audit.InclusionProof:
        return await reading(
            request,
            audit.inclusion,
            request.user.tenant,
            UUID(event_id),
            tree_size,
            ask=request.app.state.pool,
        )

    @get(
        "/consistency",
        operation_id="getConsistencyProof",
        opt=answers(404, 409),
        guards=[requires(*PROOF_READERS)],
        summary="The proof that the tree of `first` leaves is a prefix of the tree of "
        "`second` leaves (RFC 9162 §2.1.4)",
    )
    async def consistency(
        self, request: Request, first: TreeSize, second: TreeSize
    ) -> audit.ConsistencyProof:
        return await reading(request, audit.consistency, request.user.tenant, first, second)

    @get(
        "/export",
        operation_id="exportBundle",
        opt=answers(
            404,
            409,
            why={409: "Some events are not in the audit log yet (`not-yet-logged`): ask again"},
            refusal_headers={409: {"Retry-After": "seconds to wait before asking again"}},
            headers={"Content-Disposition": 'attachment; filename="grondslag-<tenant>-<ref>.json"'},
        ),
        responses={
            200: ResponseSpec(
                Bundle,
                description="The bundle (`schemas/audit-bundle.json`)",
                generate_examples=False,
            )
        },
        guards=[requires(*AUDITORS)],
        summary="A self-contained, signed bundle of one subject's events with inclusion "
        "proofs; check it offline with `grondslag verify BUNDLE`",
        response_description="the bundle (application/json)",
    )
    async def export(
        self,
        request: Request,
        subject_ref: FromQuery[SubjectRef],
        purpose: FromQuery[OptionalCode] = None,
        recorded_from: Annotated[Instant | None, QueryParameter(name="from")] = None,
        recorded_to: Annotated[Instant | None, QueryParameter(name="to")] = None,
        personal_data: Annotated[
            bool,
            QueryParameter(
                description="include the subject's sealing key, so that `grondslag verify "
                "--at` can apply the age rules (the bundle then reveals the birth date)"
            ),
        ] = False,
    ) -> Response[bytes]:
        start, end = aware("from", recorded_from), aware("to", recorded_to)
        if start and end and start > end:
            raise ProblemError(
                422,
                "Invalid request",
                "from: the period starts after it ends",
                kind=problem_type("invalid-query"),
                field="from",
            )
        try:
            body = await reading(
                request,
                audit.export,
                request.app.state.audit_keys.current(),
                request.user.tenant,
                subject_ref,
                utcnow(),
                purpose,
                start,
                end,
                personal_data,
                ask=request.app.state.pool,
            )
        except audit.NotYetLogged:
            raise ProblemError(
                409,
                "Not in the audit log yet",
                "some events of this subject are not in the audit log yet; ask again in a second",
                kind=problem_type("not-yet-logged"),
                headers={"Retry-After": "1"},
            ) from None
        if personal_data:  # the bundle carries the subject's key: NEN 7513 logs the read
            await access_log.record(
                request.app.state.pool,
                key_actor(request.user),
                subject_ref,
                "audit.bundle.personal_data",
            )
        filename = f"grondslag-{request.user.tenant}-{subject_ref}.json"
        return Response(
            body,
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
