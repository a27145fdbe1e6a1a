"""Paged lists at the HTTP edge: ``limit`` and ``cursor`` as every list takes them, and the
``Link: <…>; rel="next"`` header (RFC 8288) beside the ``next`` of the body."""

from __future__ import annotations

from typing import Annotated, TypeVar
from urllib.parse import urlencode

from litestar import Request, Response
from litestar.params import QueryParameter

from ..reads.paging import DEFAULT_LIMIT, MAX_LIMIT

T = TypeVar("T")

Limit = Annotated[
    int,
    QueryParameter(ge=1, le=MAX_LIMIT, description=f"at most this many (default {DEFAULT_LIMIT})"),
]
Cursor = Annotated[
    str | None,
    QueryParameter(
        max_length=200,
        pattern=r"^[A-Za-z0-9_-]*(?!\n)$",
        required=False,
        description="the `next` of the page before (opaque)",
    ),
]
NEXT_LINK = '`<…>; rel="next"`: the next page, when there is one'


def paged(request: Request, content: T, following: str | None) -> Response[T]:
    """The page, with a ``Link`` to the next one when there is one."""
    if following is None:
        return Response(content)
    query = [(k, v) for k, v in request.url.query_params.multi_items() if k != "cursor"]
    target = f"{request.url.path}?{urlencode([*query, ('cursor', following)])}"
    return Response(content, headers={"Link": f'<{target}>; rel="next"'})
