"""The litestar application: wiring of controllers, errors, auth, idempotency and pools."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, get_args, get_origin

import anyio.to_thread
from litestar import Litestar, Request, Response
from litestar.di import Provide
from litestar.exceptions import SerializationException
from litestar.openapi import OpenAPIConfig

from ..application import Ledger
from ..audit import signing
from ..audit import store as audit_store
from ..bootstrap import build_ledger
from ..keys import KeyCache, ensure_bootstrap_key, load_pepper
from ..pages import PAGES
from ..persistence.warm_up import warm_up
from ..reads.pool import create_read_pool
from ..reads.replica import ReadRoute
from ..schema import ensure_schema
from ..services.newsletter import Newsletter
from ..services.public_links import PublicLinks
from ..settings import Settings
from . import http_metrics, telemetry
from .access_log import AccessLogController
from .arrival import note_arrivals
from .audit import AuditController
from .auth import BearerKeyMiddleware, authorize_without_copies
from .bases import BasisController, ObjectionController
from .checks import CheckController
from .consents import ConsentController
from .contract import document
from .erasure import ErasureController
from .export import ExportController
from .head import HeadAsGet
from .health import live, live_head, metrics, ready, ready_head
from .http_metrics import HttpMetrics
from .idempotency import IdempotencyMiddleware
from .json_body import out_of_range, unique_keys
from .keys import KeyController
from .limits import public_rate_limit, trusted_proxies
from .logs import redact_access_log
from .newsletter import NewsletterController
from .positions import LogPositions
from .problems import EXCEPTION_HANDLERS, Problem, ProblemError, malformed_body
from .purposes import PurposeController
from .query_names import QueryNames
from .representatives import RepresentativeController
from .request_ids import RequestIds
from .requests import RequestController, SubjectRequestController
from .restrictions import RestrictionController
from .single_headers import SingleHeaders
from .subjects import SubjectController
from .tenant import TenantController

JSON_TYPES = ("application/json", "application/merge-patch+json")
# a replica that does not answer this fast leaves the read to the primary (retried later)
REPLICA_CONNECT_SECONDS = 2.0


class LedgerRequest(Request):
    """A request whose JSON body, when its strings are not UTF-8, is malformed (400), and
    whose objects must name each key once and hold numbers msgspec can (``json_body``, 422).

    msgspec refuses broken JSON syntax with a ``DecodeError`` (400 already), and since 0.23
    bytes that are not UTF-8 inside a string too ("Invalid UTF-8 encoded string", which
    litestar wraps in a ``SerializationException``); up to 0.22 they escaped as a
    ``UnicodeDecodeError``. Both are the malformed-body problem naming UTF-8."""

    async def json(self) -> Any:
        try:
            decoded = await super().json()
        except (UnicodeDecodeError, SerializationException) as error:
            if isinstance(error, SerializationException) and "out of range" in str(error):
                raise out_of_range(await self.body()) from None
            if isinstance(error, SerializationException) and "UTF-8" not in str(error):
                raise
            raise malformed_body("the request body is not valid JSON: it is not UTF-8") from None
        if body := await self.body():
            unique_keys(body)
        return decoded


async def check_request(request: Request) -> None:
    """Before a handler's parameters are read: a write's body must be JSON, and the query
    must name only the operation's parameters (``query_names``)."""
    require_json(request)
    request.app.state.query_names.check(request)


def require_json(request: Request) -> None:
    """415 for writes whose body is not JSON (before the body is even read)."""
    if (
        request.method in ("POST", "PUT", "PATCH")
        and request.url.path.startswith("/v1/")
        and _has_body(request)
    ):
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media not in JSON_TYPES and not media.endswith("+json"):
            raise ProblemError(
                415,
                "Unsupported media type",
                f"send the body as application/json, not {media or 'nothing'}",
                field="Content-Type",
            )


