"""A request id for every HTTP request, on each of its log lines and in its answer.

The id is the trace id of a valid W3C ``traceparent`` the caller sent (32 hex digits),
else the caller's ``X-Request-Id`` when it is short and printable (at most 128 of
``A-Z a-z 0-9 - _ . : / + = @``), else a new trace id. The answer carries it back as
``X-Request-Id``, with a ``traceparent`` naming the request's trace (the caller's, or a new
one) and this server's span in it. While the request is served the ids are in the context
variables every log line reads (``grondslag.logformat``), and the trace context is what
the request's events record, for their NATS messages (``persistence.traces``).

Outermost of all (around litestar's own handler), so that a 404, a 413 or a 500 carries
an id too. With OpenTelemetry on (``grondslag.ledger.telemetry``) its server span is the
one named, and the trace is the one it continues.
"""

from __future__ import annotations

import os
import re
from typing import Any

from grondslag.logformat import REQUEST_ID, TRACE_ID

from ..persistence.traces import TRACEPARENT, current_traceparent
from .telemetry import name_by_route

REQUEST_ID_HEADER = b"x-request-id"
MAX_REQUEST_ID = 128
_PRINTABLE_ID = re.compile(rf"[A-Za-z0-9\-_.:/+=@]{{1,{MAX_REQUEST_ID}}}")
# version 00: version-traceid-parentid-flags, lower-case hex, no all-zero ids (W3C §3.2)
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")


def trace_id_of(traceparent: str | None) -> str | None:
    """The trace id of a valid ``traceparent``; None for an absent or invalid one."""
    if traceparent is None:
        return None
    found = _TRACEPARENT.fullmatch(traceparent.strip())
    if found is None:
        return None
    version, trace_id, parent_id, _ = found.groups()
    if version == "ff" or set(trace_id) == {"0"} or set(parent_id) == {"0"}:
        return None
    if version == "00" and len(traceparent.strip()) != 55:
        return None
    return trace_id


def request_id_of(value: str | None) -> str | None:
    """A caller's ``X-Request-Id`` when it is one we log as it is."""
    if value is not None and _PRINTABLE_ID.fullmatch(value):
        return value
    return None


class RequestIds:
    """ASGI middleware: the ids of each HTTP request (see the module's docstring)."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming, given_id = _headers(scope)
        continued = trace_id_of(incoming)
        request_id = continued or request_id_of(given_id)
        fresh = os.urandom(24).hex()  # a trace id (16 bytes) and our span's (8), one call
        trace_id = continued or fresh[:32]
        request_id = request_id or trace_id
        flags = incoming.strip()[-2:] if incoming and continued else "01"
        ours = f"00-{trace_id}-{fresh[32:]}-{flags}"
        tokens = (REQUEST_ID.set(request_id), TRACE_ID.set(trace_id), TRACEPARENT.set(ours))

        async def send_with_ids(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                name_by_route(scope)
                answer = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() not in (REQUEST_ID_HEADER, b"traceparent")
                ]
                # (read again: a server span, once begun, named the request's trace)
                answer.append((b"x-request-id", (REQUEST_ID.get() or request_id).encode()))
                answer.append((b"traceparent", (current_traceparent() or ours).encode()))
                message = {**message, "headers": answer}
            await send(message)

        try:
            await self.app(scope, receive, send_with_ids)
        finally:
            TRACEPARENT.reset(tokens[2])
            TRACE_ID.reset(tokens[1])
            REQUEST_ID.reset(tokens[0])


def _headers(scope: dict[str, Any]) -> tuple[str | None, str | None]:
    """The request's first ``traceparent`` and ``X-Request-Id``, as Latin-1 text."""
    traceparent = request_id = None
    for name, value in scope.get("headers", ()):
        name = name.lower()
        if name == b"traceparent" and traceparent is None:
            traceparent = value.decode("latin-1")
        elif name == REQUEST_ID_HEADER and request_id is None:
            request_id = value.decode("latin-1")
    return traceparent, request_id
