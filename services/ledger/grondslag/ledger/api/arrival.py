"""Notes when each request arrived, before anything else runs for it (``fail_fast``): a
request that queued, wherever, through a refused wait for a database connection then fails
at once instead of waiting in turn."""

from __future__ import annotations

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from ..persistence.fail_fast import note_arrival


def note_arrivals(app: ASGIApp) -> ASGIApp:
    async def arrived(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            note_arrival()
        await app(scope, receive, send)

    return arrived
