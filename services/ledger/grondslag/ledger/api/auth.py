"""Bearer-key authentication and role guards.

Another tenant's key never sees this tenant's objects: every stream id includes the
tenant, so a foreign object is simply missing (404), exactly like an unknown one.
"""

from __future__ import annotations

import re
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from ..keys import Principal
from ..persistence.actors import ACTOR, key_actor

PUBLIC_PATHS = ["^/health", "^/schema", "^/u/", "^/c/", "^/audit"]  # /audit: cookie
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="grondslag"'}


class BearerKeyMiddleware(AbstractAuthenticationMiddleware):
    """Resolves ``Authorization: Bearer <key>`` to a :class:`Principal`."""

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise NotAuthorizedException(
                "an API key is required: Authorization: Bearer <key>", headers=_CHALLENGE
            )
        if len(key) > 200:
            raise NotAuthorizedException("unknown or revoked API key", headers=_CHALLENGE)
        principal = await connection.app.state.key_cache.principal(key.strip())
        if principal is None:
            raise NotAuthorizedException("unknown or revoked API key", headers=_CHALLENGE)
        # set in the request's own task: the handler (and the thread its command runs in)
        # inherits it, and every event the command records names this key (NEN 7513)
        ACTOR.set(key_actor(principal))
        return AuthenticationResult(user=principal, auth=None)


class RoleGuard:
    """A guard letting through keys that carry any of ``roles`` (async: litestar runs sync
    guards in a worker thread). The OpenAPI document names the roles (``api/contract.py``)."""

    def __init__(self, roles: tuple[str, ...]):
        self.roles = roles

    async def __call__(self, connection: ASGIConnection, _: BaseRouteHandler) -> None:
        principal: Principal | None = connection.scope.get("user")
        if principal is None:
            # The authentication middleware lets OPTIONS through without a key (litestar's
            # own answer, listing the allowed methods); the controllers' guards apply to it.
            if connection.scope.get("method") == "OPTIONS":  # HTTP (a websocket has none)
                return
            raise NotAuthorizedException(
                "an API key is required: Authorization: Bearer <key>", headers=_CHALLENGE
            )
        if not principal.roles.intersection(self.roles):
            raise PermissionDeniedException(
                f"this key lacks the role for this call (needs one of: {', '.join(self.roles)})"
            )


def requires(*roles: str) -> Any:
    """A guard letting through keys that carry any of ``roles``."""
    return RoleGuard(roles)


def needs_key(path: str) -> bool:
    """Whether the bearer middleware asks a request on ``path`` for a key."""
    return not any(re.match(pattern, path) for pattern in PUBLIC_PATHS)
