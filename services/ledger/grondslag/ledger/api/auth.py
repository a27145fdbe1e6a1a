"""Bearer-key authentication and role guards.

Another tenant's key never sees this tenant's objects: every stream id includes the
tenant, so a foreign object is simply missing (404), exactly like an unknown one.
"""

from __future__ import annotations

import warnings
from typing import Any

from litestar import Litestar
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from ..keys import Principal
from ..persistence.actors import ACTOR, key_actor

# the paths that take no key: health, the OpenAPI document, the public links, and the
# auditor's pages (a session cookie)
PUBLIC_PREFIXES = ("/health", "/schema", "/u/", "/c/", "/audit")
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="grondslag"'}
_SCOPES = frozenset({"http", "websocket"})


class BearerKeyMiddleware:
    """Raw ASGI middleware resolving ``Authorization: Bearer <key>`` to a :class:`Principal`
    (``scope["user"]``) on every path but the public ones; OPTIONS passes without a key
    (litestar's own answer, and the guards let it through).

    Raw rather than litestar's authentication middleware, which builds a connection and
    parses every header into a multidict for each request to read one of them."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if (
            scope["type"] in _SCOPES
            and scope.get("method") != "OPTIONS"
            and needs_key(scope["path"])
        ):
            principal = await authenticate(scope)
            scope["user"], scope["auth"] = principal, None
        await self.app(scope, receive, send)


async def authenticate(scope: Any) -> Principal:
    """The caller's principal; 401 with a challenge for a missing, unknown or revoked key."""
    header = _authorization(scope)
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise NotAuthorizedException(
            "an API key is required: Authorization: Bearer <key>", headers=_CHALLENGE
        )
    if len(key) > 200:
        raise NotAuthorizedException("unknown or revoked API key", headers=_CHALLENGE)
    principal = await scope["app"].state.key_cache.principal(key.strip())
    if principal is None:
        raise NotAuthorizedException("unknown or revoked API key", headers=_CHALLENGE)
    # set in the request's own task: the handler (and the thread its command runs in)
    # inherits it, and every event the command records names this key (NEN 7513)
    ACTOR.set(key_actor(principal))
    return principal


def _authorization(scope: Any) -> str:
    """The ``Authorization`` header, as Latin-1 text ("" when there is none; given twice it
    was refused before, ``single_headers``)."""
    for name, value in scope["headers"]:
        if len(name) == 13 and name.lower() == b"authorization":
            return value.decode("latin-1")
    return ""


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


def authorize_without_copies(app: Litestar) -> None:
    """Litestar hands each guard a copy of the route handler (that no guard may change it for
    the next request): a copy of an object of some forty slots for every guarded request, a
    twentieth of a standing read. A role guard never looks at the handler, so a route that
    role guards alone guard is authorized by calling them with the handler itself: its
    handler becomes of a subclass (no new slots) that does just that."""
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            guards = handler.resolve_guards()
            if guards and all(isinstance(guard, RoleGuard) for guard in guards):
                handler.__class__ = _role_guarded(type(handler))


_ROLE_GUARDED: dict[type, type] = {}


def _role_guarded(cls: type[BaseRouteHandler]) -> type[BaseRouteHandler]:
    if cls not in _ROLE_GUARDED:

        async def authorize_connection(self: BaseRouteHandler, connection: ASGIConnection) -> None:
            for guard in self.resolve_guards():
                await guard(connection, self)  # type: ignore[misc]

        namespace = {"__slots__": (), "authorize_connection": authorize_connection}
        with warnings.catch_warnings():  # litestar warns of subclasses of its ``put`` & co.
            warnings.simplefilter("ignore", DeprecationWarning)
            _ROLE_GUARDED[cls] = type(f"RoleGuarded{cls.__name__}", (cls,), namespace)
    return _ROLE_GUARDED[cls]


def requires(*roles: str) -> Any:
    """A guard letting through keys that carry any of ``roles``."""
    return RoleGuard(roles)


def needs_key(path: str) -> bool:
    """Whether the bearer middleware asks a request on ``path`` for a key."""
    return not path.startswith(PUBLIC_PREFIXES)
