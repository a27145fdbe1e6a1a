"""What operations see of the API: a request id on every answer, the request's trace
context in the NATS messages its events cause (after an erasure too), and /metrics as
prometheus_client's exposition with HTTP counts per route template, process metrics and
the build."""

from __future__ import annotations

import asyncio
import re
import secrets
from typing import Any

import asyncpg
import msgspec
from prometheus_client.parser import text_string_to_metric_families

from grondslag.ledger.domain.values import PersonalData
from grondslag.ledger.persistence.mapper import decode_event
from grondslag.ledger.persistence.postgres import EVENTS_TABLE, STREAMS_TABLE
from grondslag.ledger.persistence.traces import TRACES_TABLE
from grondslag.projector.relay import to_messages

from api_support import REF, consent_body

TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]")


def new_traceparent() -> tuple[str, str]:
    trace_id = secrets.token_hex(16)
    return f"00-{trace_id}-{secrets.token_hex(8)}-01", trace_id


def test_an_answer_without_ids_gets_new_ones(client) -> None:
    answer = client.get("/health/live")
    request_id = answer.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    found = TRACEPARENT.fullmatch(answer.headers["traceparent"])
    assert found and found.group(1) == request_id  # the new trace's id names the request
    assert client.get("/health/live").headers["x-request-id"] != request_id


def test_the_callers_traceparent_names_the_request_and_its_trace_goes_on(client) -> None:
    traceparent, trace_id = new_traceparent()
    answer = client.get("/health/live", headers={"traceparent": traceparent})
    assert answer.headers["x-request-id"] == trace_id
    found = TRACEPARENT.fullmatch(answer.headers["traceparent"])
    assert found and found.group(1) == trace_id
    assert found.group(2) != traceparent.split("-")[2]  # our span, a child of the caller's


def test_the_callers_request_id_is_kept_when_it_is_short_and_printable(client) -> None:
    answer = client.get("/health/live", headers={"X-Request-Id": "lb-7f3a:42"})
    assert answer.headers["x-request-id"] == "lb-7f3a:42"
    for bad in ("x" * 129, "two words", "<script>", "caf\u00e9"):
        answer = client.get("/health/live", headers={"X-Request-Id": bad.encode()})
        assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["x-request-id"]), bad


def test_an_invalid_traceparent_is_not_continued(client) -> None:
    zeros = "00-" + "0" * 32 + "-" + "1" * 16 + "-01"
    for bad in (zeros, "00-ABC-def-01", "ff-" + "a" * 32 + "-" + "b" * 16 + "-01"):
        answer = client.get("/health/live", headers={"traceparent": bad})
        found = TRACEPARENT.fullmatch(answer.headers["traceparent"])
        assert found and found.group(1) not in bad, bad


def test_a_404_and_a_problem_carry_a_request_id_too(tenant) -> None:
    missing = tenant.call("GET", "/v1/nowhere", headers={"X-Request-Id": "req-404"})
    assert missing.status_code == 404
    assert missing.headers["x-request-id"] == "req-404"
    refused = tenant.call("POST", "/v1/purposes", json={}, headers={"X-Request-Id": "req-422"})
    assert refused.status_code in (400, 422)
    assert refused.headers["x-request-id"] == "req-422"


