"""The OpenAPI document as the contract: every answer an operation can give.

Most of it follows from the route itself, the same facts the service acts on: a path the
bearer middleware guards takes a key (401; 403 without a role its ``requires`` guard names;
503 when the database cannot check the key); a body is parsed (400 malformed, 413, 415,
422); parameters are validated (422), and an operation under ``/v1/`` refuses a query naming
others (422: ``query_names``); a write that takes ``Idempotency-Key`` documents the
header (400 for a bad key, 422 for one reused) and ``Idempotent-Replayed``; a write's
successes carry ``Grondslag-Log-Position`` and a read takes ``Grondslag-Min-Position`` (400
for a bad one: ``positions``); a page that has its own 503 page answers its refusals as
HTML. What only the handler knows — a domain refusal (404, 409, …), a created resource's
``Location``, headers of its own — it declares beside itself with ``web.answers`` in its
decorator's ``opt``. :func:`document` writes all of it into the app's OpenAPI document,
once, when the app is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import msgspec
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import OpenAPI, SecurityScheme
from litestar.routes import HTTPRoute
from litestar.typing import FieldDefinition

from ..web import Answers
from .auth import RoleGuard, needs_key
from .examples import EXAMPLES
from .idempotency import MAX_KEY_LENGTH, takes_key
from .positions import (
    BAD_POSITION,
    LOG_POSITION,
    LOG_POSITION_TEXT,
    MIN_POSITION,
    MIN_POSITION_TEXT,
    answers_position,
    reads_through_replica,
)
from .problems import PROBLEM_JSON, Problem

HTML = "text/html"
BEARER = "bearer"
SECURITY_SCHEMES = {
    BEARER: SecurityScheme(
        type="http",
        scheme="bearer",
        bearer_format="gs_<key id>_<secret>",
        description="An API key of one tenant: `Authorization: Bearer gs_<key id>_<secret>` "
        "(`grondslag keys create`, or `POST /v1/keys`). The roles an operation lists are "
        "alternatives: a key holding any one of them may call it.",
    )
}

REASONS = {  # what each status means wherever it is answered; a route may say more
    401: "No API key, or an unknown or revoked one",
    404: "Not found: unknown, or another tenant's (the same answer)",
    409: "Refused by a rule (`rule` names it, `field` the field) or by the ledger's state "
    "(e.g. changed concurrently: retry)",
    410: "The link has expired",
    412: "The resource changed: the `If-Match` given is not its version now",
    413: "The body is larger than the service accepts",
    415: "The body is not `application/json`",
    428: "The call needs an `If-Match` header naming the version it changes",
    429: "Too many requests from this address: wait `Retry-After` seconds",
    503: "Not now: the database is unavailable (`database-unavailable`), a stored event cannot "
    "be read (`stream-unreadable`) or no checkpoint was signed in time "
    "(`checkpoint-pending`); retry after `Retry-After` seconds. `write-in-doubt`: the "
    "database went away after the write was sent, so it may have been recorded: retry with "
    "the same `Idempotency-Key`, or read before sending it again without one",
}
PROBLEM = (
    "An RFC 9457 problem detail, `application/problem+json`: `type` (a URN "
    "`urn:grondslag:problem:<kind>`, or `about:blank` for plain HTTP refusals), `title`, "
    "`status`, `detail`, `instance` (the path asked). The ledger adds `rule` (the rule of "
    "docs/rules.md that refused, `R1`…`R24`), `field` (the field, parameter or header at "
    "fault) and, for an invalid request, `errors` (each field at fault). Members without a "
    "value are left out."
)
MALFORMED = "the body is empty, not JSON, or not UTF-8 (`malformed-body`)"
BAD_KEY = "the `Idempotency-Key` is not 1–255 printable characters"
TWICE = (
    "a header that is no list (`Authorization`, `Content-Type`, `Idempotency-Key`, "
    "`Grondslag-Min-Position`) is given more than once"
)
INVALID = (
    "a field or parameter does not fit its type or range (`invalid-body`, `invalid-query`, "
    "`invalid-path` or `invalid-header`, by where it is; `field` and `errors` name each)"
)
STRAY_QUERY = (
    "the query names a parameter this operation does not take, or one of its parameters "
    "twice (`invalid-query`)"
)
REUSED = "the `Idempotency-Key` was used for another request"
BAD_TAGS = "an `If-Match` or `If-None-Match` that is no list of entity tags"
PRECONDITION_HEADERS = {"if_match", "if_none_match"}
RETRY_AFTER = {
    "description": "seconds to wait before trying again",
    "schema": {"type": "integer", "minimum": 0},
}
HEADERS_OF = {
    401: {
        "WWW-Authenticate": {
            "description": 'Bearer realm="grondslag"',
            "schema": {"type": "string"},
        }
    },
    429: {"Retry-After": RETRY_AFTER},
    503: {"Retry-After": RETRY_AFTER},
}
REPLAYED = {
    "description": "`true` when this is the stored answer to an earlier request with the same "
    "`Idempotency-Key` and body (nothing was recorded again)",
    "schema": {"type": "string", "enum": ["true"]},
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Makes the write happen at most once: the same key and body answer the "
    "first answer again (`Idempotent-Replayed: true`), another request under the same key "
    "is 422. Per tenant; a refusal (4xx) stores nothing, so it may be corrected and retried "
    "under the same key.",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
    "example": "intake-17",
}


POSITION_SCHEMA = {"type": "string", "pattern": "^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$"}
MIN_POSITION_PARAMETER = {
    "name": MIN_POSITION,
    "in": "header",
    "required": False,
    "description": MIN_POSITION_TEXT,
    "schema": POSITION_SCHEMA,
    "example": "0/16B3748",
}


@dataclass
class Contract:
    """Everything one operation can answer, derived and declared."""

    security: list[dict[str, list[str]]]
    refusals: dict[int, str]
    refusal_media: str
    idempotent: bool
    declared: Answers
    positioned: bool = False  # a write: its answers carry Grondslag-Log-Position
    at_position: bool = False  # a read: it takes Grondslag-Min-Position


def contract_of(path: str, method: str, handler: HTTPRouteHandler) -> Contract:
    """What ``method path`` answers: what its handler's guards, body, parameters and
    Idempotency-Key imply, and what it declares (``web.answers``)."""
    declared: Answers = handler.opt.get("answers") or Answers()
    bearer = needs_key(path)
    roles = [r for g in handler.resolve_guards() if isinstance(g, RoleGuard) for r in g.roles]
    html = "unavailable_page" in handler.opt  # a page for people: its refusals are pages too
    fields = handler.parsed_fn_signature.parameters
    dependencies = set(handler.resolve_dependencies())
    body = "data" in fields
    parameters = any(
        _may_be_refused(definition)
        for name, definition in fields.items()
        if name not in dependencies | {"data", "request", "self"}
    )
    idempotent = bearer and takes_key(method, path)
    positioned = bearer and answers_position(method, path)
    at_position = bearer and reads_through_replica(method, path)
    codes: dict[int, str] = {}
    if bearer:
        codes[401] = REASONS[401]
        if roles:
            codes[403] = f"The key lacks the role: this call needs one of {', '.join(roles)}"
    if bearer or html:
        codes[503] = REASONS[503]
    preconditions = bool(PRECONDITION_HEADERS & set(fields))
    bad = [MALFORMED] * body + [BAD_KEY] * idempotent + [BAD_TAGS] * preconditions
    bad += [TWICE] * bearer  # ``single_headers``
    bad += [BAD_POSITION] * at_position
    invalid = [INVALID] * (body or parameters) + [REUSED] * idempotent
    invalid += [STRAY_QUERY] * path.startswith("/v1/")  # ``query_names``
    if bad:
        codes[400] = "Malformed: " + "; or ".join(bad)
    if invalid:
        codes[422] = "Invalid: " + "; or ".join(invalid)
    if body or idempotent:
        codes[413] = REASONS[413]
    if method in ("POST", "PUT", "PATCH") and path.startswith("/v1/"):
        codes[415] = REASONS[415]  # ``require_json``: any write under /v1/ that sends a body
    for status, why in declared.refusals.items():
        codes[status] = why or REASONS.get(status) or HTTPStatus(status).phrase
    # the roles are alternatives: any one of them lets a key through
    security = ([{BEARER: [r]} for r in roles] or [{BEARER: []}]) if bearer else []
    media = HTML if html else PROBLEM_JSON
    return Contract(security, codes, media, idempotent, declared, positioned, at_position)


CONSTRAINTS = ("pattern", "min_length", "max_length", "ge", "gt", "le", "lt", "const", "enum")


def _may_be_refused(definition: FieldDefinition) -> bool:
    """Whether a path or query parameter's value can be refused (422): any but a plain
    string (the public links' token, which ``links.verify`` judges: 404)."""
    kwarg = definition.kwarg_definition
    constrained = kwarg is not None and any(getattr(kwarg, c, None) for c in CONSTRAINTS)
    return definition.annotation is not str or bool(definition.metadata) or constrained


def routes(app: Litestar) -> list[tuple[str, str, HTTPRouteHandler]]:
    """(path template, method, handler) of every operation in the document."""
    found: list[tuple[str, str, HTTPRouteHandler]] = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for method, (handler, _) in route.route_handler_map.items():
            if handler.resolve_include_in_schema() and method not in ("OPTIONS", "HEAD"):
                found.append((route.path_format, str(method), handler))
    return found


def document(app: Litestar) -> OpenAPI:
    """Write every operation's contract into the app's OpenAPI document (built here, once:
    the app serves, and ``grondslag schemas`` writes, this same object). Each operation
    becomes the plain mapping litestar would render, with the contract written in."""
    openapi = app.openapi_schema
    schemas, components = msgspec.json.schema_components(
        [Problem], ref_template="#/components/schemas/{name}"
    )
    components["Problem"] = _never_null(components["Problem"])
    components["Problem"]["description"] = PROBLEM
    schemas_now = {**(openapi.components.schemas or {}), **components}
    openapi.components.schemas = {
        name: _tidy(schema if isinstance(schema, dict) else schema.to_schema())
        for name, schema in schemas_now.items()
    }
    openapi.components.security_schemes = {
        **(openapi.components.security_schemes or {}),
        **SECURITY_SCHEMES,
    }
    for path, method, handler in routes(app):
        item = (openapi.paths or {})[path]
        operation = getattr(item, method.lower()).to_schema()
        _write(operation, contract_of(path, method, handler), handler, schemas[0])
        setattr(item, method.lower(), operation)
    return openapi


def _write(
    operation: dict[str, Any], contract: Contract, handler: HTTPRouteHandler, problem: Any
) -> None:
    responses: dict[str, Any] = operation["responses"]
    if "400" not in {str(status) for status in handler.responses or {}}:
        responses.pop("400", None)  # litestar's default, in a shape the service never sends
    success = str(handler.status_code)
    primary = responses[success]
    if success == "201" and handler.response_description is None:
        primary["description"] = (
            "Created: `Location` names the new resource"
            if contract.declared.location
            else "Recorded (an event of the ledger, which has no address of its own)"
        )
    for media in contract.declared.media_types:
        primary.setdefault("content", {})[media] = {"schema": {"type": "string"}}
    headers = dict(primary.get("headers") or {})
    if contract.declared.location:
        headers["Location"] = {
            "description": f"the resource created: `{contract.declared.location}`",
            "required": True,
            "schema": {"type": "string", "format": "uri-reference"},
        }
    for name, description in contract.declared.headers.items():
        headers[name] = {"description": description, "schema": {"type": "string"}}
    if contract.idempotent:
        headers["Idempotent-Replayed"] = REPLAYED
    if contract.positioned:
        headers[LOG_POSITION] = {"description": LOG_POSITION_TEXT, "schema": POSITION_SCHEMA}
    primary["headers"] = headers
    declared = contract.declared.successes
    for status, description in declared.items():
        responses[str(status)] = {**primary, "description": description}
    for status, description in contract.refusals.items():
        code = str(status)
        responses[code] = _refusal(responses.get(code), description, contract, problem)
    replayable = {str(s) for s in handler.responses or {}} | {success, *map(str, declared)}
    for code, answer in responses.items():
        more = dict(HEADERS_OF.get(int(code), {}))
        for name, text in contract.declared.refusal_headers.get(int(code), {}).items():
            more[name] = {"description": text, "schema": {"type": "string"}}
        if contract.idempotent and code in replayable:  # answers of a committed command
            more["Idempotent-Replayed"] = REPLAYED
        if more:
            answer["headers"] = {**(answer.get("headers") or {}), **more}
    operation["responses"] = dict(sorted(responses.items()))
    operation["security"] = contract.security
    parameters = operation.setdefault("parameters", [])
    if contract.idempotent:
        parameters.append(IDEMPOTENCY_KEY)
    if contract.at_position:
        parameters.append(MIN_POSITION_PARAMETER)
    for name, description in contract.declared.request_headers.items():
        parameters.append(
            {"name": name, "in": "header", "description": description, "schema": {"type": "string"}}
        )
    if not parameters:
        del operation["parameters"]
    examples = EXAMPLES.get(operation["operationId"])
    if examples and "requestBody" in operation:
        operation["requestBody"]["content"]["application/json"]["examples"] = {
            name: {"summary": summary, "value": value}
            for name, (summary, value) in examples.items()
        }


def _tidy(schema: Any) -> Any:
    """litestar's unions as JSON Schema means them: a ``oneOf`` of one schema is that schema,
    an empty member (``{}``, litestar's rendering of a constrained string inside a tuple)
    goes, and members that overlap (a value may match two) are an ``anyOf`` — a ``oneOf``
    would refuse every value both match."""
    if isinstance(schema, list):
        return [_tidy(member) for member in schema]
    if not isinstance(schema, dict):
        return schema
    tidy = {key: _tidy(value) for key, value in schema.items()}
    members = [m for m in tidy.pop("oneOf", None) or [] if m != {}]
    if len(members) == 1:
        tidy = {**members[0], **tidy}
    elif members:
        kinds = [m.get("type", "$ref" if "$ref" in m else None) for m in members]
        overlap = None in kinds or len(set(map(str, kinds))) < len(kinds)
        tidy["anyOf" if overlap else "oneOf"] = members
    return tidy


def _never_null(schema: dict[str, Any]) -> dict[str, Any]:
    """The Problem's optional members are left out, never null (``omit_defaults``)."""
    properties = {}
    for name, member in schema["properties"].items():
        kinds = [k for k in member.get("anyOf", []) if k != {"type": "null"}]
        properties[name] = kinds[0] if len(kinds) == 1 else member
    return {**schema, "properties": properties}


def _refusal(existing: Any, description: str, contract: Contract, problem: Any) -> Any:
    """A refusal's answer: the Problem as problem+json (a page as HTML). A shape the handler
    documents itself (``responses=``, e.g. the erasure's holds) stays, the Problem beside it."""
    if contract.refusal_media == HTML:
        return {"description": description, "content": {HTML: {"schema": {"type": "string"}}}}
    schema = problem
    own = (existing or {}).get("content", {}).get(PROBLEM_JSON)
    if own is not None:
        schema = {"anyOf": [own["schema"], problem]}
        description = f"{existing['description']}; otherwise: {description}"
    return {"description": description, "content": {PROBLEM_JSON: {"schema": schema}}}
