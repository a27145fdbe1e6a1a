"""Bad input over the API: every refusal is RFC 9457 problem+json, names what is at fault,
answers the documented status (never a 500) and changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api_support import (
    ANY_VERSION,
    CONSENT,
    CONSENTS,
    NOTICE,
    PROBLEM_JSON,
    PURPOSE,
    REF,
    assert_problem,
    purpose_body,
    register_of,
    snapshot,
)


def post_raw(tenant, path: str, raw: bytes | str, content_type: str = "application/json") -> Any:
    return tenant.call("POST", path, content=raw, headers={"Content-Type": content_type})


# -- malformed and ill-typed bodies ---------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [b'{"purpose": "photo-in-dossier",', b"{not json}", b"\xff\xfe"],
    ids=["truncated", "garbage", "not-utf8"],
)
def test_malformed_json_is_400_problem_and_records_nothing(ready, raw) -> None:
    before = snapshot(ready)
    assert_problem(post_raw(ready, CONSENTS, raw), 400)
    assert snapshot(ready) == before


def test_unknown_field_is_422_naming_that_field(ready) -> None:
    before = snapshot(ready)
    response = ready.call("POST", CONSENTS, json={**CONSENT, "sneaky_extra": 1})
    assert_problem(response, 422, field="sneaky_extra")
    assert snapshot(ready) == before


@pytest.mark.parametrize("missing", ["method", "notice_version", "evidence", "recorded_by"])
def test_missing_required_field_is_422_naming_it_in_the_detail(ready, missing) -> None:
    before = snapshot(ready)
    body = {k: v for k, v in CONSENT.items() if k != missing}
    problem = assert_problem(ready.call("POST", CONSENTS, json=body), 422)
    assert f"`{missing}`" in problem["detail"]
    assert snapshot(ready) == before


@pytest.mark.parametrize(
    "recorded_by",
    [
        "staff:x\n  photo-in-dossier: lawful",
        "staff:x\n",
        "staff:\x00x",
        "staff:\x1b[2Kx",
        "a\x85",
        "staff:x\u2028photo-in-dossier: lawful",  # a line separator
        "staff:\u202esirved",  # an override: shown as "staff:devris", stored otherwise
        "staff:\u2067x\u2069",  # an isolate
    ],
    ids=[
        "line-break",
        "trailing-line-break",
        "nul",
        "escape",
        "c1",
        "line-separator",
        "bidi-override",
        "bidi-isolate",
    ],
)
def test_a_control_character_in_a_line_is_422_naming_the_field(ready, recorded_by) -> None:
    """A `recorded_by`, a reference, a reason: one line of text, which an auditor reads on
    a page or a terminal (it could print a line of its own there, or steer the terminal)."""
    before = snapshot(ready)
    response = ready.call("POST", CONSENTS, json={**CONSENT, "recorded_by": recorded_by})
    problem = assert_problem(response, 422, field="recorded_by")
    assert problem["errors"][0]["message"].startswith(
        "Expected one line of text, without control"
    ), problem
    assert snapshot(ready) == before


def test_a_text_keeps_its_line_breaks_and_refuses_other_control_characters(ready) -> None:
    """Free text (reasons, grounds, notes) may run over several lines; a NUL it may not."""
    assert ready.consent().status_code == 201
    path = f"/v1/subjects/{REF}/restrictions"
    body = {"purposes": [PURPOSE], "recorded_by": "staff:x"}
    refused = ready.call("POST", path, json={**body, "reasons": "disputed\x00"})
    assert_problem(refused, 422, field="reasons")
    reversed_ = ready.call("POST", path, json={**body, "reasons": "disputed \u202eyb rettel"})
    assert_problem(reversed_, 422, field="reasons")  # reads otherwise than it is stored
    restricted = ready.call(
        "POST", path, json={**body, "reasons": "disputed:\r\n\tby letter\u2028(Arabic: \u0639)"}
    )
    assert restricted.status_code == 201, restricted.text


ESCAPE = "\x1b]8;;https://evil.example\x07hier\x1b]8;;\x07"  # a terminal hyperlink


@pytest.mark.parametrize(
    ("field", "fields"),
    [
        ("title", {"title": "Pasfoto" + ESCAPE}),
        ("notice.version", {"notice": {**NOTICE, "version": "2025-01\n2024-12"}}),
        ("notice.url", {"notice": {**NOTICE, "url": "https://praktijk.example/\x1b[2K"}}),
        ("recipients[0]", {"recipients": ["Zorgverzekeraar\x00"]}),
        ("legal_provision", {"legal_provision": "art. 7:454 BW\r"}),
        (
            "erasure_hold.reason",
            {"erasure_hold": {"term": "P18M", "reason": "MfN" + ESCAPE}},
        ),
        ("legitimate_interest_assessment", {"legitimate_interest_assessment": "ok\x00"}),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_a_control_character_in_a_register_entry_is_422_naming_its_path(
    ready, field, fields
) -> None:
    """The register's texts (what the auditor reads in `purposes`, `export`, the bundle) are
    lines as every request's are, nested ones too, in a new entry and in a revision."""
    register = register_of(ready)
    registered = ready.call("POST", "/v1/purposes", json=purpose_body("second", **fields))
    assert_problem(registered, 422, field=field)
    path = f"/v1/purposes/{PURPOSE}"
    revised = ready.call(
        "POST", f"{path}/revisions", json={"material": False, **fields}, headers=ANY_VERSION
    )
    assert_problem(revised, 422, field=field)
    assert register_of(ready) == register


