"""``Idempotency-Key`` on writes: the same key and body give the first answer and add nothing."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from api_support import CONSENTS, PURPOSE, REF, consent_body

CONSENT = consent_body(effective_at="2025-09-02T10:00:00Z")


def keyed(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


def event_types(tenant, ref: str = REF) -> list[str]:
    response = tenant.call("GET", f"/v1/subjects/{ref}/history")
    assert response.status_code == 200, response.text
    return [event["type"] for event in response.json()["events"]]


def consents_given(tenant, ref: str = REF) -> int:
    return event_types(tenant, ref).count("ConsentGiven")


def test_same_key_and_body_twice_replays_the_first_answer_and_records_once(ready) -> None:
    first = ready.call("POST", CONSENTS, json=CONSENT, headers=keyed("k-1"))
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    second = ready.call("POST", CONSENTS, json=CONSENT, headers=keyed("k-1"))
    assert second.status_code == first.status_code
    assert second.content == first.content
    assert second.headers["idempotent-replayed"] == "true"
    assert second.headers["content-type"] == first.headers["content-type"]
    assert consents_given(ready) == 1


def test_without_a_key_the_same_body_twice_records_twice(ready) -> None:
    assert ready.call("POST", CONSENTS, json=CONSENT).status_code == 201
    assert ready.call("POST", CONSENTS, json=CONSENT).status_code == 201
    assert consents_given(ready) == 2


def test_same_key_with_a_different_body_is_422_and_records_nothing_more(ready) -> None:
    first = ready.call("POST", CONSENTS, json=CONSENT, headers=keyed("k-2"))
    assert first.status_code == 201, first.text
    other = {**CONSENT, "evidence": {"document_ref": "other.pdf"}}
    reused = ready.call("POST", CONSENTS, json=other, headers=keyed("k-2"))
    assert reused.status_code == 422, reused.text
    assert reused.headers["content-type"].startswith("application/problem+json")
    assert reused.json()["field"] == "Idempotency-Key"
    assert reused.json()["instance"] == CONSENTS  # RFC 9457: the path asked, as everywhere
    assert consents_given(ready) == 1
    history = ready.call("GET", f"/v1/subjects/{REF}/history").json()["events"]
    assert [
        e["details"]["evidence"]["document_ref"] for e in history if e["type"] == "ConsentGiven"
    ] == ["intake-17.pdf"]


def test_same_key_on_another_path_is_422(ready) -> None:
    ready.put_subject("client-2")
    assert ready.call("POST", CONSENTS, json=CONSENT, headers=keyed("k-3")).status_code == 201
    elsewhere = ready.call(
        "POST", "/v1/subjects/client-2/consents", json=CONSENT, headers=keyed("k-3")
    )
    assert elsewhere.status_code == 422, elsewhere.text
    assert consents_given(ready, "client-2") == 0


def test_refused_request_does_not_burn_the_key(ready) -> None:
    refused = ready.call(
        "POST", CONSENTS, json={**CONSENT, "method": "verbal"}, headers=keyed("k-4")
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["rule"] == "R4"
    corrected = ready.call("POST", CONSENTS, json=CONSENT, headers=keyed("k-4"))
    assert corrected.status_code == 201, corrected.text
    assert "idempotent-replayed" not in corrected.headers
    assert consents_given(ready) == 1


def test_refused_request_resent_unchanged_after_the_cause_is_fixed_succeeds(tenant) -> None:
    tenant.put_subject(REF)
    refused = tenant.call("POST", CONSENTS, json=CONSENT, headers=keyed("k-5"))
    assert refused.status_code == 409, refused.text  # purpose not registered yet (R2)
    tenant.register_purpose()
    retried = tenant.call("POST", CONSENTS, json=CONSENT, headers=keyed("k-5"))
    assert retried.status_code == 201, retried.text
    assert consents_given(tenant) == 1


def test_invalid_body_does_not_burn_the_key(ready) -> None:
    invalid = ready.call(
        "POST", CONSENTS, json={**CONSENT, "method": "telepathy"}, headers=keyed("k-6")
    )
    assert invalid.status_code == 422, invalid.text
    assert ready.call("POST", CONSENTS, json=CONSENT, headers=keyed("k-6")).status_code == 201
    assert consents_given(ready) == 1


def test_keys_are_per_tenant(make_tenant) -> None:
    first, second = make_tenant(), make_tenant()
    answers = []
    for tenant in (first, second):
        tenant.register_purpose()
        tenant.put_subject(REF)
        answers.append(tenant.call("POST", CONSENTS, json=CONSENT, headers=keyed("shared-key")))
    for tenant, answer in zip((first, second), answers, strict=True):
        assert answer.status_code == 201, answer.text
        assert "idempotent-replayed" not in answer.headers
        assert consents_given(tenant) == 1
    assert answers[0].json()["event_id"] != answers[1].json()["event_id"]


def test_put_subject_with_a_key_replays_201_and_records_once(tenant) -> None:
    body = {"birth_date": "1990-05-01", "email": "j.jansen@example.nl"}
    first = tenant.call("PUT", f"/v1/subjects/{REF}", json=body, headers=keyed("put-1"))
    assert first.status_code == 201, first.text
    replay = tenant.call("PUT", f"/v1/subjects/{REF}", json=body, headers=keyed("put-1"))
    assert (replay.status_code, replay.content) == (201, first.content)
    assert replay.headers["idempotent-replayed"] == "true"
    fresh = tenant.call("PUT", f"/v1/subjects/{REF}", json=body, headers=keyed("put-2"))
    assert fresh.status_code == 200, fresh.text  # a new key: an update of what exists
    changed = tenant.call(
        "PUT", f"/v1/subjects/{REF}", json={**body, "email": None}, headers=keyed("put-1")
    )
    assert changed.status_code == 422, changed.text
    assert event_types(tenant) == ["SubjectRegistered"]


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there"], ids=["empty", "too-long", "tab"])
def test_unusable_key_is_400_and_records_nothing(ready, key) -> None:
    response = ready.call("POST", CONSENTS, json=CONSENT, headers=keyed(key))
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert consents_given(ready) == 0


def test_eight_concurrent_requests_with_one_key_record_exactly_once(ready) -> None:
    start = threading.Barrier(8)

    def send(_: int) -> Any:
        start.wait(timeout=10)
        return ready.call("POST", CONSENTS, json=CONSENT, headers=keyed("race-1"))

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(send, range(8)))
    created = [
        a for a in answers if a.status_code == 201 and "idempotent-replayed" not in a.headers
    ]
    assert len(created) == 1, [(a.status_code, a.text) for a in answers]
    for answer in answers:  # no "in progress": each of the others answers the first answer
        if answer is created[0]:
            continue
        assert answer.headers.get("idempotent-replayed") == "true", answer.text
        assert (answer.status_code, answer.content) == (201, created[0].content)
    assert consents_given(ready) == 1
    after = ready.call("POST", CONSENTS, json=CONSENT, headers=keyed("race-1"))
    assert (after.status_code, after.content) == (201, created[0].content)


def sql(database_url: str, query: str, *args: Any) -> Any:
    import asyncio

    import asyncpg

    async def run() -> Any:
        conn = await asyncpg.connect(database_url)
        try:
            return await conn.execute(query, *args)
        finally:
            await conn.close()

    return asyncio.run(run())


def test_a_claim_whose_request_died_before_it_committed_runs_at_once(tenant, database_url) -> None:
    """No timer: a placeholder left by a process that died mid-request (as earlier releases
    wrote them) holds nothing committed, so the retry records — now, and once."""
    tenant.register_purpose()
    tenant.put_subject(REF)
    sql(
        database_url,
        "INSERT INTO grondslag_idempotency (tenant, key, request_hash) VALUES ($1, $2, $3)",
        tenant.name,
        "left-behind",
        b"x" * 32,
    )
    taken = tenant.call("POST", CONSENTS, json=CONSENT, headers=keyed("left-behind"))
    assert taken.status_code == 201, taken.text
    replay = tenant.call("POST", CONSENTS, json=CONSENT, headers=keyed("left-behind"))
    assert replay.headers.get("idempotent-replayed") == "true"
    assert replay.json() == taken.json()
    assert consents_given(tenant) == 1


def test_a_request_that_died_after_its_commit_is_answered_with_the_first_answer(
    ready, database_url
) -> None:
    """The process died between committing the consent and storing its answer: the retry
    answers exactly the first answer from what committed, and records nothing."""
    first = ready.call("POST", CONSENTS, json=CONSENT, headers=keyed("crash-1"))
    assert first.status_code == 201, first.text
    # what a SIGKILL between the commit and the stored answer leaves behind
    sql(
        database_url,
        "DELETE FROM grondslag_idempotency WHERE tenant = $1 AND key = $2",
        ready.name,
        "crash-1",
    )
    retry = ready.call("POST", CONSENTS, json=CONSENT, headers=keyed("crash-1"))
    assert (retry.status_code, retry.json()) == (201, first.json())
    assert retry.headers.get("idempotent-replayed") == "true"
    assert consents_given(ready) == 1
    # even though a second consent would be accepted now, the key still means the first
    other = ready.call(
        "POST", CONSENTS, json={**CONSENT, "recorded_by": "x"}, headers=keyed("crash-1")
    )
    assert other.status_code == 422, other.text
    assert other.json()["field"] == "Idempotency-Key"
    assert consents_given(ready) == 1


def test_a_committed_withdrawal_answers_again_though_nothing_is_left_to_withdraw(
    ready, database_url
) -> None:
    """Replaying from what committed runs no rules again: a withdrawal whose answer was
    lost is answered 201 as first, not refused by R8 (nothing left in force)."""
    assert ready.call("POST", CONSENTS, json=CONSENT).status_code == 201
    path = f"{CONSENTS}/{PURPOSE}/withdrawal"
    body = {"method": "email", "recorded_by": "staff:a"}
    first = ready.call("POST", path, json=body, headers=keyed("w-1"))
    assert first.status_code == 201, first.text
    sql(database_url, "DELETE FROM grondslag_idempotency WHERE key = $1", "w-1")
    retry = ready.call("POST", path, json=body, headers=keyed("w-1"))
    assert (retry.status_code, retry.json()) == (201, first.json())
    assert event_types(ready).count("ConsentWithdrawn") == 1
