"""What a request sends beyond its operation's types: a query parameter the operation does
not take, one of its parameters twice, a body's key twice, a number too large to read, an
``Accept`` the export cannot answer, a header that is no list given twice. Each could be
read as a question other than the one asked — an auditor's misspelt ``knownat`` answered as
"known now", ``at`` sent twice answered for one of the two, a repeated ``birth_date`` read
as the first by one system and the last by another — so each is refused, naming the
parameter, key or header, and changes nothing."""

from __future__ import annotations

import json

import pytest

from api_support import CONSENT, CONSENTS, PURPOSE, REF, assert_problem, snapshot
from newsletter_support import register_newsletter, unsubscribe_path

STANDING = f"/v1/subjects/{REF}/standing/{PURPOSE}"
EXPORT = f"/v1/subjects/{REF}/export"


def test_a_misspelt_bitemporal_parameter_is_refused_not_answered_for_now(ready) -> None:
    assert ready.consent(effective_at="2025-03-01T10:00:00Z").status_code == 201
    asked = ready.call("GET", f"{STANDING}?knownat=2025-01-01T00:00:00Z")
    problem = assert_problem(asked, 422, field="knownat")
    assert problem["type"] == "urn:grondslag:problem:invalid-query"
    assert problem["errors"][0]["source"] == "query"
    assert "(it takes: at, known_at)" in problem["detail"], problem
    # spelt right, the same question is answered: nothing was known then
    right = ready.call("GET", f"{STANDING}?known_at=2025-01-01T00:00:00Z")
    assert right.status_code == 200, right.text
    assert right.json()["lawful"] is False


def test_a_parameter_given_twice_is_refused_naming_it(ready) -> None:
    assert ready.consent(effective_at="2025-03-01T10:00:00Z").status_code == 201
    asked = ready.call("GET", f"{STANDING}?at=2025-01-01T00:00:00Z&at=2026-01-01T00:00:00Z")
    problem = assert_problem(asked, 422, field="at")
    assert "given 2 times" in problem["detail"], problem


def test_every_stray_parameter_is_named_and_an_operation_without_any_says_so(ready) -> None:
    asked = ready.call("GET", f"/v1/subjects/{REF}/history?limit=5&colour=red&size=2")
    problem = assert_problem(asked, 422, field="colour")
    assert [e["field"] for e in problem["errors"]] == ["colour", "size"]
    assert "(it takes: cursor, limit)" in problem["detail"]
    no_query = ready.call("GET", f"/v1/subjects/{REF}?verbose=1")
    assert "(it takes: none)" in assert_problem(no_query, 422, field="verbose")["detail"]


def test_a_long_stray_name_is_not_echoed_whole(ready) -> None:
    asked = ready.call("GET", f"{STANDING}?{'a' * 20_000}=1")
    problem = assert_problem(asked, 422, field="a" * 64 + "…")
    assert len(asked.content) < 1_000, len(asked.content)
    assert problem["errors"][0]["field"] == "a" * 64 + "…"


def test_a_write_with_a_stray_parameter_records_nothing(ready) -> None:
    before = snapshot(ready)
    response = ready.call("POST", f"{CONSENTS}?dry_run=true", json=CONSENT)
    assert_problem(response, 422, field="dry_run")
    assert snapshot(ready) == before
    assert ready.call("POST", CONSENTS, json=CONSENT).status_code == 201


def test_a_public_page_keeps_the_parameters_a_mail_program_adds(tenant) -> None:
    """Links in e-mails come back decorated (``utm_source``…): the unsubscribe page must open
    all the same (R20), so the pages are not held to their parameters."""
    register_newsletter(tenant)
    tenant.put_subject(REF, email="client@example.nl")
    page = tenant.client.get(f"{unsubscribe_path(tenant, REF)}?utm_source=newsletter&utm_id=7")
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (
            '{"purpose": "%s", "method": "written", "method": "email", "explicit": true, '
            '"notice_version": "2025-01", "evidence": {"document_ref": "a.pdf"}, '
            '"recorded_by": "staff:x"}',
            "method",
        ),
        (
            '{"purpose": "%s", "method": "written", "explicit": true, "notice_version": "2025-01",'
            ' "evidence": {"document_ref": "a.pdf", "document_ref": "b.pdf"}, '
            '"recorded_by": "staff:x"}',
            "document_ref",
        ),
    ],
    ids=["top-level", "nested"],
)
def test_a_key_given_twice_in_a_body_is_refused_and_records_nothing(ready, raw, field) -> None:
    before = snapshot(ready)
    body = (raw % PURPOSE).encode()
    response = ready.call(
        "POST", CONSENTS, content=body, headers={"Content-Type": "application/json"}
    )
    problem = assert_problem(response, 422, field=field)
    assert problem["type"] == "urn:grondslag:problem:invalid-body"
    assert problem["errors"] == [
        {
            "field": field,
            "message": "the key is given more than once in one object",
            "source": "body",
        }
    ]
    assert snapshot(ready) == before


def test_a_repeated_birth_date_is_not_recorded_as_either(tenant) -> None:
    raw = b'{"birth_date": "1988-04-02", "birth_date": "2015-01-01"}'
    response = tenant.call(
        "PUT", f"/v1/subjects/{REF}", content=raw, headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 422, field="birth_date")
    assert_problem(tenant.call("GET", f"/v1/subjects/{REF}"), 404)