@pytest.mark.parametrize("path", [CONSENTS, f"/v1/subjects/{REF}/representatives"])
def test_a_control_character_in_an_evidence_reference_is_422_naming_its_path(ready, path):
    """R7: the evidence's document reference is a line (the auditor reads it in the history)."""
    before = snapshot(ready)
    evidence = {"document_ref": "intake.pdf" + ESCAPE}
    body = (
        {**CONSENT, "evidence": evidence}
        if path == CONSENTS
        else {
            "representative_ref": "parent-1",
            "kind": "parental_authority",
            "valid_from": "2010-01-01T00:00:00Z",
            "evidence": evidence,
        }
    )
    assert_problem(ready.call("POST", path, json=body), 422, field="evidence.document_ref")
    assert snapshot(ready) == before


def test_missing_required_field_is_named_in_the_field_member(ready) -> None:
    body = {k: v for k, v in CONSENT.items() if k != "method"}
    assert_problem(ready.call("POST", CONSENTS, json=body), 422, field="method")


def test_bad_value_inside_a_nested_object_names_its_path(ready) -> None:
    before = snapshot(ready)
    response = ready.call(
        "POST",
        CONSENTS,
        json={**CONSENT, "evidence": {"document_ref": "a.pdf", "sha256": "not-a-hash"}},
    )
    assert_problem(response, 422, field="evidence.sha256")
    assert snapshot(ready) == before


def test_value_outside_the_enum_is_422_naming_the_field(ready) -> None:
    before = snapshot(ready)
    response = ready.call("POST", CONSENTS, json={**CONSENT, "method": "telepathy"})
    assert_problem(response, 422, field="method")
    assert snapshot(ready) == before


def test_bad_basis_enum_on_purpose_registration_is_422_and_register_unchanged(ready) -> None:
    before = register_of(ready)
    response = ready.call(
        "POST",
        "/v1/purposes",
        json={
            "code": "newsletter",
            "title": "Nieuwsbrief",
            "basis": "because-we-can",
            "notice": {"version": "1", "url": "https://x.example/n", "sha256": "b" * 64},
        },
    )
    assert_problem(response, 422, field="basis")
    assert register_of(ready) == before


@pytest.mark.parametrize(
    "moment",
    ["yesterday", "2025-13-45T99:00:00Z", "2025-09-02T10:00:00"],
    ids=["words", "impossible-date", "no-offset"],
)
def test_bad_or_offsetless_timestamp_in_body_is_422_naming_the_field(ready, moment) -> None:
    before = snapshot(ready)
    response = ready.call("POST", CONSENTS, json={**CONSENT, "effective_at": moment})
    assert_problem(response, 422, field="effective_at")
    assert snapshot(ready) == before


@pytest.mark.parametrize("moment", ["yesterday", "2025-09-02T10:00:00"], ids=["words", "no-offset"])
@pytest.mark.parametrize("name", ["at", "known_at"])
def test_bad_or_offsetless_timestamp_in_query_is_422_naming_the_parameter(
    ready, name, moment
) -> None:
    response = ready.call("GET", f"/v1/subjects/{REF}/standing/{PURPOSE}", params={name: moment})
    assert_problem(response, 422, field=name)


