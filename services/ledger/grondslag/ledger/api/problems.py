"""RFC 9457 problem+json answers for every refusal, and the mapping of errors to them."""

from __future__ import annotations

import logging
import re
import socket
from datetime import datetime
from typing import Any

import asyncpg
import msgspec
import psycopg
import psycopg_pool
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.params import ParameterKwarg
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from ..domain.bounds import check_instant
from ..domain.errors import (
    ConcurrentChange,
    DomainError,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    RuleViolated,
)
from ..domain.values import LINE_PATTERN, TEXT_PATTERN, URL_PATTERN
from ..envelope import KeyUnavailable
from ..persistence.dossiers import StreamUnreadable
from ..persistence.in_doubt import CommitInDoubt
from ..reads.audit import NotYetSigned
from .logs import redacted

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("grondslag.api")


class FieldError(msgspec.Struct):
    """One field or parameter at fault in a 422, and where it was (body, query, path, …)."""

    field: str | None
    message: str
    source: str | None = None


class Problem(msgspec.Struct, omit_defaults=True):
    """An RFC 9457 problem detail (``type``, ``title``, ``status``, ``detail``, ``instance``);
    ``rule`` names the rule of docs/rules.md that refused, ``field`` the field, parameter or
    header at fault, ``errors`` each field at fault of an invalid request."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    rule: str | None = None
    field: str | None = None
    errors: list[FieldError] | None = None


class ProblemError(Exception):
    """Raise to answer with a problem directly (e.g. from middleware)."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        kind: str = "about:blank",
        headers: dict[str, str] | None = None,
        **extra: Any,
    ):
        super().__init__(detail)
        self.problem = Problem(type=kind, title=title, status=status, detail=detail, **extra)
        self.headers = headers or {}


def aware(name: str, moment: datetime | None) -> datetime | None:
    """Query times must carry an offset (RFC 3339) and lie in the ledger's range of instants
    (``domain.bounds``): a naive time is ambiguous and one outside the range cannot be
    folded, so 422 naming the parameter."""
    try:
        check_instant(name, moment)
    except InvalidInput as error:
        raise ProblemError(
            422,
            "Invalid request",
            error.detail,
            kind=problem_type("invalid-query"),
            field=name,
        ) from None
    return moment


def problem_type(kind: str) -> str:
    return f"urn:grondslag:problem:{kind}"


def invalid_request(errors: list[FieldError]) -> ProblemError:
    """422 naming each field at fault, typed by where the first one is (``invalid-body``,
    ``invalid-query``, …), for a refusal made before litestar validates the request."""
    first = errors[0]
    return ProblemError(
        422,
        "Invalid request",
        "; ".join(f"{e.field or 'the body'}: {e.message}" for e in errors),
        kind=problem_type(f"invalid-{first.source}"),
        field=first.field,
        errors=errors,
    )


def malformed_body(detail: str = "the request body is not valid JSON") -> ProblemError:
    """400: a body that is not JSON at all (broken syntax, bytes that are not UTF-8)."""
    return ProblemError(400, "Malformed JSON", detail, kind=problem_type("malformed-body"))


def problem_response(
    problem: Problem, request: Request | None = None, headers: dict[str, str] | None = None
) -> Response[Problem]:
    if request is not None and problem.instance is None:
        problem.instance = request.url.path
    return Response(problem, status_code=problem.status, media_type=PROBLEM_JSON, headers=headers)


def on_problem_error(request: Request, error: ProblemError) -> Response[Problem]:
    return problem_response(error.problem, request, error.headers)


def on_domain_error(request: Request, error: DomainError) -> Response[Problem]:
    if isinstance(error, NotFound):
        status, kind, title = 404, "not-found", "Not found"
    elif isinstance(error, RuleViolated):
        status, kind, title = 409, "rule-violated", f"Refused by rule {error.rule}"
    elif isinstance(error, ConcurrentChange):
        status, kind, title = 409, "concurrent-change", "Changed concurrently"
    elif isinstance(error, InvalidInput):
        status, kind, title = 422, "invalid-input", "Invalid input"
    elif isinstance(error, PreconditionFailed):
        status, kind, title = 412, "precondition-failed", "Precondition failed"
    elif isinstance(error, PreconditionRequired):
        status, kind, title = 428, "precondition-required", "Precondition required"
    else:
        status, kind, title = 409, "conflict", "Conflict"
    problem = Problem(
        type=problem_type(kind),
        title=title,
        status=status,
        detail=error.detail,
        rule=error.rule,
        field=error.field,
    )
    return problem_response(problem, request)


