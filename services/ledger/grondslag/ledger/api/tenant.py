"""The controller's identity (GDPR art. 4(7), 13, 15): who the practice is, bitemporally."""

from __future__ import annotations

from datetime import datetime

import msgspec
from litestar import Controller, Request, Response, get, put
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody

from ..application import Ledger, utcnow
from ..domain.controller import ControllerIdentity
from ..domain.errors import NotFound
from ..domain.values import Instant
from ..reads.controller import identity_at
from ..web import READERS, answers
from .auth import requires
from .positions import reading
from .problems import aware


class TenantPut(ControllerIdentity, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The controller's identity, taking effect at ``effective_at`` (default now)."""

    effective_at: Instant | None = None


class TenantOut(msgspec.Struct, kw_only=True):
    """The identity that applied at ``at`` as known at ``known_at``: from when it applied
    and since when the ledger knew it."""

    tenant: str
    at: datetime
    known_at: datetime
    identity: ControllerIdentity
    effective_at: datetime
    recorded_at: datetime
    recorded: bool | None = None  # on a PUT: whether it recorded anything


class TenantController(Controller):
    path = "/v1/tenant"
    tags = ["tenant"]

    @put(
        operation_id="putTenant",
        opt=answers(409, successes={201: "Created: the first identity recorded"}),
        guards=[requires("admin")],
        sync_to_thread=True,
        summary="Record the controller's identity: 201 the first time, 200 after; an "
        "identity that already applies records nothing (R23: a promised answer term of at "
        "most one month)",
    )
    def put_tenant(
        self, request: Request, data: JSONBody[TenantPut], ledger: NamedDependency[Ledger]
    ) -> Response[TenantOut]:
        fields = msgspec.structs.asdict(data)
        effective_at = fields.pop("effective_at")
        identity = ControllerIdentity(**fields)
        tenant = request.user.tenant
        done = ledger.record_controller_identity(tenant, identity, effective_at)
        now = utcnow()
        version = ledger.controller_version(tenant, effective_at or now, now)
        assert version is not None
        body = TenantOut(
            tenant=tenant,
            at=effective_at or now,
            known_at=now,
            identity=version.identity,
            effective_at=version.effective_at,
            recorded_at=version.recorded_at,
            recorded=done.recorded,
        )
        return Response(body, status_code=201 if done.created else 200)

    @get(
        operation_id="getTenant",
        opt=answers(404),
        guards=[requires(*READERS)],
        summary="Who the controller was at `at`, as known at `known_at` (default now); "
        "every key may read it (it is on the public pages anyway)",
    )
    async def get_tenant(
        self,
        request: Request,
        at: FromQuery[Instant | None] = None,
        known_at: FromQuery[Instant | None] = None,
    ) -> TenantOut:
        now = utcnow()
        moment, known = aware("at", at) or now, aware("known_at", known_at) or now
        tenant = request.user.tenant
        version = await reading(request, identity_at, tenant, moment, known)
        if version is None:
            raise NotFound("no controller identity was recorded for then; PUT /v1/tenant")
        return TenantOut(
            tenant=tenant,
            at=moment,
            known_at=known,
            identity=version.identity,
            effective_at=version.effective_at,
            recorded_at=version.recorded_at,
        )