def test_offsetless_at_in_checks_body_is_422(ready) -> None:
    response = ready.call(
        "POST",
        "/v1/checks",
        json={"purpose": PURPOSE, "subject_refs": [REF], "at": "2025-09-02T10:00:00"},
    )
    assert_problem(response, 422, field="at")


# -- transport-level refusals ---------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type, raw",
    [
        ("text/plain", json.dumps(CONSENT)),
        ("application/x-www-form-urlencoded", "purpose=photo-in-dossier&method=written"),
        ("multipart/form-data; boundary=xyz", "--xyz\r\n\r\nhello\r\n--xyz--\r\n"),
    ],
    ids=["text", "form", "multipart"],
)
def test_non_json_content_type_is_415_and_records_nothing(ready, content_type, raw) -> None:
    before = snapshot(ready)
    body = assert_problem(post_raw(ready, CONSENTS, raw, content_type), 415)
    assert body.get("field") == "Content-Type"
    assert snapshot(ready) == before


def test_non_json_content_type_on_subject_put_is_415_and_subject_not_created(tenant) -> None:
    response = tenant.call(
        "PUT",
        "/v1/subjects/new-one",
        content=b"birth_date=2001-01-01",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_problem(response, 415)
    assert tenant.call("GET", "/v1/subjects/new-one/history").status_code == 404


def test_body_over_one_mebibyte_is_413_and_records_nothing(ready) -> None:
    before = snapshot(ready)
    huge = {**CONSENT, "evidence": {"document_ref": "x" * (1024 * 1024 + 10)}}
    assert_problem(ready.call("POST", CONSENTS, json=huge), 413)
    assert snapshot(ready) == before


def test_body_over_one_mebibyte_with_idempotency_key_is_413(ready) -> None:
    before = snapshot(ready)
    huge = {**CONSENT, "evidence": {"document_ref": "x" * (1024 * 1024 + 10)}}
    response = ready.call("POST", CONSENTS, json=huge, headers={"Idempotency-Key": "big-1"})
    keyed = assert_problem(response, 413)
    plain = assert_problem(ready.call("POST", CONSENTS, json=huge), 413)
    # the body is at fault, not the key: the same refusal as without one
    assert (keyed["type"], keyed.get("field")) == (plain["type"], None) == ("about:blank", None)
    assert snapshot(ready) == before


def nested_body(where: str) -> str:
    deep = "[" * 10_000 + "]" * 10_000
    if where == "top-level":
        return deep
    holder = "evidence" if where == "evidence" else "deep"
    return json.dumps({**CONSENT, holder: "@"}).replace('"@"', deep)


@pytest.mark.parametrize("where", ["evidence", "top-level", "unknown-field"])
def test_absurdly_nested_json_is_a_4xx_problem_not_a_500(ready, where) -> None:
    response = post_raw(ready, CONSENTS, nested_body(where))
    assert 400 <= response.status_code < 500, response.text
    assert_problem(response, response.status_code)


def test_absurdly_nested_json_records_nothing(ready) -> None:
    before = snapshot(ready)
    response = post_raw(ready, CONSENTS, nested_body("evidence"))
    assert response.status_code >= 400
    assert response.headers["content-type"].split(";")[0] == PROBLEM_JSON
    assert snapshot(ready) == before


def test_moderately_nested_json_in_evidence_is_422_naming_evidence(ready) -> None:
    before = snapshot(ready)
    raw = json.dumps({**CONSENT, "evidence": "@"}).replace('"@"', "[" * 50 + "]" * 50)
    assert_problem(post_raw(ready, CONSENTS, raw), 422, field="evidence")
    assert snapshot(ready) == before


# -- lengths and counts ---------------------------------------------------------------------


def test_overlong_subject_ref_in_path_is_422_and_no_subject_is_created(tenant) -> None:
    long_ref = "r" * 129
    put = tenant.call("PUT", f"/v1/subjects/{long_ref}", json={"birth_date": "1990-05-01"})
    assert_problem(put, 422, field="subject_ref")
    history = tenant.call("GET", f"/v1/subjects/{long_ref}/history")
    assert_problem(history, 422, field="subject_ref")
    just_fits = tenant.call("GET", f"/v1/subjects/{'r' * 128}/history")
    assert_problem(just_fits, 404)  # the limit is 128: 128 is merely unknown


def test_subject_ref_with_forbidden_characters_is_422(tenant) -> None:
    response = tenant.call("PUT", "/v1/subjects/client%20one", json={})
    assert_problem(response, 422, field="subject_ref")


def test_overlong_purpose_code_is_422_in_body_path_and_register(ready) -> None:
    before_subject, before_register = snapshot(ready), register_of(ready)
    code = "p" * 65
    in_body = ready.call("POST", CONSENTS, json={**CONSENT, "purpose": code})
    assert_problem(in_body, 422, field="purpose")
    in_path = ready.call("GET", f"/v1/subjects/{REF}/standing/{code}")
    assert_problem(in_path, 422, field="purpose")
    on_register = ready.call("GET", f"/v1/purposes/{code}")
    assert_problem(on_register, 422, field="code")
    created = ready.call(
        "POST",
        "/v1/purposes",
        json={
            "code": code,
            "title": "Te lang",
            "basis": "consent",
            "notice": {"version": "1", "url": "https://x.example/n", "sha256": "b" * 64},
        },
    )
    assert_problem(created, 422, field="code")
    assert snapshot(ready) == before_subject
    assert register_of(ready) == before_register


def test_more_than_ten_thousand_refs_in_a_check_is_422(ready) -> None:
    refs = [f"r{i}" for i in range(10_001)]
    response = ready.call("POST", "/v1/checks", json={"purpose": PURPOSE, "subject_refs": refs})
    assert_problem(response, 422, field="subject_refs")


def test_empty_subject_refs_in_a_check_is_422(ready) -> None:
    response = ready.call("POST", "/v1/checks", json={"purpose": PURPOSE, "subject_refs": []})
    assert_problem(response, 422, field="subject_refs")


def test_invalid_ref_inside_subject_refs_is_422(ready) -> None:
    response = ready.call(
        "POST", "/v1/checks", json={"purpose": PURPOSE, "subject_refs": ["ok-1", "not ok"]}
    )
    body = assert_problem(response, 422)
    assert "subject_refs" in body["field"]


# -- rule refusals (409 naming the rule) ----------------------------------------------------


def test_consent_for_a_contract_purpose_is_refused_by_r6(ready) -> None:
    ready.register_purpose("treatment-file", basis="contract")
    before = snapshot(ready)
    response = ready.call("POST", CONSENTS, json={**CONSENT, "purpose": "treatment-file"})
    body = assert_problem(response, 409, rule="R6")
    assert "/bases" in body["detail"]
    assert snapshot(ready) == before
    contract = ready.call("GET", f"/v1/subjects/{REF}/standing/treatment-file").json()
    assert contract["status"] == "none"


def test_consent_for_an_unregistered_purpose_is_refused_by_r2(ready) -> None:
    before = snapshot(ready)
    response = ready.call("POST", CONSENTS, json={**CONSENT, "purpose": "never-registered"})
    assert_problem(response, 409, rule="R2", field="purpose")
    assert snapshot(ready) == before


def test_verbal_explicit_consent_is_refused_by_r4(ready) -> None:
    before = snapshot(ready)
    response = ready.call("POST", CONSENTS, json={**CONSENT, "method": "verbal"})
    assert_problem(response, 409, rule="R4", field="method")
    assert snapshot(ready) == before


def test_withdrawing_when_nothing_is_in_force_is_refused_by_r8(ready) -> None:
    before = snapshot(ready)
    response = ready.call(
        "POST",
        f"{CONSENTS}/{PURPOSE}/withdrawal",
        json={"method": "email", "recorded_by": "staff:jdevries"},
    )
    assert_problem(response, 409, rule="R8")
    assert snapshot(ready) == before


def test_duplicate_purpose_registration_is_refused_and_register_unchanged(ready) -> None:
    before = register_of(ready)
    response = ready.call(
        "POST",
        "/v1/purposes",
        json={
            "code": PURPOSE,
            "title": "Nog eens",
            "basis": "consent",
            "notice": {"version": "9", "url": "https://x.example/n", "sha256": "c" * 64},
        },
    )
    assert_problem(response, 409, rule="R2")
    assert register_of(ready) == before


def test_consent_for_an_unregistered_subject_is_404_and_creates_nothing(ready) -> None:
    response = ready.call("POST", "/v1/subjects/stranger/consents", json=CONSENT)
    assert_problem(response, 404)
    assert_problem(ready.call("GET", "/v1/subjects/stranger/history"), 404)
    assert_problem(ready.call("GET", f"/v1/subjects/stranger/standing/{PURPOSE}"), 404)


# -- the register and subjects --------------------------------------------------------------


def test_malformed_json_on_purpose_registration_is_400_and_register_unchanged(ready) -> None:
    before = register_of(ready)
    assert_problem(post_raw(ready, "/v1/purposes", b'{"code": "x", "title": '), 400)
    assert register_of(ready) == before


def test_material_revision_reusing_the_notice_is_refused_by_r10_and_register_unchanged(
    ready,
) -> None:
    before = register_of(ready)
    response = ready.call(
        "POST",
        f"/v1/purposes/{PURPOSE}/revisions",
        headers=ANY_VERSION,
        json={"material": True, "recipients": ["Nieuwe Ontvanger BV"]},
    )
    assert_problem(response, 409, rule="R10", field="notice")
    assert register_of(ready) == before


def test_unknown_field_in_a_revision_is_422_and_register_unchanged(ready) -> None:
    before = register_of(ready)
    response = ready.call(
        "POST",
        f"/v1/purposes/{PURPOSE}/revisions",
        headers=ANY_VERSION,
        json={"material": False, "colour": "blue"},
    )
    assert_problem(response, 422, field="colour")
    assert register_of(ready) == before


def test_impossible_birth_date_on_subject_put_is_422_and_subject_not_created(tenant) -> None:
    response = tenant.call("PUT", "/v1/subjects/new-one", json={"birth_date": "2011-02-30"})
    assert_problem(response, 422, field="birth_date")
    assert_problem(tenant.call("GET", "/v1/subjects/new-one/history"), 404)


@pytest.mark.parametrize(
    "email", ["not-an-email", "two@at@signs.example", "a b@example.org", "x@example.org\n"]
)
def test_an_address_that_is_no_email_is_422_and_the_subject_not_created(tenant, email) -> None:
    response = tenant.call("PUT", "/v1/subjects/mailed", json={"email": email})
    assert_problem(response, 422, field="email")
    assert tenant.call("GET", "/v1/subjects/mailed").status_code == 404


def test_an_email_address_is_taken_as_given(tenant) -> None:
    response = tenant.call("PUT", "/v1/subjects/mailed", json={"email": "j.de-vries+nb@example.nl"})
    assert response.status_code == 201, response.text


def test_bad_birth_date_on_existing_subject_put_changes_nothing(ready) -> None:
    before = snapshot(ready)
    response = ready.call("PUT", f"/v1/subjects/{REF}", json={"birth_date": "soon"})
    assert_problem(response, 422, field="birth_date")
    assert snapshot(ready) == before


# -- odd but well-formed JSON, and odd routes -----------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [b"null", b"[]", b'"consent"', b"42", b"{}"],
    ids=["null", "array", "string", "number", "empty-object"],
)
def test_body_that_is_not_the_expected_object_is_422(ready, raw) -> None:
    before = snapshot(ready)
    assert_problem(post_raw(ready, CONSENTS, raw), 422)
    assert snapshot(ready) == before