_AT = re.compile(r" - at `\$\.?([^`]*)`")
_NAMED = re.compile(r"(?:unknown|missing required) field `([^`]*)`")


def _field_of(message: str) -> str | None:
    """The dotted path of the field a msgspec message is about (``evidence.sha256``)."""
    at, named = _AT.search(message), _NAMED.search(message)
    parts = [at.group(1) if at else "", named.group(1) if named else ""]
    return ".".join(p for p in parts if p) or None


def _public_name(request: Request, name: str) -> str:
    """The name a client sends a parameter by (``from``), for the handler argument litestar
    names (``recorded_from``), when the handler gives it another."""
    parameter = request.route_handler.parsed_fn_signature.parameters.get(name)
    kwarg = parameter.kwarg_definition if parameter is not None else None
    if isinstance(kwarg, ParameterKwarg):
        return kwarg.query or kwarg.header or kwarg.name or name
    return name


def on_validation_error(request: Request, error: ValidationException) -> Response[Problem]:
    """Bodies and parameters that do not fit their types: 422 naming each field at fault,
    typed by where it was (``invalid-body``, ``invalid-query``, ``invalid-path``,
    ``invalid-header``).

    Syntactically broken JSON is 400: there is nothing to name yet; so is an empty body.
    """
    errors = []
    for item in error.extra if isinstance(error.extra, list) else []:
        message = _in_words(_unrepr(str(item.get("message", ""))))
        source = _source(item.get("source"))
        if source == "body" and item.get("key") == "data" and message == "'data'":
            return problem_response(malformed_body(EMPTY_BODY).problem, request)
        name = _field_of(message) or item.get("key")
        if source == "body" and name == "data":  # litestar's name of the body as a whole
            name = None
        elif source in ("query", "header") and name:
            name = _public_name(request, name)
        errors.append(FieldError(name, _AT.sub("", message), source))
    if not errors and (missing := _MISSING.match(str(error.detail))):
        where, name = missing.groups()
        errors.append(FieldError(name, f"the {where} parameter is required", where))
    malformed = any("malformed" in e.message.lower() for e in errors) or (
        not errors and "malformed" in str(error.detail).lower()
    )
    if malformed:
        return problem_response(malformed_body().problem, request)
    first = errors[0] if errors else None
    detail = "; ".join(f"{e.field or 'the body'}: {e.message}" for e in errors) or str(error.detail)
    problem = Problem(
        type=problem_type(
            f"invalid-{first.source if first and first.source in _SOURCES else 'body'}"
        ),
        title="Invalid request",
        status=422,
        detail=detail,
        field=first.field if first else None,
        errors=errors or None,
    )
    return problem_response(problem, request)


EMPTY_BODY = "the request body is empty: this operation takes a JSON object"
_SOURCES = frozenset({"body", "query", "path", "header"})  # where litestar found the value
# litestar's words for a required parameter that is absent (it names no field of its own)
_MISSING = re.compile(r"Missing required (query|path|header) parameter '([^']+)'")


# what a pattern of the request types means, in words (msgspec's message quotes the regex)
_IN_WORDS = {
    LINE_PATTERN: "one line of text, without control characters (no line break, tab or "
    "escape) or direction overrides",
    TEXT_PATTERN: "text without control characters (but tabs and line breaks) or direction "
    "overrides",
    URL_PATTERN: "an http(s) URL without spaces or control characters",
}


def _in_words(message: str) -> str:
    for pattern, words in _IN_WORDS.items():
        message = message.replace(f"`str` matching regex '{pattern}'", words)
    return message


def _unrepr(message: str) -> str:
    """msgspec quotes a pattern as Python's ``repr`` does, each backslash doubled: the
    pattern as it is written (``\\d``, not ``\\\\d``), so that JSON escapes it once."""
    return message.replace("\\\\", "\\")


def _source(source: Any) -> str | None:
    """Where litestar found the value at fault (``body``, ``query``, ``path``, ``header``…)."""
    return None if source is None else str(getattr(source, "value", source))


# litestar's 400s for a body msgspec cannot parse ("Input data was truncated": cut short)
MALFORMED_WORDS = ("malformed", "decode", "truncated")


