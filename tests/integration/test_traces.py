"""OpenTelemetry, when configured: one request is an HTTP server span continuing the caller's
trace, with the SQL it ran (asyncpg's reads, psycopg's writes) as spans of that trace; the
spans are named by the route's template, and name no link's token and no query (their paths
are the access log's)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from grondslag.ledger.api import telemetry
from grondslag.ledger.api.app import create_app

from api_support import purpose_body


@pytest.fixture
def traced(settings) -> Iterator[tuple[TestClient, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    assert telemetry.setup(provider) is provider
    try:
        with TestClient(create_app(settings)) as client:
            yield client, exporter
    finally:
        telemetry.teardown()


def _ancestors(span: Any, by_id: dict[int, Any]) -> list[Any]:
    chain = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        chain.append(span)
    return chain


def test_a_request_is_a_server_span_of_the_callers_trace_with_its_sql_inside(
    traced, tenant
) -> None:
    client, exporter = traced
    trace_id, parent = secrets.token_hex(16), secrets.token_hex(8)
    exporter.clear()
    code = f"p-{secrets.token_hex(3)}"
    answer = client.post(
        "/v1/purposes",
        json=purpose_body(code),
        headers={
            "Authorization": f"Bearer {tenant.key}",
            "traceparent": f"00-{trace_id}-{parent}-01",
        },
    )
    assert answer.status_code == 201, answer.text
    ours = [s for s in exporter.get_finished_spans() if f"{s.context.trace_id:032x}" == trace_id]
    servers = [s for s in ours if s.kind == SpanKind.SERVER]
    assert len(servers) == 1
    server = servers[0]
    assert f"{server.parent.span_id:016x}" == parent  # it continues the caller's trace
    assert server.name == "POST /v1/purposes"
    assert server.attributes["http.route"] == "/v1/purposes"
    by_id = {s.context.span_id: s for s in ours}
    sql = [s for s in ours if s.attributes.get("db.system") == "postgresql"]
    assert sql, [s.name for s in ours]
    assert all(server in _ancestors(s, by_id) for s in sql)  # inside the request's span
    libraries = {s.instrumentation_scope.name for s in sql}
    assert any("asyncpg" in name for name in libraries), libraries  # the key's look-up
    assert any("psycopg" in name for name in libraries), libraries  # the event store's write
    # the answer and the logs name the same trace
    assert answer.headers["x-request-id"] == trace_id
    assert answer.headers["traceparent"] == f"00-{trace_id}-{server.context.span_id:016x}-01"


def test_without_a_traceparent_the_new_trace_is_the_request_id_and_no_secret_is_named(
    traced, tenant
) -> None:
    client, exporter = traced
    ref, token = f"client-{secrets.token_hex(4)}", f"1.{secrets.token_hex(8)}.x"
    exporter.clear()
    answer = client.get(
        f"/v1/subjects/{ref}/standing?secret=geheim",
        headers={"Authorization": f"Bearer {tenant.key}"},
    )
    client.get(f"/u/{token}?lang=nl")
    spans = exporter.get_finished_spans()
    servers = [s for s in spans if s.kind == SpanKind.SERVER]
    assert answer.headers["x-request-id"] == f"{servers[0].context.trace_id:032x}"
    assert servers[0].name == "GET /v1/subjects/{subject_ref}/standing"
    assert servers[1].name.startswith("GET /u/")
    for span in spans:
        named = " ".join([span.name, *map(str, span.attributes.values())])
        assert "geheim" not in named and token not in named and "lang=nl" not in named, named
    assert servers[0].attributes["http.target"] == f"/v1/subjects/{ref}/standing"  # as logged