def create_app(
    settings: Settings, ledger: Ledger | None = None, lifespans: Sequence[Any] = ()
) -> Litestar:
    """The API. ``ledger`` may be passed in (tests, serve); otherwise it is built at start."""

    redact_access_log()  # before the server logs a request (again below, once it started)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        redact_access_log()  # a server that configured its logging after create_app
        warm_up(_served_types(app))  # on this thread, before any command runs on another
        # one worker thread per write connection: commands queue for a thread, not a
        # connection. Litestar runs sync handlers on the loop's default executor (anyio's
        # limiter governs ``anyio.to_thread`` alone), whose own size is min(32, cores + 4)
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(settings.write_pool_size, thread_name_prefix="grondslag-command")
        )
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.write_pool_size
        owned = ledger is None
        app.state.ledger = ledger or await anyio.to_thread.run_sync(build_ledger, settings)
        assert settings.database_url, "the app is created with a database URL"
        app.state.pool = await create_read_pool(
            settings.database_url,
            max_size=settings.read_pool_size,
            connect_timeout=settings.database_wait_seconds,
        )
        replica = None
        if settings.database_read_url:  # connected on first use: it may be away at start
            replica = await create_read_pool(
                settings.database_read_url,
                min_size=0,
                max_size=settings.read_pool_size,
                connect_timeout=REPLICA_CONNECT_SECONDS,
            )
        app.state.reads = ReadRoute(
            app.state.pool, replica, wait_seconds=settings.read_wait_seconds
        )
        try:
            await ensure_schema(app.state.pool)
            await audit_store.create_tables(app.state.pool)
            app.state.audit_keys = signing.KeyFile(settings.signing_key_path)
            audit_key = await anyio.to_thread.run_sync(app.state.audit_keys.current)
            await audit_store.register_key(app.state.pool, audit_key)
            app.state.key_pepper = await anyio.to_thread.run_sync(
                load_pepper, settings.pepper_path, settings.key_pepper
            )
            if settings.bootstrap_key:
                await ensure_bootstrap_key(
                    app.state.pool,
                    settings.bootstrap_tenant,
                    settings.bootstrap_key,
                    pepper=app.state.key_pepper,
                )
            app.state.key_cache = KeyCache(app.state.pool, app.state.key_pepper)
            flusher = asyncio.create_task(app.state.key_cache.run_flusher())
            app.state.newsletter = Newsletter(app.state.ledger, app.state.pool, settings)
            app.state.public_links = PublicLinks(app.state.ledger, app.state.pool)
            try:
                yield
            finally:
                flusher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await flusher
        finally:
            await app.state.pool.close()
            if replica is not None:
                await replica.close()
            if owned:
                app.state.ledger.close()

    def provide_ledger(request: Request) -> Ledger:
        return request.app.state.ledger

    def provide_newsletter(request: Request) -> Newsletter:
        return request.app.state.newsletter

    def provide_public_links(request: Request) -> PublicLinks:
        return request.app.state.public_links

    app = Litestar(
        route_handlers=[
            PurposeController,
            SubjectController,
            ConsentController,
            CheckController,
            RepresentativeController,
            NewsletterController,
            PAGES,
            BasisController,
            ObjectionController,
            AuditController,
            ErasureController,
            live,
            live_head,
            ready,
            ready_head,
            metrics,
            TenantController,
            RestrictionController,
            ExportController,
            SubjectRequestController,
            RequestController,
            AccessLogController,
            KeyController,
        ],
        lifespan=[lifespan, http_metrics.sampling_process, *lifespans],
        state=_state(settings),
        dependencies={
            "ledger": Provide(provide_ledger, sync_to_thread=False),
            "newsletter": Provide(provide_newsletter, sync_to_thread=False),
            "public_links": Provide(provide_public_links, sync_to_thread=False),
        },
        middleware=[
            note_arrivals,
            *trusted_proxies(settings),
            public_rate_limit(settings),
            SingleHeaders,
            BearerKeyMiddleware,
            LogPositions,
            IdempotencyMiddleware,
        ],
        before_request=check_request,
        request_class=LedgerRequest,
        exception_handlers=EXCEPTION_HANDLERS,
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="Grondslag",
            version="1.0.0",
            description="Consent and legal-basis ledger: why may we process this person's "
            "data for this purpose, at any moment, with proof.",
            path="/schema",
        ),
        plugins=telemetry.plugins(),  # server spans, when OTEL_* asks for traces
        logging_config=None,  # the process's own (grondslag.logformat), not litestar's
        debug=False,
    )
    document(app)  # every answer of every operation, into the OpenAPI document
    authorize_without_copies(app)
    app.state.query_names = QueryNames(app)
    # outermost, around litestar's own handler: every answer (a 404 too) is counted and
    # carries its request id; a HEAD under /v1/ is served as its GET, without the body
    app.asgi_handler = RequestIds(HttpMetrics(HeadAsGet(app.asgi_handler)))  # type: ignore[assignment]
    return app


def _served_types(app: Litestar) -> list[Any]:
    """What the API decodes and answers: each handler's signature model (its body, path and
    query parameters, which litestar converts) and its response type; the problem document."""
    types: list[Any] = [Problem]
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            answer = handler.parsed_fn_signature.return_type.annotation
            wrapper = get_origin(answer) or answer
            if isinstance(wrapper, type) and issubclass(wrapper, Response):
                answer = get_args(answer)[0] if get_args(answer) else Any  # Response[Body]
            types += [handler.signature_model, answer]
    return types


def _has_body(request: Request) -> bool:
    """A POST without a body (e.g. "sign a checkpoint now") needs no content type."""
    length = request.headers.get("content-length")
    return "transfer-encoding" in request.headers or (length is not None and length != "0")


def _state(settings: Settings) -> Any:
    from litestar.datastructures import State

    return State({"settings": settings})
