"""Liveness and readiness for load balancers and orchestrators; metrics for Prometheus.

Ready means: this API process can answer. Only the primary database decides that. A
projection that trails the log, a quarantined stream and a read replica that is away are
reported (status ``degraded``, still 200) but keep the process in rotation: the answers
fold from the log where a read model trails, and reads go to the primary where the replica
cannot serve them — taking every API replica out of a load balancer for a projector's
problem would turn a slower answer into none. A quarantined stream's held events are not
lag. The check is public (load balancers ask it without a key), so it names no tenant, no
stream and no error: `grondslag quarantine list` does, for the operator. Every query of
the readiness check runs within its time limit and a ``try``: a primary that is away makes
the service unready (503, Retry-After, naming the database); a check after it that fails
is reported as failing (degraded)."""

from __future__ import annotations

import asyncio
from typing import TypeVar

import msgspec
from litestar import Request, Response, get, head
from litestar.openapi import ResponseSpec
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from ..keys import Principal
from ..reads import operations
from ..settings import Settings
from . import http_metrics
from .auth import requires
from .problems import RETRY_AFTER_SECONDS

T = TypeVar("T")

READY_SECONDS = 3.0  # the readiness check answers within this, whatever the database does


class Health(msgspec.Struct):
    status: str
    checks: dict[str, str] = msgspec.field(default_factory=dict)


@get("/health/live", operation_id="live", tags=["operations"], summary="The process is up")
async def live() -> Health:
    return Health("ok")


@get(
    "/health/ready",
    operation_id="ready",
    tags=["operations"],
    responses={
        503: ResponseSpec(
            Health,
            description="Not ready: the service cannot answer (the failing check is named in "
            "`checks`); retry after `Retry-After` seconds",
            generate_examples=False,
        )
    },
    summary="The service can answer: the database answers (a projection that trails the "
    "log, a quarantined stream or a read replica that is away is `degraded`, still 200)",
)
async def ready(request: Request) -> Response[Health]:
    return await _readiness(request)


# HEAD, for monitors that ask with it: what GET answers, without the body (not documented
# apart: HTTP's HEAD of a GET, as the contract leaves OPTIONS and HEAD out)
@head("/health/live", include_in_schema=False)
async def live_head() -> None:
    return None


@head("/health/ready", include_in_schema=False)
async def ready_head(request: Request) -> Response[None]:
    answer = await _readiness(request)
    return Response(None, status_code=answer.status_code, headers=dict(answer.headers))


async def _readiness(request: Request) -> Response[Health]:
    pool = request.app.state.pool
    settings = request.app.state.settings
    deadline = asyncio.get_running_loop().time() + READY_SECONDS
    try:
        async with asyncio.timeout_at(deadline):
            await pool.fetchval("SELECT 1")
    except Exception as error:  # the primary does not answer: nothing can be
        retry = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        failing = {"database": f"failing: {_failure(error)}"}
        return Response(Health("unavailable", failing), status_code=503, headers=retry)
    checks = {"database": "ok"}
    lags: list[operations.Lag] = []
    held: list[operations.Quarantined] = []
    check = "read_replica"
    try:  # what is found here slows answers or leaves them to the primary: information
        async with asyncio.timeout_at(deadline):
            if (replica := await request.app.state.reads.check()) is not None:
                checks[check] = replica
            check = "projections"
            lags = await operations.lags(pool)
            check = "quarantine"
            held = await operations.quarantined(pool)
    except Exception as error:
        checks[check] = f"failing: {_failure(error)}"
    checks.update(_lagging(lags, settings))
    checks.update(_held(held))
    degraded = any(value != "ok" for value in checks.values())
    return Response(Health("degraded" if degraded else "ok", checks), status_code=200)


def _lagging(lags: list[operations.Lag], settings: Settings) -> dict[str, str]:
    """How far the projections the API's answers wait for trail the log — information, not
    a reason to leave the load balancer: checks and standings fold from the log where the
    read model trails; proofs and exports of events not yet logged answer 409, ask again."""
    # proofs and exports wait for the audit log, checks for the read model, lapses for the relay
    watched = {"current_standing", "audit_log"} | ({"nats_relay"} if settings.nats_url else set())
    return {
        f"projection:{lag.projection}": (
            f"behind by {lag.events} events, {lag.seconds:.1f} s"
            if lag.seconds > settings.ready_max_lag_seconds
            else "ok"
        )
        for lag in lags
        if lag.projection in watched
    }


def _held(held: list[operations.Quarantined]) -> dict[str, str]:
    per_projection: dict[str, int] = {}
    for entry in held:
        per_projection[entry.projection] = per_projection.get(entry.projection, 0) + 1
    return {
        f"quarantine:{projection}": f"{count} held; `grondslag quarantine list` names them"
        for projection, count in sorted(per_projection.items())
    }


def _failure(error: Exception) -> str:
    if isinstance(error, TimeoutError):
        return f"no answer within {READY_SECONDS:g} s"
    return type(error).__name__


@get(
    "/metrics",
    operation_id="metrics",
    tags=["operations"],
    media_type="text/plain",  # documented bare; sent with its version and charset (below)
    guards=[requires("metrics")],
    summary="Prometheus metrics: projection lag, relay backlog, deadlines due, failures, "
    "audit log events not yet signed, checkpoints not yet published, open and overdue "
    "data-subject requests per tenant, the read replica's replay lag; HTTP requests and "
    "latency per route, the processes, the build",
    description="Needs a key with the `metrics` role. Series labelled with a tenant are the "
    "key's own tenant's; a metrics key of the operator's tenant (`GRONDSLAG_OPERATOR_TENANT`, "
    "by default the bootstrap tenant) sees every tenant's. Series without a tenant label "
    "(projection lag, restarts, …) name no tenant and are the same for every key.",
)
async def metrics(request: Request) -> Response[bytes]:
    pool, settings = request.app.state.pool, request.app.state.settings
    principal: Principal = request.user
    sees = None if principal.tenant == settings.metrics_operator else principal.tenant
    backlog = await operations.audit_backlog(pool)
    backlog.unsigned_events = _only(backlog.unsigned_events, sees)
    read = operations.families(
        await operations.lags(pool),
        await operations.deadlines_due(pool),
        backlog,
        await operations.quarantined(pool),
        operations.process_restarts(settings.restarts_file),
        _only(await operations.requests_per_tenant(pool), sees),
    )
    read += await request.app.state.reads.families()
    # the header as it is: litestar would add a second charset to any text/ media type
    return Response(http_metrics.exposition(read), headers={"Content-Type": PROMETHEUS_TEXT})


PROMETHEUS_TEXT = CONTENT_TYPE_PLAIN_0_0_4  # text/plain; version=0.0.4; charset=utf-8


def _only(per_tenant: dict[str, T], tenant: str | None) -> dict[str, T]:
    """The series of ``tenant`` alone (None: of every tenant, for the operator)."""
    return per_tenant if tenant is None else {t: v for t, v in per_tenant.items() if t == tenant}