@pytest.mark.parametrize(
    "text",
    ["\\ud800", "\\u0000", "a\\udfffb"],
    ids=["lone-high-surrogate", "nul", "lone-low-surrogate"],
)
def test_odd_escapes_in_strings_never_answer_500(ready, text) -> None:
    raw = json.dumps({**CONSENT, "recorded_by": "@"}).replace("@", text)
    response = post_raw(ready, CONSENTS, raw)
    assert response.status_code in (201, 400, 422), response.text
    if response.status_code == 201:
        assert snapshot(ready)[1]["lawful"] is True


def test_number_out_of_range_is_a_4xx_problem(ready) -> None:
    before = snapshot(ready)
    raw = json.dumps({**CONSENT, "explicit": "@"}).replace('"@"', "1e999")
    response = post_raw(ready, CONSENTS, raw)
    assert 400 <= response.status_code < 500, response.text
    assert_problem(response, response.status_code)
    assert snapshot(ready) == before


def test_expiry_before_effect_is_refused_by_r9(ready) -> None:
    before = snapshot(ready)
    response = ready.call(
        "POST",
        CONSENTS,
        json={
            **CONSENT,
            "effective_at": "2025-09-02T10:00:00Z",
            "expires_at": "2025-09-01T10:00:00Z",
        },
    )
    assert_problem(response, 409, rule="R9", field="expires_at")
    assert snapshot(ready) == before