def on_http_exception(request: Request, error: HTTPException) -> Response[Problem]:
    status = error.status_code
    detail = error.detail if isinstance(error.detail, str) else None
    title = {
        400: "Bad request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not found",
        405: "Method not allowed",
        413: "Request body too large",
        415: "Unsupported media type",
        429: "Too many requests",
    }.get(status, "HTTP error")
    if status == 400 and detail and any(w in detail.lower() for w in MALFORMED_WORDS):
        problem = malformed_body().problem  # the same problem as a body msgspec cannot parse
        return problem_response(problem, request, getattr(error, "headers", None))
    problem = Problem(type="about:blank", title=title, status=status, detail=detail)
    return problem_response(problem, request, getattr(error, "headers", None))


def on_too_deep(request: Request, error: RecursionError) -> Response[Problem]:
    """A body nested so deeply that the decoder gives up is bad input, not a failure."""
    problem = Problem(
        type=problem_type("malformed-body"),
        title="Body nested too deeply",
        status=400,
        detail="the JSON body is nested too deeply to be a request",
    )
    return problem_response(problem, request)


def on_unreadable(request: Request, error: StreamUnreadable) -> Response[Problem]:
    """A stored event that cannot be decoded: no answer without it, never a wrong one."""
    log.error("unreadable stream on %s %s: %s", request.method, redacted(request.url.path), error)
    problem = Problem(
        type=problem_type("stream-unreadable"),
        title="Stream unreadable",
        status=503,
        detail=f"stream {error.stream} holds an event the ledger cannot read; an operator "
        "must repair it (grondslag quarantine list names it); nothing was recorded",
    )
    return problem_response(problem, request, {"Retry-After": "60"})


def on_key_unavailable(request: Request, error: KeyUnavailable) -> Response[Problem]:
    """Personal data sealed under a key-encryption key this process does not hold (a
    restore without its ``master-keys``): no answer without it, never a wrong one."""
    log.error("key unavailable on %s %s: %s", request.method, redacted(request.url.path), error)
    problem = Problem(
        type=problem_type("key-unavailable"),
        title="Key unavailable",
        status=503,
        detail="the subject's data is sealed under a key-encryption key this service does not "
        "hold: an operator must put back the master-keys file it was backed up with (README: "
        "Backup and restore); nothing was recorded",
    )
    return problem_response(problem, request, {"Retry-After": "60"})


# -- the database away: 503 ---------------------------------------------------------------

RETRY_AFTER_SECONDS = 5
# SQLSTATEs of a server that cannot serve now, whichever driver reports them: a connection
# exception (08: refused, lost, closed in the middle of a query), insufficient resources
# (53: too many clients, out of memory, disk full), and of operator intervention (57) the
# shutdowns and the refusals while starting up, shutting down or recovering — not a
# cancelled query (57014: a statement timeout is not an outage); and a transaction the
# server rolled back (40: a deadlock, a serialization failure), of which nothing was
# stored and which succeeds when tried again
UNAVAILABLE_CLASSES = ("08", "53", "40")
ROLLED_BACK_CLASS = "40"
UNAVAILABLE_STATES = frozenset({"57P01", "57P02", "57P03"})  # admin, crash, cannot connect now
# asyncpg's own words for a connection or pool it closed (an InterfaceError, no SQLSTATE)
_ASYNCPG_CLOSED = ("connection is closed", "pool is closing", "pool is closed")


