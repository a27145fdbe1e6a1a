"""Data-subject requests over HTTP (R23): recorded with their due date, made by the subject
or a representative R11–R16 admit, never with a BSN (R5); extended, answered (late after
the due date) and confirmed; listed by due date a page at a time, as folded."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from api_support import assert_problem
from requests_support import (
    REQUESTS,
    act,
    days_ago,
    listed,
    receive,
    received,
    shown,
    wait_until_listed,
    without_moment,
)

CARE = {"matter": "care", "special_categories": ["health"], "special_condition": "health_care"}


def practice(tenant, *refs: str, **subject: object):
    tenant.register_purpose("photo")
    tenant.register_purpose("care-file", basis="contract", **CARE)
    for ref in refs or ("client-1",):
        tenant.put_subject(ref, **subject)
    return tenant


def test_a_request_is_recorded_with_its_due_date_and_covers_every_purpose_r23(tenant) -> None:
    practice(tenant, birth_date="1980-01-01")
    body = received(tenant, received_at="2026-01-31T22:30:00Z")  # 23:30 Amsterdam
    assert body["due_date"] == "2026-03-02"  # 28 Feb 2026 is a Saturday
    assert body["due_at"] == "2026-03-02T23:00:00Z"  # the end of that day, Amsterdam
    assert body["purposes"] == ["care-file", "photo"]
    assert body["made_by"] == {"party": "subject"}
    assert body["identity"] == {
        "method": "known_in_person",
        "verified_by": "staff:jdevries",
        "verified_at": None,
    }
    assert (body["status"], body["overdue"], body["late"]) == ("open", True, True)
    again = shown(tenant, body["request_id"])
    assert [event["type"] for event in again["history"]] == ["Received"]
    assert without_moment(again) == without_moment(body)


def test_a_parents_request_for_a_child_under_16_is_accepted_r11(tenant) -> None:
    practice(tenant, "child-1", birth_date="2014-03-14")
    tenant.call(
        "POST",
        "/v1/subjects/child-1/representatives",
        json={
            "representative_ref": "mother-1",
            "kind": "parental_authority",
            "valid_from": "2014-03-14T00:00:00+01:00",
            "evidence": {"document_ref": "gezagsregister-2025"},
        },
    )
    body = received(tenant, "child-1", representative_ref="mother-1", kind="erasure")
    assert body["made_by"] == {
        "party": "representative",
        "representative_ref": "mother-1",
        "capacity": "parental_authority",
    }


def test_a_mentors_request_outside_care_is_refused_r15(tenant) -> None:
    practice(tenant, birth_date="1950-01-01")
    mentor = {
        "representative_ref": "mentor-1",
        "kind": "mentor",
        "valid_from": "2024-01-01T00:00:00Z",
        "evidence": {"document_ref": "beschikking-2024-1"},
    }
    assert tenant.call("POST", "/v1/subjects/client-1/representatives", json=mentor).is_success
    refused = receive(tenant, representative_ref="mentor-1")  # every purpose: photo too
    assert_problem(refused, 409, rule="R15", field="representative_ref")
    body = received(tenant, representative_ref="mentor-1", purposes=["care-file"])
    assert body["made_by"]["capacity"] == "mentor"


def test_a_bsn_in_the_identity_check_is_refused_naming_r5_and_the_field(tenant) -> None:
    practice(tenant)
    identity = {"method": "in_person_id_document", "verified_by": "jdevries, bsn 111 222 333"}
    refused = receive(tenant, identity=identity)
    body = assert_problem(refused, 422, rule="R5", field="identity.verified_by")
    assert "111" not in body["detail"]
    assert listed(tenant, status="all")["requests"] == []


def test_a_request_received_in_the_future_or_for_an_unknown_subject_is_refused(tenant) -> None:
    practice(tenant)
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert_problem(receive(tenant, received_at=future), 422, field="received_at")
    assert_problem(receive(tenant, "nobody"), 404)
    assert_problem(receive(tenant, purposes=["unknown"]), 409, rule="R2", field="purposes")
    assert_problem(receive(tenant, kind="complaint"), 422, field="kind")


def test_an_extension_by_more_than_two_months_in_all_is_refused_r23(tenant) -> None:
    practice(tenant)
    request = received(tenant, received_at=days_ago(3))
    extended = act(tenant, request["request_id"], "extension", months=1, reasons="many files")
    assert extended.status_code == 201, extended.text
    assert extended.json()["request"]["extended_months"] == 1
    beyond = act(tenant, request["request_id"], "extension", months=2, reasons="more files")
    assert_problem(beyond, 409, rule="R23", field="months")
    assert_problem(
        act(tenant, request["request_id"], "extension", months=3, reasons="x"), 422, field="months"
    )
    after = shown(tenant, request["request_id"])
    assert after["extended_months"] == 1
    assert after["due_at"] > after["original_due_at"]


def test_an_extension_recorded_after_the_first_month_is_refused_r23(tenant) -> None:
    practice(tenant)
    request = received(tenant, received_at=days_ago(40))
    late = act(tenant, request["request_id"], "extension", months=1, reasons="busy")
    body = assert_problem(late, 409, rule="R23")
    assert "first month" in body["detail"]


def test_an_answer_after_the_due_date_is_recorded_and_shown_late_r23(tenant) -> None:
    practice(tenant)
    request = received(tenant, received_at=days_ago(45))
    answer = act(tenant, request["request_id"], "answer", outcome="fulfilled", reasons="sent")
    assert answer.status_code == 201, answer.text
    body = shown(tenant, request["request_id"])
    assert body["status"] == "answered"
    assert body["answer"]["late"] is True and body["late"] is True
    assert body["overdue"] is False
    again = act(tenant, request["request_id"], "answer", outcome="refused", reasons="again")
    assert_problem(again, 409, rule="R23")


def test_an_answer_in_time_is_not_late_and_systems_confirm_what_they_did(tenant) -> None:
    practice(tenant)
    request = received(tenant, received_at=days_ago(2), kind="erasure")
    rid = request["request_id"]
    for system in ("client-file", "mailing-tool"):
        done = act(tenant, rid, "confirmations", system=system, what="deleted the records")
        assert done.status_code == 201, done.text
    act(tenant, rid, "answer", outcome="partly", reasons="the care file is kept (WGBO)")
    body = shown(tenant, rid)
    assert body["confirmed_by"] == ["client-file", "mailing-tool"]
    assert body["answer"]["outcome"] == "partly" and body["answer"]["late"] is False
    assert [e["type"] for e in body["history"]] == [
        "Received",
        "Confirmed",
        "Confirmed",
        "Answered",
    ]


def test_open_requests_are_listed_by_due_date_a_page_at_a_time_as_folded(tenant) -> None:
    practice(tenant, "client-1", "client-2")
    # a week apart: a month's end and the Algemene termijnenwet (a deadline on a Sunday or a
    # holiday moves to the next working day) bring deadlines up to a few days closer, so
    # that requests received 1 and 3 days ago were both due on Monday 4 January 2027
    ids = [received(tenant, received_at=days_ago(d))["request_id"] for d in (9, 30, 16, 2, 23)]
    answered = received(tenant, received_at=days_ago(5))["request_id"]
    act(tenant, answered, "answer", outcome="fulfilled", reasons="sent")
    wait_until_listed(tenant, 6)

    def paged() -> list[list[dict]]:
        pages, cursor = [], None
        while True:
            page = listed(tenant, limit=2, **({"cursor": cursor} if cursor else {}))
            pages.append(page["requests"])
            if (cursor := page["next"]) is None:
                return pages

    # the deadline clock notices the requests due within a week (or past due) on its own,
    # each an event that the listing may not show yet: the two agree once it has settled
    deadline = time.monotonic() + 10
    while True:
        pages = paged()
        unlike = [
            (without_moment(item), folded)
            for item in (item for page in pages for item in page)
            if without_moment(item) != (folded := without_moment(shown(tenant, item["request_id"])))
        ]
        if not unlike or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert unlike == []
    assert [len(page) for page in pages] == [2, 2, 1]
    shown_in_order = [item["request_id"] for page in pages for item in page]
    by_due = [ids[i] for i in (1, 4, 2, 0, 3)]  # received 30, 23, 16, 9 and 2 days ago
    assert shown_in_order == by_due
    assert [r["request_id"] for r in listed(tenant, status="answered")["requests"]] == [answered]
    assert len(listed(tenant, status="all")["requests"]) == 6
    assert listed(tenant, subject_ref="client-2")["requests"] == []
    assert len(listed(tenant, subject_ref="client-1", status="all")["requests"]) == 6


def test_another_tenants_request_is_not_found_and_a_forged_cursor_is_refused(
    tenant, make_tenant
) -> None:
    practice(tenant)
    request = received(tenant)
    other = make_tenant()
    assert_problem(other.call("GET", f"{REQUESTS}/{request['request_id']}"), 404)
    assert_problem(
        act(other, request["request_id"], "answer", outcome="fulfilled", reasons="x"), 404
    )
    assert_problem(
        tenant.call("GET", REQUESTS, params={"cursor": "bm90LWEtY3Vyc29y"}), 422, field="cursor"
    )
    assert_problem(tenant.call("GET", f"{REQUESTS}/not-a-uuid"), 422, field="request_id")


def test_a_retried_post_with_its_idempotency_key_records_one_request(tenant) -> None:
    practice(tenant)
    headers = {"Idempotency-Key": "request-mail-17"}
    body = {
        "kind": "access",
        "channel": "letter",
        "identity": {"method": "signature_compared", "verified_by": "staff:a"},
    }
    first = tenant.call("POST", "/v1/subjects/client-1/requests", json=body, headers=headers)
    second = tenant.call("POST", "/v1/subjects/client-1/requests", json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert second.json()["request_id"] == first.json()["request_id"]
    wait_until_listed(tenant, 1)
    assert len(listed(tenant)["requests"]) == 1


def test_metrics_count_open_and_overdue_requests_per_tenant(tenant) -> None:
    practice(tenant)
    received(tenant, received_at=days_ago(40))
    received(tenant, received_at=days_ago(1))
    wait_until_listed(tenant, 2)
    text = tenant.call("GET", "/metrics").text
    assert f'grondslag_requests_open{{tenant="{tenant.name}"}} 2.0' in text
    assert f'grondslag_requests_overdue{{tenant="{tenant.name}"}} 1.0' in text


def test_the_running_projector_notices_an_overdue_request_once(tenant) -> None:
    practice(tenant)
    request = received(tenant, received_at=days_ago(40))
    deadline = time.monotonic() + 10
    while (body := shown(tenant, request["request_id"]))["overdue_noticed_at"] is None:
        assert time.monotonic() < deadline, "the request clock did not notice within 10 s"
        time.sleep(0.05)
    time.sleep(1.2)  # more ticks of the clock
    types = [event["type"] for event in shown(tenant, request["request_id"])["history"]]
    assert types == ["Received", "OverdueNoticed"]
    assert body["due_soon_noticed_at"] is None


def test_a_retried_answer_with_its_idempotency_key_is_not_refused_as_a_second_answer(
    tenant,
) -> None:
    practice(tenant)
    rid = received(tenant, received_at=days_ago(2))["request_id"]
    headers = {"Idempotency-Key": "answer-17"}
    body = {"outcome": "refused", "reasons": "manifestly unfounded (art. 12(5))"}
    first = tenant.call("POST", f"{REQUESTS}/{rid}/answer", json=body, headers=headers)
    second = tenant.call("POST", f"{REQUESTS}/{rid}/answer", json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert second.status_code in (200, 201), second.text
    assert second.json()["event_id"] == first.json()["event_id"]
    assert [e["type"] for e in shown(tenant, rid)["history"]] == ["Received", "Answered"]
