"""A 201 that creates a resource names it in ``Location`` — also when the answer is the stored
answer to a repeated ``Idempotency-Key`` — and the address answers it."""

from __future__ import annotations

from typing import Any

from api_support import PURPOSE, REF, purpose_body
from requests_support import request_body


def test_a_registered_purpose_is_where_location_says(tenant: Any) -> None:
    response = tenant.call("POST", "/v1/purposes", json=purpose_body())
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/v1/purposes/{PURPOSE}"
    again = tenant.call("GET", response.headers["location"])
    assert again.status_code == 200 and again.json()["code"] == PURPOSE


def test_a_replayed_request_names_the_same_location(ready: Any) -> None:
    key = {"Idempotency-Key": "request-17"}
    path = f"/v1/subjects/{REF}/requests"
    first = ready.call("POST", path, json=request_body(), headers=key)
    assert first.status_code == 201, first.text
    assert first.headers["location"] == f"/v1/requests/{first.json()['request_id']}"
    replayed = ready.call("POST", path, json=request_body(), headers=key)
    assert replayed.headers.get("idempotent-replayed") == "true"
    assert replayed.status_code == 201
    assert replayed.headers["location"] == first.headers["location"]
    shown = ready.call("GET", first.headers["location"])
    assert shown.status_code == 200 and shown.json()["request_id"] == first.json()["request_id"]


def test_a_new_and_a_rotated_key_are_where_location_says(tenant: Any) -> None:
    made = tenant.call("POST", "/v1/keys", json={"roles": ["reader"]})
    assert made.status_code == 201, made.text
    assert made.headers["location"] == f"/v1/keys/{made.json()['key_id']}"
    rotated = tenant.call("POST", f"{made.headers['location']}/rotation")
    assert rotated.status_code == 201, rotated.text
    new = rotated.json()["key"]["key_id"]
    assert rotated.headers["location"] == f"/v1/keys/{new}"
    assert tenant.call("GET", rotated.headers["location"]).json()["key_id"] == new


def test_a_recorded_event_has_no_location(ready: Any) -> None:
    """A consent is an event of the standing, not a resource with an address of its own."""
    response = ready.consent()
    assert response.status_code == 201, response.text
    assert "location" not in response.headers
