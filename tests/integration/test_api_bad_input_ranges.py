"""Bad input that used to answer 500: bodies that are not UTF-8, integers beyond PostgreSQL's
bigint, and query instants and picked dates outside the ledger's range (``domain.bounds``).
Each is a 4xx naming what is at fault, and changes nothing."""

from __future__ import annotations

import time
from typing import Any

import pytest
from auditor_support import signed_in

from api_support import CONSENT, PURPOSE, REF, assert_problem, snapshot

NOT_UTF8 = b'{"title": "\xff"}'
STANDING = f"/v1/subjects/{REF}/standing/{PURPOSE}"

# every route that takes a JSON body, with the role it needs (so the body is read at all)
JSON_ROUTES = [
    ("POST", "/v1/purposes"),
    ("POST", f"/v1/purposes/{PURPOSE}/revisions"),
    ("PUT", f"/v1/subjects/{REF}"),
    ("PUT", "/v1/subjects/brand-new"),
    ("POST", f"/v1/subjects/{REF}/consents"),
    ("POST", f"/v1/subjects/{REF}/consents/{PURPOSE}/withdrawal"),
    ("POST", f"/v1/subjects/{REF}/bases"),
    ("POST", f"/v1/subjects/{REF}/bases/{PURPOSE}/end"),
    ("POST", f"/v1/subjects/{REF}/objections"),
    ("POST", f"/v1/subjects/{REF}/objections/{PURPOSE}/decision"),
    ("POST", f"/v1/subjects/{REF}/representatives"),
    ("POST", f"/v1/subjects/{REF}/representatives/mother-1/end"),
    ("POST", f"/v1/subjects/{REF}/unsubscribe-links"),
    ("POST", "/v1/newsletter/signups"),
    ("POST", "/v1/checks"),
]


def state(tenant) -> tuple[Any, Any, Any]:
    """The subject as the ledger tells it, the register, and whether brand-new exists."""
    register = tenant.call("GET", "/v1/purposes")
    assert register.status_code == 200, register.text
    other = tenant.call("GET", "/v1/subjects/brand-new/history").status_code
    return snapshot(tenant), register.json(), other


def send(tenant, method: str, path: str, raw: bytes, **headers: str) -> Any:
    return tenant.call(
        method, path, content=raw, headers={"Content-Type": "application/json", **headers}
    )


# -- bytes that are not UTF-8 inside a JSON string --------------------------------------------


@pytest.mark.parametrize(("method", "path"), JSON_ROUTES, ids=[p for _, p in JSON_ROUTES])
def test_invalid_utf8_inside_a_string_is_400_malformed_and_changes_nothing(
    ready, method, path
) -> None:
    before = state(ready)
    body = assert_problem(send(ready, method, path, NOT_UTF8), 400)
    assert body["type"] == "urn:grondslag:problem:malformed-body"
    assert "UTF-8" in body["detail"]
    assert state(ready) == before


@pytest.mark.parametrize(
    "raw",
    [
        b'{"purpose": "photo-in-dossier", "recorded_by": "staff:\xc3"}',  # cut-off sequence
        b'{"purpose": "photo-in-dossier", "recorded_by": "\xed\xa0\x80"}',  # encoded surrogate
        b'{"\xff": 1}',  # in a key
    ],
    ids=["truncated-sequence", "surrogate", "in-a-key"],
)
def test_other_invalid_utf8_in_a_consent_is_400(ready, raw) -> None:
    before = snapshot(ready)
    assert_problem(send(ready, "POST", f"/v1/subjects/{REF}/consents", raw), 400)
    assert snapshot(ready) == before


def test_invalid_utf8_with_an_idempotency_key_is_400_and_releases_the_key(ready) -> None:
    path = f"/v1/subjects/{REF}/consents"
    bad = send(ready, "POST", path, NOT_UTF8, **{"Idempotency-Key": "utf8-1"})
    assert_problem(bad, 400)
    good = ready.call("POST", path, json=CONSENT, headers={"Idempotency-Key": "utf8-1"})
    assert good.status_code == 201, good.text
    assert "idempotent-replayed" not in good.headers