def test_withdrawal_dated_in_the_future_is_refused_by_r8(ready) -> None:
    assert ready.call("POST", CONSENTS, json=CONSENT).status_code == 201
    before = snapshot(ready)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    response = ready.call(
        "POST",
        f"{CONSENTS}/{PURPOSE}/withdrawal",
        json={"method": "email", "recorded_by": "staff:a", "effective_at": tomorrow},
    )
    assert_problem(response, 409, rule="R8", field="effective_at")
    # beyond the range the ledger accepts at all (domain/bounds.py) it is invalid input
    response = ready.call(
        "POST",
        f"{CONSENTS}/{PURPOSE}/withdrawal",
        json={"method": "email", "recorded_by": "staff:a", "effective_at": "2999-01-01T00:00:00Z"},
    )
    assert_problem(response, 422, field="effective_at")
    assert snapshot(ready) == before


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", CONSENTS), ("PUT", "/v1/subjects/nobody-yet"), ("POST", "/v1/checks")],
    ids=["consent", "subject", "check"],
)
def test_an_empty_body_is_400_saying_it_is_empty_and_records_nothing(ready, method, path) -> None:
    before = snapshot(ready)
    response = ready.call(method, path, content=b"", headers={"Content-Type": "application/json"})
    body = assert_problem(response, 400)
    assert body["type"] == "urn:grondslag:problem:malformed-body"
    assert "empty" in body["detail"]
    assert snapshot(ready) == before
    assert ready.call("GET", "/v1/subjects/nobody-yet").status_code == 404


