"""OpenTelemetry traces, off unless configured: an HTTP server span per request
(litestar's plugin) with the SQL it ran as child spans (asyncpg for the reads,
psycopg for the event store's writes, in their worker threads).

On when the standard variables ask for it: ``OTEL_TRACES_EXPORTER`` (``otlp``, ``console``;
``none`` is off) or an ``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``…_TRACES_ENDPOINT``; off with
``OTEL_SDK_DISABLED=true``. The exporter reads its own ``OTEL_EXPORTER_OTLP_*`` (OTLP over
HTTP), the resource ``OTEL_SERVICE_NAME`` / ``OTEL_RESOURCE_ATTRIBUTES``, the sampler
``OTEL_TRACES_SAMPLER``. The packages are the optional extra ``grondslag[otel]``; asked
for without them, the service logs so once and runs untraced.

A span names no secret and no subject: its name and ``http.route`` are the route's
template, its path attributes lose a link's token and the query (``logs.redacted``), and
SQL spans carry the statement, never its parameters. The server span continues the
caller's ``traceparent``, and its ids become the request's (``request_ids``).
"""

from __future__ import annotations

import logging
import os
from typing import Any
from urllib.parse import urlsplit

from grondslag.logformat import REQUEST_ID, TRACE_ID

from ..persistence.traces import TRACEPARENT
from .http_metrics import route_of
from .logs import redacted

log = logging.getLogger("grondslag.telemetry")
_SPAN = "grondslag.server_span"
_PATH_ATTRIBUTES = ("http.target", "url.path", "http.url", "url.full")
_provider: Any = None


def wanted() -> bool:
    """Whether the environment asks for traces."""
    env = os.environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER")
    if exporter is not None:
        return exporter.strip().lower() not in ("", "none")
    return bool(
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def setup(provider: Any = None) -> Any:
    """Trace this process (once): with ``provider``, or one made from the environment
    when it asks for traces. Returns the provider in use, None when untraced."""
    global _provider
    if _provider is not None:
        return _provider
    if provider is None and not wanted():
        return None
    try:
        from opentelemetry import trace
        from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
        from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    except ImportError:
        log.warning("OTEL_* asks for traces; install grondslag[otel] for them")
        return None
    if provider is None:
        provider = _from_environment()
        trace.set_tracer_provider(provider)
    AsyncPGInstrumentor().instrument(tracer_provider=provider)
    PsycopgInstrumentor().instrument(tracer_provider=provider, skip_dep_check=True)
    _provider = provider
    return provider


def teardown() -> None:
    """Stop tracing (the tests' in-memory provider)."""
    global _provider
    if _provider is None:
        return
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

    AsyncPGInstrumentor().uninstrument()
    PsycopgInstrumentor().uninstrument()
    _provider = None


def _from_environment() -> Any:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    provider = TracerProvider(resource=Resource.create({"service.name": "grondslag"}))
    names = (os.environ.get("OTEL_TRACES_EXPORTER") or "otlp").lower().split(",")
    for name in (n.strip() for n in names):
        if name == "console":
            provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        elif name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        elif name != "none":
            log.warning("OTEL_TRACES_EXPORTER %r is not one of otlp, console, none", name)
    return provider


def plugins() -> list[Any]:
    """The litestar plugin of the server spans, when this process is traced."""
    provider = setup()
    if provider is None:
        return []
    from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin

    config = OpenTelemetryConfig(
        tracer_provider=provider,
        scope_span_details_extractor=_span_details,
        server_request_hook_handler=_adopt,
        exclude_spans=["receive", "send"],
    )
    return [OpenTelemetryPlugin(config)]


def _span_details(scope: Any) -> tuple[str, dict[str, Any]]:
    """The span's first name, before routing: the method and the redacted path."""
    name = f"{scope.get('method', '')} {redacted(scope.get('path', ''))}".strip()
    return name, {}


def _adopt(span: Any, scope: Any) -> None:
    """The server span began: its trace is the request's (the caller's traceparent, or a
    new one when there was none), and its attributes lose the path's secrets."""
    scope[_SPAN] = span
    attributes = getattr(span, "attributes", None) or {}
    for name in _PATH_ATTRIBUTES:
        if isinstance(value := attributes.get(name), str):
            span.set_attribute(name, _redacted_url(value))
    if attributes.get("url.query"):
        span.set_attribute("url.query", "…")
    context = span.get_span_context()
    if not context.is_valid:
        return
    trace_id, span_id = f"{context.trace_id:032x}", f"{context.span_id:016x}"
    if REQUEST_ID.get() == TRACE_ID.get():  # not the caller's own X-Request-Id
        REQUEST_ID.set(trace_id)
    TRACE_ID.set(trace_id)
    TRACEPARENT.set(f"00-{trace_id}-{span_id}-{int(context.trace_flags):02x}")


def _redacted_url(url: str) -> str:
    """A URL or path as the access log names it: no link token, no query."""
    parts = urlsplit(url)
    path = redacted(parts.path + ("?" + parts.query if parts.query else ""))
    return f"{parts.scheme}://{parts.netloc}{path}" if parts.netloc else path


def name_by_route(scope: Any) -> None:
    """Once routed (the answer begins), the server span is named by the route's template."""
    server = scope.get(_SPAN)
    if server is not None:
        route = route_of(scope)
        server.update_name(f"{scope.get('method', '')} {route}")
        server.set_attribute("http.route", route)
