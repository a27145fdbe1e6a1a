"""What the OpenAPI fuzzer (test_fuzz_openapi.py) found, kept as ordinary regression tests."""

from __future__ import annotations

from typing import Any

import pytest

from api_support import PURPOSE, REF, assert_problem, snapshot

# the routes of the controllers that guard every handler (consents, bases, objections,
# representatives, newsletter links): their guards also ran on litestar's OPTIONS answer
GUARDED = [
    f"/v1/subjects/{REF}/consents",
    f"/v1/subjects/{REF}/consents/{PURPOSE}/withdrawal",
    f"/v1/subjects/{REF}/bases",
    f"/v1/subjects/{REF}/bases/{PURPOSE}/end",
    f"/v1/subjects/{REF}/objections",
    f"/v1/subjects/{REF}/objections/{PURPOSE}/decision",
    f"/v1/subjects/{REF}/representatives",
    f"/v1/subjects/{REF}/representatives/mother-1/end",
    f"/v1/subjects/{REF}/unsubscribe-links",
    "/v1/newsletter/signups",
]


def options(tenant, path: str, **kwargs: Any) -> Any:
    return tenant.client.request("OPTIONS", path, **kwargs)


@pytest.mark.parametrize("path", GUARDED)
def test_options_on_a_guarded_route_lists_its_methods_not_a_500(ready, path) -> None:
    before = snapshot(ready)
    for answer in (
        options(ready, path),  # no key: the authentication middleware lets OPTIONS through
        options(ready, path, headers={"Authorization": f"Bearer {ready.key}"}),
        options(
            ready,
            path,
            content=b'{"reason": "0"}',
            headers={"Authorization": f"Bearer {ready.key}", "Content-Type": "application/json"},
        ),
    ):
        assert answer.status_code == 204, answer.text
        assert "POST" in answer.headers["allow"]
    assert snapshot(ready) == before


def test_options_is_answered_alike_on_routes_with_and_without_controller_guards(ready) -> None:
    assert options(ready, "/v1/purposes").status_code == 204
    assert options(ready, f"/v1/subjects/{REF}/consents").status_code == 204


def test_the_guards_still_refuse_writes_without_a_key_or_the_role(ready) -> None:
    path = f"/v1/subjects/{REF}/consents"
    assert_problem(ready.client.post(path, json={}), 401)
    reader = ready.key_with("reader")
    assert_problem(ready.call("POST", path, key=reader, json={}), 403)


@pytest.mark.parametrize(
    "raw",
    [b"\x00", b"Ry\x89\r", b"\x07\x17\x13\x99\xaa", b'{"purpose": '],
    ids=["nul", "binary", "control", "truncated"],
)
def test_a_body_that_is_no_json_at_all_is_the_malformed_body_problem(ready, raw) -> None:
    before = snapshot(ready)
    response = ready.call(
        "POST",
        f"/v1/subjects/{REF}/consents",
        content=raw,
        headers={"Content-Type": "application/json"},
    )
    body = assert_problem(response, 400)
    assert body["type"] == "urn:grondslag:problem:malformed-body"
    assert body["detail"] == "the request body is not valid JSON"
    assert snapshot(ready) == before
