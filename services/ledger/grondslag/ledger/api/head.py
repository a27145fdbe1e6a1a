"""HEAD on the API answers as GET would, without the body (RFC 9110 §9.3.2: the same status
and header fields, ``Content-Length`` and ``ETag`` included).

Litestar routes HEAD only to handlers that declare it (the health checks do, for monitors);
every other GET under ``/v1/`` is served here as a GET whose body is not sent — a client
that asks whether a subject exists, or whether its copy's ``ETag`` is still current, need
not fetch the answer. A HEAD reads what the GET reads, so a HEAD of an export is logged as
an access (NEN 7513) as the GET is. The OpenAPI document lists the GETs: HEAD is their
bodiless twin, not an operation of its own."""

from __future__ import annotations

from typing import Any


class HeadAsGet:
    """ASGI middleware, outside litestar's own handler (the metrics around it count the
    request as HEAD, under the route the GET took)."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "HEAD"
            or not scope["path"].startswith("/v1/")
        ):
            await self.app(scope, receive, send)
            return
        inner = {**scope, "method": "GET"}

        async def without_body(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        try:
            await self.app(inner, receive, without_body)
        finally:
            for routed in ("route_handler", "path_template"):  # what the router found
                if routed in inner:
                    scope[routed] = inner[routed]