async def _messages_of(database_url: str, tenant: str) -> list[Any]:
    """What the relay would publish for every event of ``tenant``'s streams."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            f"SELECT e.originator_id, e.originator_version, e.topic, e.state FROM {EVENTS_TABLE} e "
            f"JOIN {STREAMS_TABLE} s USING (originator_id) WHERE s.tenant = $1 "
            "ORDER BY e.notification_id",
            tenant,
        )
        events = [
            decode_event(r["topic"], r["state"], r["originator_id"], r["originator_version"])
            for r in rows
        ]
        return [message for _, message in await to_messages(conn, events)]
    finally:
        await conn.close()


async def _traces_of(database_url: str, tenant: str) -> list[str]:
    conn = await asyncpg.connect(database_url)
    try:
        return [
            row[0]
            for row in await conn.fetch(
                f"SELECT t.traceparent FROM {TRACES_TABLE} t JOIN {STREAMS_TABLE} s "
                "USING (originator_id) WHERE s.tenant = $1",
                tenant,
            )
        ]
    finally:
        await conn.close()


def test_the_messages_an_events_request_causes_carry_its_trace_context(
    ready, database_url: str
) -> None:
    traceparent, trace_id = new_traceparent()
    given = ready.call(
        "POST",
        f"/v1/subjects/{REF}/consents",
        json=consent_body(),
        headers={"traceparent": traceparent},
    )
    assert given.status_code == 201, given.text
    answered_with = given.headers["traceparent"]
    messages = asyncio.run(_messages_of(database_url, ready.name))
    consent = [m for m in messages if m.type.endswith("consent.given.v1")]
    lawful = [m for m in messages if m.type.endswith("basis.lawful.v1")]
    assert consent and lawful
    for message in consent + lawful:
        assert message.traceparent == answered_with  # the request's own span
        assert TRACEPARENT.fullmatch(message.traceparent).group(1) == trace_id

    # an erasure forgets the subject, not the trace context (it names nobody)
    erased = ready.call(
        "POST",
        f"/v1/subjects/{REF}/erasure",
        json={"recorded_by": "staff:x"},
        headers={"traceparent": new_traceparent()[0]},
    )
    assert erased.status_code == 201, erased.text
    messages = asyncio.run(_messages_of(database_url, ready.name))
    consent = [m for m in messages if m.type.endswith("consent.given.v1")]
    assert consent[0].traceparent == answered_with
    gone = [m for m in messages if m.type.endswith("subject.erased.v1")]
    assert gone and gone[0].traceparent == erased.headers["traceparent"]
    assert answered_with in asyncio.run(_traces_of(database_url, ready.name))


def test_events_recorded_outside_a_request_carry_no_trace_context(ledger, own_database_url) -> None:
    from projector_support import give, new_tenant, terms

    tenant = new_tenant(ledger, {"photo": terms("Foto")})
    ledger.put_subject(tenant, "client-9", PersonalData())
    give(ledger, tenant, "client-9", "photo")
    messages = asyncio.run(_messages_of(own_database_url, tenant))
    assert messages
    assert all(m.traceparent is msgspec.UNSET for m in messages)


def _families(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def test_metrics_parse_and_count_requests_by_route_template_never_by_path(tenant) -> None:
    ref = f"client-{secrets.token_hex(4)}"
    tenant.register_purpose()
    tenant.put_subject(ref)
    assert tenant.call("GET", f"/v1/subjects/{ref}/standing").status_code == 200
    assert tenant.call("GET", f"/nowhere/{ref}").status_code == 404
    text = tenant.call("GET", "/metrics").text
    families = _families(text)  # prometheus_client's parser reads every line
    for name in (
        "grondslag_projection_lag_events",
        "grondslag_projection_lag_seconds",
        "grondslag_batch_failures",
        "grondslag_relay_backlog",
        "grondslag_deadlines_due",
        "grondslag_audit_unsigned_events",
        "grondslag_audit_unpublished_checkpoints",
        "grondslag_quarantined_streams",
        "grondslag_requests_open",
        "grondslag_requests_overdue",
        "grondslag_http_requests",
        "grondslag_http_request_duration_seconds",
        "grondslag_build_info",
        "process_resident_memory_bytes",
    ):
        assert name in families, name
    assert ref not in text  # no subject reference in any label
    requests = {
        (s.labels["method"], s.labels["route"], s.labels["status"]): s.value
        for s in families["grondslag_http_requests"].samples
        if s.name == "grondslag_http_requests_total"
    }
    assert requests[("GET", "/v1/subjects/{subject_ref}/standing", "200")] >= 1
    assert requests[("GET", "unmatched", "404")] >= 1
    assert requests[("PUT", "/v1/subjects/{subject_ref}", "201")] >= 1
    latency = families["grondslag_http_request_duration_seconds"]
    assert any(
        s.name.endswith("_count") and s.labels["route"] == "/v1/subjects/{subject_ref}/standing"
        for s in latency.samples
    )
    build = families["grondslag_build_info"].samples[0]
    assert build.value == 1 and build.labels["version"]
