"""The auditor's session: signed in once with an API key that carries the ``auditor`` (or
``admin``) role, kept in an http-only, SameSite=Strict cookie limited to ``/audit``
(``Secure`` when the service is reached over https), and checked on every request like a
bearer key — by one guard, ``signed_in_auditor``, on the router of the auditor's pages."""

from __future__ import annotations

from urllib.parse import quote

from litestar import Request, Response, post
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Redirect

from ..keys import Principal
from ..web import AUDITORS
from .auditor_html import sign_in_page

COOKIE = "grondslag_auditor"
MAX_KEY_LENGTH = 200
SIGNED_IN_FOR = 8 * 3600  # seconds


class SignInRequired(Exception):
    """No auditor is signed in: the sign-in form answers in place of the page."""


async def signed_in_auditor(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """The guard of the auditor's pages: the cookie's key must carry an auditor role. Its
    principal is then the request's user, as a bearer key's is on the API."""
    principal = await _principal(connection, connection.cookies.get(COOKIE, ""))
    if principal is None or not principal.roles.intersection(AUDITORS):
        raise SignInRequired
    connection.scope["user"] = principal


def sign_in_instead(request: Request, _: SignInRequired) -> Response[str]:
    """The sign-in form in place of the page (401; the start page is the form itself, its
    ``signed_out_status`` 200), back to the page once signed in — or to the handler's
    ``return_to``, a path whose ``{names}`` are the request's path parameters."""
    options = request.route_handler.opt
    if "return_to" in options:
        params = {name: quote(str(value), safe="") for name, value in request.path_params.items()}
        next_path = options["return_to"].format(**params)
    else:
        query = f"?{request.url.query}" if request.url.query else ""
        next_path = request.url.path + query
    return sign_in_page(status=options.get("signed_out_status", 401), next_path=next_path)


@post("/sign-in", include_in_schema=False, status_code=303)
async def sign_in(request: Request) -> Response:
    try:
        form = await request.form()
    except UnicodeDecodeError:  # a multipart field that is not UTF-8
        return sign_in_page("The form could not be read; sign in again.", 400)
    key, next_path = str(form.get("key", "")).strip(), _next_path(form.get("next"))
    principal = await _principal(request, key)
    if principal is None:
        return sign_in_page("Unknown or revoked API key.", 401, next_path)
    if not principal.roles.intersection(AUDITORS):
        return sign_in_page("This key lacks the auditor role.", 403, next_path)
    return _signed_in(request, key, next_path)


@post("/sign-out", include_in_schema=False, status_code=303)
async def sign_out() -> Response:
    response: Response = Redirect("/audit", status_code=303)
    response.delete_cookie(COOKIE, path="/audit")
    return response


async def _principal(connection: ASGIConnection, key: str) -> Principal | None:
    """The key's principal; None for no key, an over-long one, or an unknown or revoked one."""
    if not key or len(key) > MAX_KEY_LENGTH:
        return None
    return await connection.app.state.key_cache.principal(key)


def _next_path(asked: object) -> str:
    """Where to go once signed in: a page of the auditor's, never another site."""
    next_path = str(asked if asked is not None else "/audit")
    return next_path if next_path.startswith("/audit") and "//" not in next_path else "/audit"


def _signed_in(request: Request, key: str, next_path: str) -> Response:
    """On to ``next_path``, with the key in the session cookie."""
    response: Response = Redirect(next_path, status_code=303)
    secure = request.app.state.settings.public_url.startswith("https://")
    response.set_cookie(
        COOKIE,
        key,
        path="/audit",
        httponly=True,
        samesite="strict",
        secure=secure,
        max_age=SIGNED_IN_FOR,
    )
    return response
