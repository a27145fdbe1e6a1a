"""Every answer the integration tests got is in the OpenAPI document: its operation, its
status, its media type, the headers it carried and every header the document requires.

It runs after every other test of the session (``RUNS_LAST``), over the answers all of them
got (``contract_support``, installed by the conftest), the fuzzer's included. In parallel
workers it judges the answers of its own worker, and the controller, once every worker is
done, the answers of them all (``contract_support.judge_the_run``). Alone, it judges the
answers of its own few calls, which give each kind of refusal."""

from __future__ import annotations

import json
from typing import Any

from contract_support import Answer, Traffic, document, of_kinds, undocumented

from api_support import REF

RUNS_LAST = True


def test_every_answer_the_suite_got_is_documented(ready: Any, traffic: Traffic) -> None:
    reader = ready.key_with("reader")
    ready.call("GET", f"/v1/subjects/{REF}/standing")  # 200
    ready.call("GET", "/v1/subjects/nobody/history")  # 404
    ready.call("POST", f"/v1/subjects/{REF}/consents", json={}, key=reader)  # 403
    ready.client.get("/v1/purposes")  # 401
    ready.call("POST", "/v1/purposes", content=b"{", headers={"content-type": "application/json"})
    ready.call("POST", "/v1/purposes", content=b"x", headers={"content-type": "text/plain"})
    ready.call("POST", f"/v1/subjects/{REF}/consents", json={"purpose": 5})  # 422
    ready.consent(method="verbal")  # 409 R4
    ready.call("PUT", f"/v1/subjects/{REF}", json={}, headers={"Idempotency-Key": "k"})
    ready.call("PUT", f"/v1/subjects/{REF}", json={}, headers={"Idempotency-Key": "k"})
    ready.client.get("/u/not-a-token")  # 404 page
    assert len(traffic.answers) >= 10
    faults = undocumented(document(), set(traffic.answers))
    assert not faults, f"{len(faults)} answers the OpenAPI document does not list:\n" + "\n".join(
        faults
    )


def test_an_undocumented_answer_is_named() -> None:
    doc = document()
    given = [
        Answer("GET", "/v1/purposes", 200, "application/json", frozenset()),
        Answer("GET", "/v1/purposes", 418, "application/problem+json", frozenset()),
        Answer("DELETE", "/v1/purposes", 200, None, frozenset()),
        Answer("GET", "/v1/purposes", 401, "text/html", frozenset()),
        Answer("POST", "/v1/purposes", 201, "application/json", frozenset()),
        Answer("GET", "/v1/purposes", 200, "application/json", frozenset({"location"})),
    ]
    faults = undocumented(doc, given)
    assert faults == [
        "DELETE /v1/purposes → 200 None: no such operation in the document",
        "GET /v1/purposes → 200 application/json with location: header location is not documented",
        "GET /v1/purposes → 401 text/html: media type text/html is not documented (only "
        "application/problem+json)",
        "GET /v1/purposes → 418 application/problem+json: status 418 is not documented",
        "POST /v1/purposes → 201 application/json: required header location was not sent",
    ]


def test_the_answers_a_worker_leaves_read_back_as_they_were() -> None:
    seen = Traffic()
    given = [
        Answer("GET", "/v1/purposes", 200, "application/json", frozenset()),
        Answer("POST", "/v1/purposes", 201, "application/json", frozenset({"location"})),
        Answer("HEAD", "/v1/purposes", 200, None, frozenset({"retry-after", "location"})),
    ]
    for answer in given:
        seen.answers[answer] += 2
    assert of_kinds(json.loads(json.dumps(seen.kinds()))) == set(given)
