"""``ETag``, ``If-Match`` and ``If-None-Match`` (RFC 9110 §8.8.3, §13.1) at the HTTP edge.

Reads of a purpose and of a standing answer their entity tag (``domain.preconditions``);
``If-None-Match`` answers 304 when the answer is fixed by it. Writes take ``If-Match`` (and,
on a subject, ``If-None-Match: *`` to create only): the header is parsed here — bad syntax
is a 400 naming it — and compared by the command with what it decides on (412 when stale).
A route that requires a precondition answers 428 without one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar, cast

from litestar import Response
from litestar.openapi import ResponseSpec
from litestar.params import HeaderParameter

from ..domain.preconditions import PRECONDITIONS, REQUIRED, Header, Precondition
from .problems import ProblemError, problem_type

T = TypeVar("T")
MAX_LENGTH = 1024
_TAG = r'(?:W/)?"[\x21\x23-\x7e\x80-\xff]*"'
_LIST = re.compile(rf"[ \t,]*{_TAG}(?:[ \t]*,[ \t,]*{_TAG})*[ \t,]*")
_ONE = re.compile(_TAG)

IfMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match",
        required=False,
        description="the `ETag` the write is based on (or `*`): 412 when the resource changed "
        "since; 400 when it is no list of entity tags (or over 1024 characters)",
    ),
]
IfNoneMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-None-Match",
        required=False,
        description="entity tags the caller holds: 304 on a read when one is current; `*` on "
        "a subject's PUT creates only; 400 when it is no list of entity tags (or over 1024 "
        "characters)",
    ),
]
ETAG = "the version of the streams the answer folds; send it as `If-Match`"
NOT_MODIFIED = {
    304: ResponseSpec(None, description="Not modified: the `If-None-Match` tag is current")
}


def parse(header: Header, value: str | None) -> Precondition | None:
    """The header's entity tags (``None`` tags for ``*``); 400 naming it when malformed."""
    if value is None:
        return None
    text = value.strip(" \t")
    if text == "*":
        return Precondition(header, None)
    if len(text) > MAX_LENGTH or not _LIST.fullmatch(text):
        raise ProblemError(
            400,
            "Bad request",
            f'{header} must be "*" or a list of entity tags such as "3" (RFC 9110 §13.1)',
            kind=problem_type("bad-precondition"),
            field=header,
        )
    return Precondition(header, tuple(_ONE.findall(text)))


@contextmanager
def conditions(
    if_match: str | None, if_none_match: str | None = None, *, required: bool = False
) -> Iterator[None]:
    """Run the write under the request's preconditions; with ``required`` and none, its
    command refuses it (428) once it found the resource (a missing one stays a 404)."""
    found = [
        p
        for h, v in (("If-Match", if_match), ("If-None-Match", if_none_match))
        if (p := parse(cast(Header, h), v)) is not None
    ]
    token = PRECONDITIONS.set(tuple(found) if found or not required else (REQUIRED,))
    try:
        yield
    finally:
        PRECONDITIONS.reset(token)


def tagged(content: T, tag: str, if_none_match: str | None, fixed: bool = True) -> Response[T]:
    """The answer with its ``ETag``, or 304 when ``If-None-Match`` holds the current tag and
    the answer is ``fixed`` by it (one that depends on the clock is answered in full)."""
    headers = {"ETag": tag}
    wanted = parse("If-None-Match", if_none_match)
    if fixed and wanted is not None and not wanted.holds(tag):
        return cast(Response[T], Response[Any](None, status_code=304, headers=headers))
    return Response(content, headers=headers)