def database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` (or what it was raised from) says the database is away: down,
    refusing connections, out of connections, shutting down, the connection reset mid-query,
    or no connection within the wait. eventsourcing raises its own ``OperationalError`` /
    ``InterfaceError`` *from* psycopg's, hence the walk along ``__cause__``."""
    seen = 0
    cause: BaseException | None = error
    while cause is not None and seen < 10:
        if _unavailable(cause):
            return True
        cause, seen = cause.__cause__, seen + 1
    return False


def _unavailable(error: BaseException) -> bool:
    if isinstance(error, psycopg_pool.PoolTimeout | psycopg_pool.TooManyRequests):
        return True  # no connection within the wait (the pool cannot connect, or is full)
    state = getattr(error, "sqlstate", None)
    if isinstance(error, psycopg.Error | asyncpg.PostgresError) and state:
        return state[:2] in UNAVAILABLE_CLASSES or state in UNAVAILABLE_STATES
    if isinstance(error, psycopg.OperationalError):
        return True  # without a SQLSTATE: client side (refused, closed, lost, timed out)
    if isinstance(error, asyncpg.InterfaceError):
        return str(error).startswith(_ASYNCPG_CLOSED)
    if isinstance(error, asyncpg.InternalClientError):
        # a pooled connection left mid-operation while the server refused or dropped its
        # sessions (asyncpg issues 784 and 1069: "cannot switch to state 11; another
        # operation (2) is in progress"); the pool discards it, the next request connects
        return str(error).startswith("cannot switch to state")
    # asyncpg connecting: refused, reset, a name that does not resolve, no answer in time
    return isinstance(error, ConnectionError | TimeoutError | socket.gaierror)


def on_database_unavailable(request: Request, error: BaseException) -> Response[Any]:
    """503 with Retry-After; a route that serves HTML answers with its own page (the
    ``unavailable_page`` of its options, a function of the request)."""
    log.warning(
        "database unavailable on %s %s: %s: %s",
        request.method,
        redacted(request.url.path),
        type(error).__name__,
        str(error).splitlines()[0] if str(error) else "",
    )
    problem = Problem(
        type=problem_type("database-unavailable"),
        title="Database unavailable",
        status=503,
        detail="the database rolled back this request's transaction (a deadlock or a "
        "serialization failure); nothing was recorded: retry after the Retry-After delay"
        if _rolled_back(error)
        else "the ledger cannot reach its database just now (down, restarting or out of "
        "connections); retry after the Retry-After delay",
    )
    return _not_now(request, problem)


def _not_now(request: Request, problem: Problem, page: str = "unavailable_page") -> Response[Any]:
    """A 503 with Retry-After: the route's own HTML page (its option ``page``) or ``problem``."""
    retry = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    html = _unavailable_page(request, page)
    if html is not None:
        html.headers.update(retry)
        return html
    return problem_response(problem, request, retry)


def _rolled_back(error: BaseException | None) -> bool:
    seen = 0
    while error is not None and seen < 10:
        state = getattr(error, "sqlstate", None)
        if isinstance(state, str) and state.startswith(ROLLED_BACK_CLASS):
            return True
        error, seen = error.__cause__, seen + 1
    return False


def _unavailable_page(request: Request, option: str = "unavailable_page") -> Response[str] | None:
    """The 503 page of a route that serves HTML: the function its options name under
    ``option``, of the request (``None`` for the JSON routes)."""
    handler = request.scope.get("route_handler")
    render = handler.opt.get(option) if handler is not None else None
    return render(request) if render is not None else None


# -- no signed checkpoint in time: 503 ------------------------------------------------------


def on_not_yet_signed(request: Request, error: NotYetSigned) -> Response[Any]:
    """503: the answer needs a signed checkpoint, and the checkpointer signed none in time;
    a route that serves HTML answers with its ``not_yet_signed_page``."""
    log.warning(
        "no checkpoint in time on %s %s: %s", request.method, redacted(request.url.path), error
    )
    problem = Problem(
        type=problem_type("checkpoint-pending"),
        title="No signed checkpoint yet",
        status=503,
        detail=str(error),
    )
    return _not_now(request, problem, "not_yet_signed_page")


def on_commit_in_doubt(request: Request, error: CommitInDoubt) -> Response[Any]:
    """503 of its own type: the write may have been recorded (``persistence.in_doubt``)."""
    log.warning("write in doubt on %s %s: %s", request.method, redacted(request.url.path), error)
    problem = Problem(
        type=problem_type("write-in-doubt"),
        title="Write in doubt",
        status=503,
        detail="the database went away after this write was sent and before it answered: "
        "it may have been recorded, or not. Send it again with the same Idempotency-Key "
        "(the answer is then what was recorded, once), or read the subject's history before "
        "sending it again without one",
    )
    return _not_now(request, problem)


def on_unexpected(request: Request, error: Exception) -> Response[Any]:
    if database_unavailable(error):
        return on_database_unavailable(request, error)
    log.exception(
        "unexpected error on %s %s", request.method, redacted(request.url.path), exc_info=error
    )
    problem = Problem(
        type="about:blank",
        title="Internal server error",
        status=HTTP_500_INTERNAL_SERVER_ERROR,
        detail="the ledger failed unexpectedly; the server log has the details",
    )
    return problem_response(problem, request)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    ProblemError: on_problem_error,
    DomainError: on_domain_error,
    ValidationException: on_validation_error,
    HTTPException: on_http_exception,
    RecursionError: on_too_deep,
    StreamUnreadable: on_unreadable,
    KeyUnavailable: on_key_unavailable,
    NotYetSigned: on_not_yet_signed,
    CommitInDoubt: on_commit_in_doubt,
    Exception: on_unexpected,  # first asks database_unavailable(): 503, else 500
}

__all__ = ["EXCEPTION_HANDLERS", "PROBLEM_JSON", "MediaType", "Problem", "ProblemError"]