@pytest.mark.parametrize("raw", [b"null", b"[]"], ids=["null", "array"])
def test_a_body_that_is_no_object_names_the_body_not_a_field(ready, raw) -> None:
    body = assert_problem(post_raw(ready, CONSENTS, raw), 422)
    assert "field" not in body, body  # litestar calls the whole body "data": no such field
    assert body["errors"][0]["field"] is None and body["errors"][0]["source"] == "body"
    assert body["detail"].startswith("the body: Expected `object`")


def test_an_event_id_that_is_no_uuid_is_422_naming_the_path_parameter(ready) -> None:
    body = assert_problem(ready.call("GET", "/v1/audit/proofs/not-a-uuid"), 422, field="event_id")
    assert body["type"] == "urn:grondslag:problem:invalid-path"
    # a pattern is quoted as written: one backslash, escaped once by JSON
    assert "(?!\\n)$" in body["detail"] and "\\\\" not in body["detail"], body


def test_parameter_refusals_are_typed_by_where_the_parameter_is(ready) -> None:
    limit = assert_problem(ready.call("GET", "/v1/purposes", params={"limit": "0"}), 422)
    assert (limit["type"], limit["field"]) == ("urn:grondslag:problem:invalid-query", "limit")
    at = ready.call("GET", f"/v1/subjects/{REF}/standing/{PURPOSE}", params={"at": "yesterday"})
    assert assert_problem(at, 422, field="at")["type"] == "urn:grondslag:problem:invalid-query"


def test_a_missing_query_parameter_is_named(ready) -> None:
    body = assert_problem(ready.call("GET", "/v1/audit/export"), 422, field="subject_ref")
    assert body["type"] == "urn:grondslag:problem:invalid-query"
    assert body["errors"] == [
        {"field": "subject_ref", "message": "the query parameter is required", "source": "query"}
    ]


def test_unknown_route_is_a_404_problem(ready) -> None:
    assert_problem(ready.call("GET", "/v1/no-such-thing"), 404)


def test_wrong_method_is_a_405_problem(ready) -> None:
    before = register_of(ready)
    assert_problem(ready.call("DELETE", f"/v1/purposes/{PURPOSE}"), 405)
    assert register_of(ready) == before
