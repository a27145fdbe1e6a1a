"""The public links: one-click unsubscribe (R20, RFC 8058) and double opt-in confirmation.

No API key, no cookie. A GET shows a page and changes nothing (mail scanners fetch links);
a POST acts at once and answers 200 with a confirmation page, also when repeated; never a
redirect. A forged, altered or unknown token gets the same 404 page and changes nothing.
"""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import MediaType, Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.exceptions import TooManyRequestsException
from litestar.params import Parameter

from ..services.public_links import PublicLinks, Visit
from ..web import answers
from .messages import controller_footer, language, message

Token = Annotated[str, Parameter(description="the signed link token")]  # links.verify() checks it
WHY_NOT = {"invalid": 404, "expired": 410, "refused": 409}  # outcomes shown without the link


@get(
    "/u/{token:str}",
    include_in_schema=True,
    media_type=MediaType.HTML,
    tags=["public"],
    operation_id="unsubscribePage",
    summary="Unsubscribe page (changes nothing)",
)
async def unsubscribe_page(
    request: Request, token: Token, public_links: NamedDependency[PublicLinks]
) -> Response[str]:
    return _shown(request, "unsubscribe", await public_links.visit("unsubscribe", token))


@post(
    "/u/{token:str}",
    media_type=MediaType.HTML,
    tags=["public"],
    operation_id="unsubscribe",
    status_code=200,
    summary="One-click unsubscribe (RFC 8058): records the withdrawal or objection at once",
)
async def unsubscribe(
    request: Request, token: Token, public_links: NamedDependency[PublicLinks]
) -> Response[str]:
    return _shown(request, "unsubscribe", await public_links.unsubscribe(token))


@get(
    "/c/{token:str}",
    media_type=MediaType.HTML,
    tags=["public"],
    operation_id="confirmPage",
    summary="Double opt-in confirmation page (changes nothing)",
)
async def confirm_page(
    request: Request, token: Token, public_links: NamedDependency[PublicLinks]
) -> Response[str]:
    return _shown(request, "confirm", await public_links.visit("confirm", token))


@post(
    "/c/{token:str}",
    media_type=MediaType.HTML,
    tags=["public"],
    operation_id="confirm",
    status_code=200,
    summary="Confirm a double opt-in: records the consent (method double_opt_in)",
)
async def confirm(
    request: Request, token: Token, public_links: NamedDependency[PublicLinks]
) -> Response[str]:
    return _shown(request, "confirm", await public_links.confirm(token))


def _shown(request: Request, kind: Literal["unsubscribe", "confirm"], visit: Visit) -> Response:
    """The page of the visit's outcome: the question with its button, the confirmation, or
    why neither (invalid, expired, refused)."""
    if visit.link is None or visit.outcome in WHY_NOT:
        return message(request, visit.outcome, status=WHY_NOT[visit.outcome])
    button = f"{kind}.button" if visit.outcome == "ask" else None
    return message(
        request,
        f"{kind}.{visit.outcome}",
        button=button,
        footer=controller_footer(language(request), visit.link.controller),
        purpose=visit.link.terms.title,
        practice=visit.link.practice,
    )


def _unavailable(request: Request) -> Response[str]:
    return message(request, "unavailable", status=503)


def _too_many(request: Request, error: TooManyRequestsException) -> Response[str]:
    """The rate limit's refusal (``api/limits.py``) as a page for a person, not JSON."""
    retry = (error.headers or {}).get("Retry-After", "60")
    page = message(request, "too_many", status=429, seconds=retry)
    page.headers["Retry-After"] = retry
    return page


LINK_PAGES = Router(
    "/",
    route_handlers=[unsubscribe_page, unsubscribe, confirm_page, confirm],
    opt={
        "unavailable_page": _unavailable,
        **answers(
            404,
            409,
            410,
            429,
            why={
                404: "The link is forged, altered or unknown (the same page for each)",
                409: "The link can no longer act (e.g. its purpose no longer allows it)",
            },
        ),
    },
    exception_handlers={TooManyRequestsException: _too_many},
)
