"""Which incoming ids name a request, and that the id reaches the log context and the answer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from grondslag import logformat
from grondslag.ledger.api.request_ids import RequestIds, request_id_of, trace_id_of
from grondslag.ledger.persistence import traces

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
VALID = f"00-{TRACE}-00f067aa0ba902b7-01"


@pytest.mark.parametrize(
    ("header", "trace_id"),
    [
        (VALID, TRACE),
        (f" {VALID} ", TRACE),
        (None, None),
        ("", None),
        (VALID.upper(), None),  # lower-case hex only
        (f"00-{'0' * 32}-00f067aa0ba902b7-01", None),  # all-zero trace id
        (f"00-{TRACE}-{'0' * 16}-01", None),  # all-zero parent id
        (f"ff-{TRACE}-00f067aa0ba902b7-01", None),  # version ff is invalid
        (f"00-{TRACE}-00f067aa0ba902b7", None),
        (f"00-{TRACE}-00f067aa0ba902b7-01-extra", None),
    ],
)
def test_a_traceparent_names_its_trace_only_when_valid(header: str | None, trace_id) -> None:
    assert trace_id_of(header) == trace_id


@pytest.mark.parametrize(
    ("header", "kept"),
    [
        ("req-42", True),
        ("lb:7f3a/9+x=@y.z_1", True),
        ("x" * 128, True),
        ("x" * 129, False),
        ("two words", False),
        ("line\nbreak", False),
        ("", False),
        ("caf\u00e9", False),
    ],
)
def test_a_request_id_is_kept_only_when_short_and_printable(header: str, kept: bool) -> None:
    assert (request_id_of(header) == header) is kept


def serve(headers: list[tuple[bytes, bytes]]) -> tuple[dict[bytes, bytes], dict[str, Any]]:
    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen["request_id"] = logformat.REQUEST_ID.get()
        seen["trace_id"] = logformat.TRACE_ID.get()
        seen["traceparent"] = traces.current_traceparent()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/", "headers": headers}
    asyncio.run(RequestIds(app)(scope, None, send))
    assert logformat.REQUEST_ID.get() is None  # reset after the request
    return dict(sent[0]["headers"]), seen


def test_the_traceparents_trace_names_the_request_in_the_logs_and_the_answer() -> None:
    answer, seen = serve([(b"traceparent", VALID.encode()), (b"x-request-id", b"ignored")])
    assert seen["request_id"] == seen["trace_id"] == TRACE
    assert answer[b"x-request-id"] == TRACE.encode()
    assert answer[b"traceparent"] == seen["traceparent"].encode()
    assert seen["traceparent"].startswith(f"00-{TRACE}-") and VALID not in seen["traceparent"]


def test_a_callers_request_id_is_kept_beside_a_new_trace() -> None:
    answer, seen = serve([(b"x-request-id", b"req-42")])
    assert seen["request_id"] == "req-42" and answer[b"x-request-id"] == b"req-42"
    assert trace_id_of(seen["traceparent"]) == seen["trace_id"] != "req-42"


def test_without_ids_a_new_trace_names_the_request() -> None:
    answer, seen = serve([(b"x-request-id", b"bad id")])
    assert seen["request_id"] == seen["trace_id"]
    assert answer[b"x-request-id"] == seen["trace_id"].encode()
