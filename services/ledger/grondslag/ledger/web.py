"""What the two HTTP rooms share, the JSON API (``api/``) and the pages (``pages/``): the
path parameters that name a subject, a purpose or an event, the role sets their guards
admit, and how a route declares the answers of its own that the OpenAPI document lists
(``api/contract.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated

from litestar.params import Parameter

SubjectRef = Annotated[
    str,
    Parameter(
        pattern=r"^[A-Za-z0-9._:@-]{1,128}(?!\n)$",
        description="the practice's own opaque id of the subject",
    ),
]
CodePath = Annotated[str, Parameter(pattern=r"^[a-z0-9-]{1,64}(?!\n)$", description="purpose code")]
# An event's id as its write answered it. A string the route takes as it comes and checks
# here, so that one that is no UUID is a 422 naming the parameter (litestar's own `uuid`
# path type would leave such a path unmatched: a bare 404).
EventIdPath = Annotated[
    str,
    Parameter(
        pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?!\n)$",
        schema_extra={"format": "uuid"},
        description="the event's id, as its write answered it",
    ),
]

READERS = ("reader", "writer", "auditor", "admin")  # every key may read
PROOF_READERS = ("reader", "auditor", "admin")  # checkpoints and proofs: witness copies
AUDITORS = ("auditor", "admin")  # history, exports, the auditor's pages


@dataclass(frozen=True)
class Answers:
    """What a route answers beyond what its guards, body, parameters and Idempotency-Key
    imply: its refusals (status → what it means here), further success statuses with the
    same body, the ``Location`` of the resource a 201 creates, headers of its own."""

    refusals: Mapping[int, str | None] = field(default_factory=dict)
    successes: Mapping[int, str] = field(default_factory=dict)
    location: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    request_headers: Mapping[str, str] = field(default_factory=dict)
    media_types: tuple[str, ...] = ()
    refusal_headers: Mapping[int, Mapping[str, str]] = field(default_factory=dict)


def answers(
    *refusals: int,
    why: Mapping[int, str] | None = None,
    successes: Mapping[int, str] | None = None,
    location: str | None = None,
    headers: Mapping[str, str] | None = None,
    request_headers: Mapping[str, str] | None = None,
    media_types: tuple[str, ...] = (),
    refusal_headers: Mapping[int, Mapping[str, str]] | None = None,
) -> dict[str, Answers]:
    """A route's own answers, for its decorator's ``opt`` (``opt=answers(404, 409)``):
    ``why`` says what a refusal means here, ``successes`` further 2xx with the same body,
    ``location`` the created resource (``/v1/requests/{request_id}``: sent by the handler),
    ``headers`` the success answer's own headers, ``request_headers`` the request headers it
    reads (name → description), ``media_types`` further media types of its success answer,
    ``refusal_headers`` the headers a refusal carries (status → name → description)."""
    reasons: dict[int, str | None] = dict.fromkeys(refusals)
    reasons.update(why or {})
    return {
        "answers": Answers(
            refusals=reasons,
            successes=dict(successes or {}),
            location=location,
            headers=dict(headers or {}),
            request_headers=dict(request_headers or {}),
            media_types=media_types,
            refusal_headers=dict(refusal_headers or {}),
        )
    }
