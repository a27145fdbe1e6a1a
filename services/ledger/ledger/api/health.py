"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

import msgspec
from litestar import Request, Response, get


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
    summary="The database answers and the service can take traffic",
)
async def ready(request: Request) -> Response[Health]:
    checks: dict[str, str] = {}
    try:
        await request.app.state.pool.fetchval("SELECT 1", timeout=2)
        checks["database"] = "ok"
    except Exception as error:  # any failure means: not ready
        checks["database"] = f"failing: {type(error).__name__}"
    ok = all(value == "ok" for value in checks.values())
    return Response(Health("ok" if ok else "unavailable", checks), status_code=200 if ok else 503)
