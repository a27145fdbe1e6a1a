"""A header that is no list is given once.

RFC 9110 (§5.3) lets a recipient combine repeated field lines only for fields defined as
lists; for any other the request is malformed, and two readers may each take another line:
a proxy in front may have checked one ``Authorization`` and the service read the other, a
retry may be matched under either of two ``Idempotency-Key``\\s, a body be sent as JSON and
as something else. So on every path that takes a key, a request naming one of the headers
below twice is refused (400 naming it) before anything else reads it."""

from __future__ import annotations

from typing import Any

from .auth import needs_key
from .problems import ProblemError

SINGLE = {  # as sent (ASGI lower-cases them) → as named in the answer
    b"authorization": "Authorization",
    b"content-type": "Content-Type",
    b"idempotency-key": "Idempotency-Key",
    b"grondslag-min-position": "Grondslag-Min-Position",
}


class SingleHeaders:
    """Raw ASGI middleware, before the key is read (``auth.BearerKeyMiddleware``)."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and needs_key(scope["path"]):
            seen: set[bytes] = set()
            for name, _ in scope["headers"]:
                lower = name.lower()
                if lower in SINGLE:
                    if lower in seen:
                        raise _twice(lower)
                    seen.add(lower)
        await self.app(scope, receive, send)


def _twice(name: bytes) -> ProblemError:
    shown = SINGLE[name]
    return ProblemError(400, "Bad request", f"{shown} is given more than once", field=shown)
