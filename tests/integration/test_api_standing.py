"""Standing, history, subjects and the register over the API: read-your-writes, the
bitemporal answer, recorded order, and no personal data in the log."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta

import psycopg

from api_support import ANY_VERSION, PURPOSE, REF, history, standing, withdraw

NOTICE_2 = {
    "version": "2026-01",
    "url": "https://praktijk.example/privacy/2026-01",
    "sha256": "b" * 64,
}


# -- read your writes -----------------------------------------------------------------------


def test_consent_is_visible_in_every_read_immediately_after_the_write(tenant) -> None:
    tenant.register_purpose()
    tenant.put_subject(REF)
    given = tenant.consent(REF)
    assert given.status_code == 201, given.text
    event_id = given.json()["event_id"]
    assert given.json()["standing"]["lawful"] is True
    one = standing(tenant)
    assert (one["lawful"], one["status"], one["evidence"]) == (True, "lawful", [event_id])
    every = tenant.call("GET", f"/v1/subjects/{REF}/standing").json()
    assert [(p["purpose"], p["status"]) for p in every["purposes"]] == [(PURPOSE, "lawful")]
    assert history(tenant)[-1]["event_id"] == event_id


def test_withdrawal_is_visible_immediately_after_the_write(tenant) -> None:
    tenant.register_purpose()
    tenant.put_subject(REF)
    assert tenant.consent(REF).status_code == 201
    withdrawn = withdraw(tenant)
    assert withdrawn.status_code == 201, withdrawn.text
    after = standing(tenant)
    assert (after["lawful"], after["status"], after["reason"]) == (False, "lapsed", "withdrawn")
    every = tenant.call("GET", f"/v1/subjects/{REF}/standing").json()["purposes"]
    assert [(p["status"], p["reason"]) for p in every] == [("lapsed", "withdrawn")]


def test_all_purposes_view_lists_every_registered_purpose_with_none_where_nothing_recorded(
    tenant,
) -> None:
    tenant.register_purpose("photo-in-dossier")
    tenant.register_purpose("newsletter")
    tenant.register_purpose("care-file", basis="contract")
    tenant.put_subject(REF)
    assert tenant.consent(REF, "newsletter").status_code == 201
    response = tenant.call("GET", f"/v1/subjects/{REF}/standing")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["subject_ref"] == REF
    by_purpose = {p["purpose"]: p for p in body["purposes"]}
    assert set(by_purpose) == {"photo-in-dossier", "newsletter", "care-file"}
    assert by_purpose["newsletter"]["status"] == "lawful"
    assert by_purpose["photo-in-dossier"]["status"] == "none"
    assert by_purpose["photo-in-dossier"]["lawful"] is False
    care_file = by_purpose["care-file"]
    assert (care_file["status"], care_file["basis"], care_file["lawful"]) == (
        "none",
        "contract",
        False,
    )


def test_all_purposes_view_does_not_list_other_tenants_purposes(make_tenant) -> None:
    mine, theirs = make_tenant(), make_tenant()
    mine.register_purpose("mine-only")
    theirs.register_purpose("theirs-only")
    mine.put_subject(REF)
    purposes = mine.call("GET", f"/v1/subjects/{REF}/standing").json()["purposes"]
    assert [p["purpose"] for p in purposes] == ["mine-only"]


# -- bitemporal ------------------------------------------------------------------------------


def test_late_recorded_withdrawal_changes_the_answer_only_from_when_it_was_known(tenant) -> None:
    tenant.register_purpose()
    tenant.put_subject(REF)
    given = tenant.consent(REF, effective_at="2025-09-02T10:00:00Z")
    assert given.status_code == 201, given.text
    time.sleep(0.01)
    late = withdraw(tenant, effective_at="2025-10-01T09:00:00Z")  # arrived then, recorded now
    assert late.status_code == 201, late.text
    events = {e["event_id"]: e for e in history(tenant)}
    consent_known = events[given.json()["event_id"]]["recorded_at"]
    withdrawal_known = events[late.json()["event_id"]]["recorded_at"]
    assert consent_known < withdrawal_known
    at = "2025-12-01T00:00:00Z"

    as_then_known = standing(tenant, at=at, known_at=consent_known)
    assert (as_then_known["lawful"], as_then_known["status"]) == (True, "lawful")
    assert as_then_known["evidence"] == [given.json()["event_id"]]

    as_now_known = standing(tenant, at=at, known_at=withdrawal_known)
    assert (as_now_known["lawful"], as_now_known["status"]) == (False, "lapsed")
    assert as_now_known["reason"] == "withdrawn"
    assert datetime.fromisoformat(as_now_known["until"]) == datetime.fromisoformat(
        "2025-10-01T09:00:00+00:00"
    )
    assert late.json()["event_id"] in as_now_known["evidence"]

    before_it_arrived = standing(tenant, at="2025-09-30T23:59:59Z", known_at=withdrawal_known)
    assert before_it_arrived["lawful"] is True  # R8: processing before it stays lawful
    before_consent = standing(tenant, at="2025-09-01T00:00:00Z")
    assert before_consent["status"] == "none"


def test_known_at_before_anything_was_recorded_answers_none(tenant) -> None:
    tenant.register_purpose()
    tenant.put_subject(REF)
    assert tenant.consent(REF, effective_at="2025-09-02T10:00:00Z").status_code == 201
    answer = standing(tenant, at="2025-12-01T00:00:00Z", known_at="2000-01-01T00:00:00Z")
    assert (answer["lawful"], answer["status"]) == (False, "none")


def test_at_and_known_at_with_another_offset_mean_the_same_instant(tenant) -> None:
    tenant.register_purpose()
    tenant.put_subject(REF)
    assert tenant.consent(REF, effective_at="2025-09-02T10:00:00Z").status_code == 201
    just_before = standing(tenant, at="2025-09-02T11:59:59+02:00")
    just_after = standing(tenant, at="2025-09-02T12:00:00+02:00")
    assert (just_before["status"], just_after["status"]) == ("none", "lawful")


# -- history ---------------------------------------------------------------------------------


def test_history_is_in_recorded_order_with_the_event_ids_the_writes_returned(tenant) -> None:
    tenant.register_purpose("photo-in-dossier")
    tenant.register_purpose("newsletter")
    tenant.put_subject(REF)
    written = []
    for purpose in ("photo-in-dossier", "newsletter"):
        response = tenant.consent(REF, purpose)
        assert response.status_code == 201, response.text
        written.append(("ConsentGiven", purpose, response.json()["event_id"]))
    response = withdraw(tenant, purpose="photo-in-dossier")
    assert response.status_code == 201, response.text
    written.append(("ConsentWithdrawn", "photo-in-dossier", response.json()["event_id"]))
    response = tenant.consent(REF, "photo-in-dossier")
    assert response.status_code == 201, response.text
    written.append(("ConsentGiven", "photo-in-dossier", response.json()["event_id"]))

    events = history(tenant)
    assert events[0]["type"] == "SubjectRegistered"
    assert [(e["type"], e["purpose"], e["event_id"]) for e in events[1:]] == written
    recorded = [e["recorded_at"] for e in events]
    assert recorded == sorted(recorded)
    assert len({e["event_id"] for e in events}) == len(events)


def test_history_of_an_unknown_subject_is_404(tenant) -> None:
    response = tenant.call("GET", "/v1/subjects/nobody/history")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


def test_personal_data_appears_neither_in_history_nor_in_the_stored_events(
    tenant, database_url
) -> None:
    email, new_email = f"{tenant.name}@example.nl", f"{tenant.name}.new@example.nl"
    birth_date = "1931-02-27"
    tenant.register_purpose()
    created = tenant.call(
        "PUT", f"/v1/subjects/{REF}", json={"email": email, "birth_date": birth_date}
    )
    assert created.status_code == 201, created.text
    updated = tenant.call(
        "PUT", f"/v1/subjects/{REF}", json={"email": new_email, "birth_date": birth_date}
    )
    assert updated.status_code == 200, updated.text
    assert tenant.consent(REF).status_code == 201
    raw_history = tenant.call("GET", f"/v1/subjects/{REF}/history").text
    assert [e["type"] for e in json.loads(raw_history)["events"]] == [
        "SubjectRegistered",
        "PersonalDataRecorded",
        "ConsentGiven",
    ]
    with psycopg.connect(database_url) as conn:
        states = [
            bytes(row[0])
            for row in conn.execute(
                "SELECT e.state FROM grondslag_events e JOIN grondslag_streams s "
                "ON s.originator_id = e.originator_id WHERE s.tenant = %s",
                (tenant.name,),
            )
        ]
    assert len(states) >= 4  # purpose, subject x2, standing opened + consent
    for secret in (email, new_email, birth_date, birth_date.replace("-", "")):
        assert secret not in raw_history
        assert not any(secret.encode() in state for state in states), secret
    assert any(REF.encode() in state for state in states)  # the search itself can hit


# -- subjects --------------------------------------------------------------------------------


def test_put_subject_answers_201_first_then_200(tenant) -> None:
    first = tenant.call("PUT", f"/v1/subjects/{REF}", json={"birth_date": "1990-05-01"})
    assert first.status_code == 201, first.text
    assert first.json() == {"subject_ref": REF, "created": True}
    again = tenant.call("PUT", f"/v1/subjects/{REF}", json={"birth_date": "1990-05-01"})
    assert again.status_code == 200, again.text
    assert again.json() == {"subject_ref": REF, "created": False}
    assert [e["type"] for e in history(tenant)] == ["SubjectRegistered"]  # nothing changed


def test_same_subject_ref_in_two_tenants_is_two_subjects(make_tenant) -> None:
    first, second = make_tenant(), make_tenant()
    assert first.call("PUT", f"/v1/subjects/{REF}", json={}).status_code == 201
    assert second.call("PUT", f"/v1/subjects/{REF}", json={}).status_code == 201


# -- the register ----------------------------------------------------------------------------


def test_purpose_is_registered_listed_and_read_back(tenant) -> None:
    created = tenant.call(
        "POST",
        "/v1/purposes",
        json={
            "code": "newsletter",
            "title": "Nieuwsbrief",
            "basis": "consent",
            "recipients": ["Mailprovider BV"],
            "direct_marketing": True,
            "notice": NOTICE_2,
            "effective_at": "2026-01-01T00:00:00+01:00",
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["code"], body["version"], body["basis"]) == ("newsletter", 1, "consent")
    assert body["recipients"] == ["Mailprovider BV"]
    assert datetime.fromisoformat(body["effective_at"]) == datetime.fromisoformat(
        "2025-12-31T23:00:00+00:00"
    )
    one = tenant.call("GET", "/v1/purposes/newsletter")
    assert one.status_code == 200 and one.json() == body
    tenant.register_purpose("photo-in-dossier")
    listed = tenant.call("GET", "/v1/purposes")
    assert listed.status_code == 200
    assert sorted(p["code"] for p in listed.json()["purposes"]) == [
        "newsletter",
        "photo-in-dossier",
    ]


def test_material_revision_with_new_notice_lapses_existing_consent_as_notice_revised(
    tenant,
) -> None:
    tenant.register_purpose()
    tenant.put_subject(REF)
    assert tenant.consent(REF, effective_at="2025-09-02T10:00:00Z").status_code == 201
    revised_at = (datetime.now().astimezone() - timedelta(minutes=1)).isoformat()
    revision = tenant.call(
        "POST",
        f"/v1/purposes/{PURPOSE}/revisions",
        headers=ANY_VERSION,
        json={
            "material": True,
            "notice": NOTICE_2,
            "recipients": ["Gemeente Enschede"],
            "effective_at": revised_at,
        },
    )
    assert revision.status_code == 201, revision.text
    assert revision.json()["version"] == 2
    assert [v["material"] for v in revision.json()["versions"]] == [True, True]
    after = standing(tenant)
    assert (after["lawful"], after["status"], after["reason"]) == (
        False,
        "lapsed",
        "notice_revised",
    )
    assert datetime.fromisoformat(after["until"]) == datetime.fromisoformat(revised_at)
    before = standing(tenant, at="2025-10-01T00:00:00Z")
    assert before["lawful"] is True
    renewed = tenant.consent(REF, notice_version=NOTICE_2["version"])
    assert renewed.status_code == 201, renewed.text
    assert standing(tenant)["lawful"] is True
    stale = tenant.consent(REF)  # the old notice no longer covers the purpose
    assert stale.status_code == 409 and stale.json()["rule"] == "R10"


def test_cosmetic_revision_keeps_existing_consent(tenant) -> None:
    tenant.register_purpose()
    tenant.put_subject(REF)
    assert tenant.consent(REF, effective_at="2025-09-02T10:00:00Z").status_code == 201
    revision = tenant.call(
        "POST",
        f"/v1/purposes/{PURPOSE}/revisions",
        headers=ANY_VERSION,
        json={"material": False, "title": "Pasfoto (dossier)"},
    )
    assert revision.status_code == 201, revision.text
    assert revision.json()["title"] == "Pasfoto (dossier)"
    assert standing(tenant)["lawful"] is True


def test_unknown_purpose_code_is_404_on_get_and_on_revision(tenant) -> None:
    got = tenant.call("GET", "/v1/purposes/no-such-purpose")
    assert got.status_code == 404, got.text
    revised = tenant.call(
        "POST", "/v1/purposes/no-such-purpose/revisions", json={"material": False, "title": "X"}
    )
    assert revised.status_code == 404, revised.text
    for response in (got, revised):
        assert response.headers["content-type"].startswith("application/problem+json")
    assert tenant.call("GET", "/v1/purposes").json()["purposes"] == []


def test_standing_for_an_unknown_purpose_is_404(tenant) -> None:
    tenant.put_subject(REF)
    response = tenant.call("GET", f"/v1/subjects/{REF}/standing/no-such-purpose")
    assert response.status_code == 404, response.text
