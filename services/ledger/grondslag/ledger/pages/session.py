"""The auditor's session: signed in once with an API key that carries the ``auditor`` role
and no role that changes anything (least privilege), the browser holds a random session id
(never the key) in an http-only, SameSite=Strict cookie limited to ``/audit`` (``Secure``
over https), checked on every request against the database (``auditor_sessions``) by one
guard, ``signed_in_auditor``, on the router of the auditor's pages. Sign-out revokes the
session; revoking the key ends it too. Sign-in and sign-out are refused (403) when a
browser says they come from another site (``Origin``, else ``Sec-Fetch-Site``, else
``Referer``): no foreign page can sign a visitor in as somebody else, or out."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote, urlsplit

from litestar import Request, Response, post
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Redirect

from ..auditor_sessions import end_session, open_session, session_principal
from ..keys import Principal
from .auditor_html import cross_site_page, sign_in_page

COOKIE = "grondslag_auditor"
MAX_KEY_LENGTH = 200
# design choice (least privilege): the auditor's pages only read, so the key signed in with
# must carry ``auditor`` and nothing that writes or administers
SIGN_IN_ROLES = frozenset({"auditor", "reader", "metrics"})


class SignInRequired(Exception):
    """No auditor is signed in: the sign-in form answers in place of the page."""


def may_sign_in(principal: Principal) -> bool:
    return "auditor" in principal.roles and principal.roles <= SIGN_IN_ROLES


async def signed_in_auditor(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """The guard of the auditor's pages: the cookie's session must be live and its key
    still an auditor's. Its principal is then the request's user, as a bearer key's is on
    the API."""
    settings = connection.app.state.settings
    idle = timedelta(minutes=settings.auditor_idle_minutes)
    session_id = connection.cookies.get(COOKIE, "")
    principal = await session_principal(connection.app.state.pool, session_id, idle)
    if principal is None or not may_sign_in(principal):
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
    if (header := cross_site(request)) is not None:
        return cross_site_page(header)
    try:
        form = await request.form()
    except UnicodeDecodeError:  # a multipart field that is not UTF-8
        return sign_in_page("The form could not be read; sign in again.", 400)
    key, next_path = str(form.get("key", "")).strip(), _next_path(form.get("next"))
    principal = await _principal(request, key)
    if principal is None:
        return sign_in_page("Unknown or revoked API key.", 401, next_path)
    if "auditor" not in principal.roles:
        return sign_in_page("This key lacks the auditor role.", 403, next_path)
    if not may_sign_in(principal):
        return sign_in_page(
            "This key may change the register (writer or admin role): sign in with a key "
            "that carries the auditor role alone.",
            403,
            next_path,
        )
    settings = request.app.state.settings
    lasts = timedelta(hours=settings.auditor_session_hours)
    session_id = await open_session(request.app.state.pool, principal, lasts)
    response: Response = Redirect(next_path, status_code=303)
    response.set_cookie(
        COOKIE,
        session_id,
        path="/audit",
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        max_age=int(lasts.total_seconds()),
    )
    return response


@post("/sign-out", include_in_schema=False, status_code=303)
async def sign_out(request: Request) -> Response:
    if (header := cross_site(request)) is not None:
        return cross_site_page(header)
    await end_session(request.app.state.pool, request.cookies.get(COOKIE, ""))
    response: Response = Redirect("/audit", status_code=303)
    response.delete_cookie(COOKIE, path="/audit")
    return response


def cross_site(request: Request) -> str | None:
    """The header that shows the request came from another site, or None.

    ``Sec-Fetch-Site`` (which no page can set) must say ``same-origin``, or ``none`` for a
    person's own navigation; ``Origin`` must be one of the service's own — where it is the
    opaque ``null`` (what Chromium sends for a same-origin form under the pages'
    ``Referrer-Policy: no-referrer``) only ``Sec-Fetch-Site`` can vouch for it; with neither
    header, ``Referer``'s origin must be ours. A request with none of the three comes from
    no browser's cross-site form (a script, curl) and passes: login CSRF needs a victim's
    browser. The service's own origins: ``GRONDSLAG_PUBLIC_URL``'s, and the request's own
    (its scheme and ``Host``)."""
    own = _own_origins(request)
    site = request.headers.get("sec-fetch-site")
    if site is not None and site.strip().lower() not in ("same-origin", "none"):
        return "Sec-Fetch-Site"
    origin = request.headers.get("origin")
    if origin is not None:
        origin = origin.strip().lower()
        if origin == "null":
            return None if site is not None else "Origin"
        return None if origin in own else "Origin"
    if site is not None:
        return None
    referer = request.headers.get("referer")
    if referer:
        parts = urlsplit(referer)
        return None if f"{parts.scheme}://{parts.netloc}".lower() in own else "Referer"
    return None


def _own_origins(request: Request) -> set[str]:
    public = urlsplit(request.app.state.settings.public_url)
    origins = {f"{public.scheme}://{public.netloc}".lower()}
    if host := request.headers.get("host"):
        origins.add(f"{request.url.scheme}://{host}".lower())
    return origins


def _secure(request: Request) -> bool:
    configured = request.app.state.settings.cookie_secure
    if configured is not None:
        return bool(configured)
    public_https = request.app.state.settings.public_url.startswith("https://")
    return public_https or request.url.scheme == "https"


async def _principal(connection: ASGIConnection, key: str) -> Principal | None:
    """The key's principal; None for no key, an over-long one, or an unknown or revoked one."""
    if not key or len(key) > MAX_KEY_LENGTH:
        return None
    return await connection.app.state.key_cache.principal(key)


def _next_path(asked: object) -> str:
    """Where to go once signed in: a page of the auditor's, never another site."""
    next_path = str(asked if asked is not None else "/audit")
    return next_path if next_path.startswith("/audit") and "//" not in next_path else "/audit"