def test_the_same_key_in_two_objects_is_no_repetition(tenant) -> None:
    """``term`` and ``starts`` of a retention and of an erasure hold, side by side."""
    tenant.register_purpose(
        "mediation-file",
        title="Mediation file",
        basis="contract",
        retention={"term": "P7Y", "starts": "basis_end"},
        erasure_hold={"term": "P18M", "starts": "basis_end", "reason": "MfN-regels"},
    )


NUMBER = "NUMBER"  # where the test's number goes into the body's text


@pytest.mark.parametrize(
    ("number", "fields", "field"),
    [
        ("1" * 5000, {"explicit": NUMBER}, "explicit"),  # past Python's 4,300 digits
        (
            "1e400",
            {"evidence": {"document_ref": "a.pdf", "sha256": [1, NUMBER]}},
            "evidence.sha256[1]",
        ),
        ("-1e400", {"explicit": NUMBER}, "explicit"),
    ],
    ids=["integer-of-5000-digits", "nested-double", "negative"],
)
def test_a_number_too_large_to_read_is_422_naming_its_field(ready, number, fields, field) -> None:
    """msgspec refuses it without saying where; litestar answered a bare 400."""
    before = snapshot(ready)
    raw = json.dumps({**CONSENT, **fields}).replace(f'"{NUMBER}"', number)
    response = ready.call(
        "POST", CONSENTS, content=raw.encode(), headers={"Content-Type": "application/json"}
    )
    problem = assert_problem(response, 422, field=field)
    assert problem["type"] == "urn:grondslag:problem:invalid-body"
    assert "out of range" in problem["errors"][0]["message"], problem
    assert snapshot(ready) == before


@pytest.mark.parametrize("digits", [20, 400, 4300])
def test_a_large_integer_that_is_read_is_judged_by_its_field(ready, digits) -> None:
    """Past 64 bits, or a double, but read: the field's own type refuses it, as for any
    other wrong value."""
    raw = json.dumps({**CONSENT, "explicit": NUMBER}).replace(f'"{NUMBER}"', "9" * digits)
    response = ready.call(
        "POST", CONSENTS, content=raw.encode(), headers={"Content-Type": "application/json"}
    )
    problem = assert_problem(response, 422, field="explicit")
    assert "out of range" not in problem["detail"], problem


def _raw(tenant, method: str, path: str, headers: list[tuple[str, str]], body: bytes = b""):
    """The app's answer to a request with exactly these header lines (the test client
    joins repeated names into one line, as HTTP allows only for list fields), on the loop
    the app runs on: (status, problem)."""
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    tenant.client.blocking_portal.call(tenant.client.app, scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(body)


def test_two_authorization_headers_are_400_whichever_is_the_key(ready) -> None:
    """A proxy may have checked the other one: the request is refused, not read with the
    first key (RFC 9110 5.3: Authorization is no list)."""
    lines = [("Authorization", f"Bearer {ready.key}"), ("Authorization", "Bearer gs_other")]
    for pair in (lines, lines[::-1]):
        status, problem = _raw(ready, "GET", f"/v1/subjects/{REF}", pair)
        assert (status, problem["field"]) == (400, "Authorization"), problem
        assert "more than once" in problem["detail"]
    status, _ = _raw(ready, "GET", f"/v1/subjects/{REF}", lines[:1])
    assert status == 200  # one is read as before


@pytest.mark.parametrize(
    ("header", "extra"),
    [
        ("Idempotency-Key", [("Idempotency-Key", "intake-1"), ("Idempotency-Key", "intake-2")]),
        ("Content-Type", [("Content-Type", "text/plain")]),
    ],
)
def test_a_write_with_a_header_twice_is_400_and_records_nothing(ready, header, extra) -> None:
    before = snapshot(ready)
    lines = [("Authorization", f"Bearer {ready.key}"), ("Content-Type", "application/json")]
    status, problem = _raw(ready, "POST", CONSENTS, lines + extra, json.dumps(CONSENT).encode())
    assert (status, problem["field"]) == (400, header), problem
    assert "more than once" in problem["detail"]
    assert snapshot(ready) == before


def _accesses(tenant) -> list[dict]:
    page = tenant.call("GET", f"/v1/subjects/{REF}/access-log")
    assert page.status_code == 200, page.text
    return page.json()["accesses"]


def test_an_export_asked_in_a_form_it_has_not_is_406_and_not_logged(ready) -> None:
    response = ready.call("GET", EXPORT, headers={"Accept": "application/xml"})
    problem = assert_problem(response, 406, field="Accept")
    assert problem["type"] == "urn:grondslag:problem:not-acceptable"
    assert "application/xml" in problem["detail"]
    assert _accesses(ready) == []  # nothing was unsealed, so no read of it is logged


@pytest.mark.parametrize(
    ("accept", "media"),
    [
        (None, "application/json"),
        ("", "application/json"),
        ("*/*", "application/json"),
        ("application/*", "application/json"),
        ("text/*", "text/html"),
        ("text/html, application/xml;q=0.9", "text/html"),
    ],
    ids=["absent", "empty", "anything", "application", "text", "html-first"],
)
def test_an_export_answers_the_form_accept_admits(ready, accept, media) -> None:
    headers = {} if accept is None else {"Accept": accept}
    response = ready.call("GET", EXPORT, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].split(";")[0] == media