def test_auditor_sign_in_with_a_multipart_field_that_is_not_utf8_is_a_400_page(ready) -> None:
    raw = b'--b\r\nContent-Disposition: form-data; name="key"\r\n\r\n\xff\r\n--b--\r\n'
    response = ready.client.post(
        "/audit/sign-in", content=raw, headers={"Content-Type": "multipart/form-data; boundary=b"}
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "The form could not be read" in response.text
    assert "set-cookie" not in response.headers


# -- integers beyond what the store holds -----------------------------------------------------


def _logged_event(tenant) -> str:
    event = tenant.consent().json()["event_id"]
    for _ in range(100):  # the projector logs it within a moment
        if tenant.call("GET", f"/v1/audit/proofs/{event}").status_code == 200:
            return event
        time.sleep(0.1)
    raise AssertionError("the event never reached the audit log")


@pytest.mark.parametrize(
    "size",
    [str(2**63), str(2**63 - 1), str(2**53), "9" * 30, "-1"],
    ids=["int64-plus-one", "int64-max", "beyond-json-exact", "huge", "negative"],
)
def test_tree_size_out_of_range_on_a_proof_is_422_naming_it(ready, size) -> None:
    event = _logged_event(ready)
    response = ready.call("GET", f"/v1/audit/proofs/{event}", params={"tree_size": size})
    assert_problem(response, 422, field="tree_size")


def test_tree_size_in_range_on_a_proof_is_still_answered(ready) -> None:
    event = _logged_event(ready)
    size = ready.call("GET", f"/v1/audit/proofs/{event}").json()["tree_size"]
    response = ready.call("GET", f"/v1/audit/proofs/{event}", params={"tree_size": size})
    assert response.status_code == 200, response.text
    beyond = ready.call("GET", f"/v1/audit/proofs/{event}", params={"tree_size": 2**53 - 1})
    assert_problem(beyond, 404)  # in range, merely never signed


@pytest.mark.parametrize("name", ["first", "second"])
@pytest.mark.parametrize("size", [str(2**63), "9" * 30, "-1"])
def test_consistency_sizes_out_of_range_are_422_naming_them(ready, name, size) -> None:
    params = {"first": "1", "second": "1", name: size}
    assert_problem(ready.call("GET", "/v1/audit/consistency", params=params), 422, field=name)


def test_export_purpose_that_is_no_code_is_422_naming_it(ready) -> None:
    for purpose in ["\x00", "p" * 65, "Not A Code"]:
        response = ready.call(
            "GET", "/v1/audit/export", params={"subject_ref": REF, "purpose": purpose}
        )
        assert_problem(response, 422, field="purpose")


# -- query instants outside [1900-01-01, 2200-01-01) UTC --------------------------------------

OUTSIDE = [
    "9999-12-31T00:00:00Z",
    "9999-12-31T23:59:59-23:59",  # beyond year 9999 once in UTC
    "0001-01-01T00:00:00+23:59",  # before year 1 once in UTC
    "2200-01-01T00:00:00Z",
    "1899-12-31T23:59:59Z",
]
OUTSIDE_IDS = ["year-9999", "9999-west", "year-1-east", "2200", "1899"]


@pytest.mark.parametrize("moment", OUTSIDE, ids=OUTSIDE_IDS)
@pytest.mark.parametrize("name", ["at", "known_at"])
def test_standing_question_outside_the_range_is_422_naming_it(ready, name, moment) -> None:
    assert ready.consent().status_code == 201
    body = assert_problem(ready.call("GET", STANDING, params={name: moment}), 422, field=name)
    assert "1900-01-01" in body["detail"] and "2200-01-01" in body["detail"]


@pytest.mark.parametrize("moment", ["1900-01-01T00:00:00Z", "2199-12-31T23:59:59.999999Z"])
def test_standing_question_at_the_edges_of_the_range_is_answered(ready, moment) -> None:
    assert ready.consent().status_code == 201
    response = ready.call("GET", STANDING, params={"at": moment, "known_at": moment})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("moment", OUTSIDE, ids=OUTSIDE_IDS)
@pytest.mark.parametrize("name", ["from", "to"])
def test_export_period_outside_the_range_is_422_naming_it(ready, name, moment) -> None:
    response = ready.call("GET", "/v1/audit/export", params={"subject_ref": REF, name: moment})
    assert_problem(response, 422, field=name)


@pytest.mark.parametrize("moment", ["2026-02-30T00:00:00Z", "2026-01-01T00:00:00", "yesterday"])
@pytest.mark.parametrize("name", ["from", "to"])
def test_export_period_that_is_no_time_is_422_naming_it_as_sent(ready, name, moment) -> None:
    """The problem names the query parameter the client sent (``from``), not the handler's
    argument behind it (``recorded_from``)."""
    response = ready.call("GET", "/v1/audit/export", params={"subject_ref": REF, name: moment})
    body = assert_problem(response, 422, field=name)
    assert [e["field"] for e in body.get("errors", [{"field": name}])] == [name], body
    assert "recorded_" not in body["detail"], body


@pytest.mark.parametrize("moment", OUTSIDE, ids=OUTSIDE_IDS)
def test_check_at_outside_the_range_is_422_naming_it(ready, moment) -> None:
    assert ready.consent().status_code == 201
    response = ready.call(
        "POST", "/v1/checks", json={"purpose": PURPOSE, "subject_refs": [REF], "at": moment}
    )
    body = assert_problem(response, 422, field="at")
    # a field of the body, typed as every other body time out of range is (not invalid-query)
    assert body["type"] == "urn:grondslag:problem:invalid-input", body


# -- the auditor's page: picked dates ---------------------------------------------------------


def page(tenant, query: str) -> Any:
    return tenant.client.get(
        f"/audit/subjects/{REF}{query}",
        headers=signed_in(tenant.client, tenant.key_with("auditor")),
    )


@pytest.mark.parametrize("day", ["9999-12-31", "2200-01-01", "1899-12-31", "0001-01-01"], ids=str)
@pytest.mark.parametrize("name", ["at", "known_at"])
def test_auditor_page_date_outside_the_range_is_a_422_page_naming_it(ready, name, day) -> None:
    assert ready.consent().status_code == 201
    response = page(ready, f"?{name}={day}")
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "Invalid date" in response.text and f"{name} must lie between" in response.text


@pytest.mark.parametrize("day", ["yesterday", "2025-02-30", "2025-1"])
def test_auditor_page_date_that_is_no_date_is_a_422_page(ready, day) -> None:
    response = page(ready, f"?at={day}")
    assert response.status_code == 422, response.text
    assert "at: give a date as YYYY-MM-DD" in response.text


def test_auditor_page_dates_at_the_edges_of_the_range_are_shown(ready) -> None:
    assert ready.consent().status_code == 201
    response = page(ready, "?at=2199-12-31&known_at=1900-01-01")
    assert response.status_code == 200, response.text
    assert f"Subject <code>{REF}</code>" in response.text
