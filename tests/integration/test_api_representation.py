"""Representation over the API (R11–R16): parents of minors, curators, mentors,
administrators and mandates; registering and ending a representation, the consents it
gives and how they lapse; every refusal is problem+json naming its rule and changes nothing."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from api_support import PURPOSE, assert_problem, history, instant, standing, withdraw

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
CARE = "care-treatment"
CHILD, ADULT = "child-1", "client-1"
EVIDENCE = {"document_ref": "beschikking-2026-0412"}
PROJECTION_WAIT = 5.0


# -- helpers -----------------------------------------------------------------------------------


def birth_date_aged(years: int) -> date:
    """A birth date such that the subject is ``years`` old (and 100 days) today in Amsterdam."""
    today = datetime.now(AMSTERDAM).date()
    return date(today.year - years, today.month, min(today.day, 28)) - timedelta(days=100)


def sixteenth_birthday(birth: date) -> datetime:
    """00:00 Europe/Amsterdam on the 16th birthday, in UTC."""
    day = date(birth.year + 16, 3, 1) if (birth.month, birth.day) == (2, 29) else None
    day = day or birth.replace(year=birth.year + 16)
    return datetime(day.year, day.month, day.day, tzinfo=AMSTERDAM).astimezone(UTC)


def register(tenant, ref: str, representative_ref: str, kind: str, **fields: Any) -> Any:
    body = {
        "representative_ref": representative_ref,
        "kind": kind,
        "valid_from": "2010-01-01T00:00:00Z",
        "evidence": EVIDENCE,
        **fields,
    }
    return tenant.call("POST", f"/v1/subjects/{ref}/representatives", json=body)


def registered(tenant, ref: str, representative_ref: str, kind: str, **fields: Any) -> dict:
    response = register(tenant, ref, representative_ref, kind, **fields)
    assert response.status_code == 201, response.text
    return response.json()


def end(tenant, ref: str, representative_ref: str, **fields: Any) -> Any:
    body = {"reason": "court decision", **fields}
    return tenant.call(
        "POST", f"/v1/subjects/{ref}/representatives/{representative_ref}/end", json=body
    )


def ended(tenant, ref: str, representative_ref: str, **fields: Any) -> list[dict]:
    """End a representation whose consent then lapses, and wait for the deadline clock to
    record that lapse (``BasisLapsed``): the history then, which a refusal after it must
    leave as it is (the clock's lapse, recorded meanwhile, made such a test fail)."""
    assert end(tenant, ref, representative_ref, **fields).status_code == 201
    deadline = time.monotonic() + 3 * PROJECTION_WAIT
    while True:
        events = history(tenant, ref)
        if any(e["type"] == "BasisLapsed" for e in events):
            return events
        assert time.monotonic() < deadline, f"the clock recorded no lapse: {events}"
        time.sleep(0.1)


def check_until(tenant, ref: str, purpose: str, allowed: bool) -> dict:
    """POST /v1/checks again until ``ref`` is (not) allowed — the projector catching up."""
    deadline = time.monotonic() + PROJECTION_WAIT
    while True:
        response = tenant.call(
            "POST", "/v1/checks", json={"purpose": purpose, "subject_refs": [ref]}
        )
        assert response.status_code == 200, response.text
        answer = response.json()
        if (ref in answer["allowed"]) == allowed or time.monotonic() > deadline:
            return answer
        time.sleep(0.05)


def register_care_purpose(tenant, code: str = CARE) -> None:
    tenant.register_purpose(
        code,
        title="Behandeling",
        matter="care",
        special_categories=["health"],
        special_condition="explicit_consent",
    )


@pytest.fixture
def minor(tenant):
    """A 14-year-old with a mother with parental authority; a non-care purpose registered."""
    tenant.register_purpose(PURPOSE)
    birth = birth_date_aged(14)
    tenant.put_subject(CHILD, birth_date=birth.isoformat())
    registered(tenant, CHILD, "mother-1", "parental_authority", valid_from=f"{birth}T00:00:00Z")
    return birth


# -- the worked examples -----------------------------------------------------------------------


def test_mother_consents_for_her_14_year_old_until_the_16th_birthday_in_amsterdam(
    tenant, minor
) -> None:
    given = tenant.consent(CHILD, representative_ref="mother-1")
    assert given.status_code == 201, given.text
    body = given.json()
    assert body["event_id"]
    answer = body["standing"]
    assert (answer["lawful"], answer["status"]) == (True, "lawful")
    assert answer["given_by"] == [
        {
            "party": "representative",
            "representative_ref": "mother-1",
            "capacity": "parental_authority",
        }
    ]
    birthday = sixteenth_birthday(minor)
    assert birthday.astimezone(AMSTERDAM).time().isoformat() == "00:00:00"
    assert instant(answer["until"]) == birthday
    assert instant(answer["changes_at"]) == birthday
    assert answer["evidence"] == [body["event_id"]]


def test_fourteen_year_olds_own_consent_is_refused_by_r11(tenant, minor) -> None:
    before = history(tenant, CHILD)
    refused = tenant.consent(CHILD)
    assert_problem(refused, 409, rule="R11", field="representative_ref")
    assert history(tenant, CHILD) == before
    assert standing(tenant, CHILD)["status"] == "none"


def test_bewindvoerder_cannot_consent_to_health_data(tenant) -> None:
    register_care_purpose(tenant)
    tenant.put_subject(ADULT, birth_date="1950-05-05")
    registered(tenant, ADULT, "bewind-1", "administrator")
    before = history(tenant, ADULT)
    refused = tenant.consent(ADULT, CARE, representative_ref="bewind-1")
    body = assert_problem(refused, 409, rule="R15", field="representative_ref")
    assert "property" in body["detail"]
    assert history(tenant, ADULT) == before
    assert standing(tenant, ADULT, CARE)["status"] == "none"


# -- registering a representative ----------------------------------------------------------------


def test_registering_a_representative_answers_201_with_its_event_id(tenant) -> None:
    tenant.put_subject(ADULT, birth_date="1950-05-05")
    response = register(tenant, ADULT, "curator-1", "curator")
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["subject_ref"], body["representative_ref"]) == (ADULT, "curator-1")
    assert body["event_id"] == history(tenant, ADULT)[-1]["event_id"]


def test_registering_for_an_unknown_subject_is_404(tenant) -> None:
    response = register(tenant, "nobody", "curator-1", "curator")
    assert_problem(response, 404)
    assert tenant.call("GET", "/v1/subjects/nobody/history").status_code == 404


def test_unknown_representative_kind_is_422_naming_kind(tenant) -> None:
    tenant.put_subject(ADULT, birth_date="1950-05-05")
    before = history(tenant, ADULT)
    assert_problem(register(tenant, ADULT, "uncle-1", "uncle"), 422, field="kind")
    assert history(tenant, ADULT) == before


def test_naive_valid_from_is_422_naming_valid_from(tenant) -> None:
    tenant.put_subject(ADULT, birth_date="1950-05-05")
    before = history(tenant, ADULT)
    response = register(tenant, ADULT, "curator-1", "curator", valid_from="2025-01-01T00:00:00")
    assert_problem(response, 422, field="valid_from")
    assert history(tenant, ADULT) == before


def test_parental_authority_without_a_birth_date_is_refused_by_r11(tenant) -> None:
    tenant.put_subject(CHILD)
    before = history(tenant, CHILD)
    response = register(tenant, CHILD, "mother-1", "parental_authority")
    assert_problem(response, 409, rule="R11", field="kind")
    assert history(tenant, CHILD) == before


def test_registering_the_same_representative_twice_is_refused_by_r16(tenant) -> None:
    tenant.put_subject(ADULT, birth_date="1950-05-05")
    registered(tenant, ADULT, "curator-1", "curator")
    before = history(tenant, ADULT)
    response = register(tenant, ADULT, "curator-1", "curator")
    assert_problem(response, 409, rule="R16", field="representative_ref")
    assert history(tenant, ADULT) == before


def test_authorised_person_without_purposes_is_refused_by_r15(tenant) -> None:
    tenant.put_subject(ADULT, birth_date="1950-05-05")
    before = history(tenant, ADULT)
    response = register(tenant, ADULT, "daughter-1", "authorised_person", purposes=[])
    assert_problem(response, 409, rule="R15", field="purposes")
    assert history(tenant, ADULT) == before


def test_valid_until_before_valid_from_is_refused_by_r16(tenant) -> None:
    tenant.put_subject(ADULT, birth_date="1950-05-05")
    before = history(tenant, ADULT)
    response = register(
        tenant,
        ADULT,
        "curator-1",
        "curator",
        valid_from="2025-06-01T00:00:00Z",
        valid_until="2025-05-31T00:00:00Z",
    )
    assert_problem(response, 409, rule="R16", field="valid_until")
    assert history(tenant, ADULT) == before


# -- ending a representation ------------------------------------------------------------------


@pytest.fixture
def curator_consent(tenant) -> str:
    """An adult under curatele whose curator consented on 1 September 2025."""
    tenant.register_purpose(PURPOSE)
    tenant.put_subject(ADULT, birth_date="1950-05-05")
    registered(tenant, ADULT, "curator-1", "curator", valid_from="2025-01-01T00:00:00Z")
    given = tenant.consent(
        ADULT, representative_ref="curator-1", effective_at="2025-09-01T10:00:00Z"
    )
    assert given.status_code == 201, given.text
    return given.json()["event_id"]


def test_ending_a_representation_answers_201_and_its_consents_lapse_at_the_end(
    tenant, curator_consent
) -> None:
    ended = end(tenant, ADULT, "curator-1", effective_at="2026-01-01T00:00:00Z")
    assert ended.status_code == 201, ended.text
    body = ended.json()
    assert (body["subject_ref"], body["representative_ref"]) == (ADULT, "curator-1")
    recorded = [e for e in history(tenant, ADULT) if e["type"] != "BasisLapsed"]  # (the clock's)
    assert body["event_id"] == recorded[-1]["event_id"]
    before_end = standing(tenant, ADULT, at="2025-12-31T23:59:00Z")
    assert (before_end["status"], before_end["evidence"]) == ("lawful", [curator_consent])
    now = standing(tenant, ADULT)
    assert (now["lawful"], now["status"], now["reason"]) == (
        False,
        "lapsed",
        "representative_authority_ended",
    )
    assert instant(now["until"]) == datetime(2026, 1, 1, tzinfo=UTC)
    every = tenant.call("GET", f"/v1/subjects/{ADULT}/standing").json()["purposes"]
    assert [(p["status"], p["reason"]) for p in every] == [
        ("lapsed", "representative_authority_ended")
    ]
    answer = check_until(tenant, ADULT, PURPOSE, allowed=False)
    assert answer["allowed"] == []
    assert answer["denied"][0]["reason"] == "representative_authority_ended"


def test_ending_an_unknown_representative_is_404(tenant, curator_consent) -> None:
    before = history(tenant, ADULT)
    assert_problem(end(tenant, ADULT, "stranger-1"), 404)
    assert history(tenant, ADULT) == before


def test_ending_a_representation_twice_is_refused_by_r16(tenant, curator_consent) -> None:
    before = ended(tenant, ADULT, "curator-1")
    assert_problem(end(tenant, ADULT, "curator-1"), 409, rule="R16", field="representative_ref")
    assert history(tenant, ADULT) == before


def test_ended_representative_cannot_consent_after_the_end_r16(tenant, curator_consent) -> None:
    before = ended(tenant, ADULT, "curator-1", effective_at="2026-01-01T00:00:00Z")
    refused = tenant.consent(ADULT, representative_ref="curator-1")
    assert_problem(refused, 409, rule="R16", field="effective_at")
    assert history(tenant, ADULT) == before
    assert standing(tenant, ADULT)["reason"] == "representative_authority_ended"


def test_an_ended_representative_ref_cannot_be_registered_again_so_old_consents_stay_lapsed(
    tenant, curator_consent
) -> None:
    before = ended(tenant, ADULT, "curator-1", effective_at="2026-01-01T00:00:00Z")
    again = tenant.call(
        "POST",
        f"/v1/subjects/{ADULT}/representatives",
        json={
            "representative_ref": "curator-1",
            "kind": "curator",
            "valid_from": "2026-06-01T00:00:00Z",
            "evidence": {"document_ref": "new-order"},
        },
    )
    assert_problem(again, 409, rule="R16", field="representative_ref")
    assert history(tenant, ADULT) == before
    gap = standing(tenant, ADULT, at="2026-03-01T00:00:00Z")
    assert (gap["status"], gap["reason"]) == ("lapsed", "representative_authority_ended")
    assert standing(tenant, ADULT)["status"] == "lapsed"


# -- R13: care between 12 and 16 ------------------------------------------------------------------


def test_care_between_12_and_16_needs_the_parent_and_the_minor(tenant) -> None:
    register_care_purpose(tenant)
    birth = birth_date_aged(14)
    tenant.put_subject(CHILD, birth_date=birth.isoformat())
    registered(tenant, CHILD, "mother-1", "parental_authority", valid_from=f"{birth}T00:00:00Z")

    parent = tenant.consent(CHILD, CARE, representative_ref="mother-1")
    assert parent.status_code == 201, parent.text
    pending = parent.json()["standing"]
    assert (pending["status"], pending["lawful"], pending["missing"]) == (
        "pending",
        False,
        ["subject"],
    )
    assert standing(tenant, CHILD, CARE)["status"] == "pending"
    denied = check_until(tenant, CHILD, CARE, allowed=False)
    assert denied["allowed"] == []
    assert [(d["subject_ref"], d["status"]) for d in denied["denied"]] == [(CHILD, "pending")]

    own = tenant.consent(CHILD, CARE)
    assert own.status_code == 201, own.text
    both = own.json()["standing"]
    assert (both["status"], both["lawful"], both["missing"]) == ("lawful", True, [])
    assert {g["party"] for g in both["given_by"]} == {"representative", "subject"}
    assert check_until(tenant, CHILD, CARE, allowed=True)["allowed"] == [CHILD]


# -- R14: the 16th birthday ------------------------------------------------------------------------


def test_parents_consent_lapses_at_00_00_amsterdam_on_the_16th_birthday(tenant) -> None:
    tenant.register_purpose(PURPOSE)
    tenant.put_subject(CHILD, birth_date="2010-07-20")
    registered(
        tenant, CHILD, "mother-1", "parental_authority", valid_from="2010-07-20T00:00:00+02:00"
    )
    given = tenant.consent(
        CHILD, representative_ref="mother-1", effective_at="2025-09-01T10:00:00Z"
    )
    assert given.status_code == 201, given.text
    eve = standing(tenant, CHILD, at="2026-07-19T21:59:00Z")
    assert (eve["lawful"], eve["status"]) == (True, "lawful")
    assert instant(eve["until"]) == datetime(2026, 7, 19, 22, 0, tzinfo=UTC)
    birthday = standing(tenant, CHILD, at="2026-07-19T22:00:00Z")
    assert (birthday["lawful"], birthday["status"], birthday["reason"]) == (
        False,
        "lapsed",
        "subject_reached_age_of_consent",
    )


# -- R15: curatele ---------------------------------------------------------------------------------


def test_under_curatele_the_subjects_own_consent_is_refused_and_the_curators_counts(
    tenant,
) -> None:
    tenant.register_purpose(PURPOSE)
    tenant.put_subject(ADULT, birth_date="1950-05-05")
    registered(tenant, ADULT, "curator-1", "curator")
    before = history(tenant, ADULT)
    assert_problem(tenant.consent(ADULT), 409, rule="R15", field="representative_ref")
    assert history(tenant, ADULT) == before
    given = tenant.consent(ADULT, representative_ref="curator-1")
    assert given.status_code == 201, given.text
    answer = given.json()["standing"]
    assert (answer["lawful"], answer["status"]) == (True, "lawful")
    assert answer["given_by"] == [
        {"party": "representative", "representative_ref": "curator-1", "capacity": "curator"}
    ]


# -- R12: either parent withdraws ------------------------------------------------------------------


def test_either_parent_may_withdraw_the_other_parents_consent(tenant, minor) -> None:
    registered(tenant, CHILD, "father-1", "parental_authority", valid_from=f"{minor}T00:00:00Z")
    given = tenant.consent(CHILD, representative_ref="mother-1")
    assert given.status_code == 201, given.text
    withdrawn = withdraw(tenant, CHILD, representative_ref="father-1")
    assert withdrawn.status_code == 201, withdrawn.text
    answer = withdrawn.json()["standing"]
    assert (answer["lawful"], answer["status"], answer["reason"]) == (False, "lapsed", "withdrawn")
    after = standing(tenant, CHILD)
    assert (after["status"], after["reason"]) == ("lapsed", "withdrawn")
    events = history(tenant, CHILD)
    assert events[-1]["type"] == "ConsentWithdrawn"
    assert events[-1]["details"]["representative_ref"] == "father-1"
    assert events[-1]["details"]["capacity"] == "parental_authority"


# -- history ---------------------------------------------------------------------------------------


def test_history_lists_representation_events_with_details_and_no_personal_data(tenant) -> None:
    tenant.put_subject(ADULT, birth_date="1950-05-05", email="jan@example.org")
    registered(
        tenant,
        ADULT,
        "mentor-1",
        "mentor",
        valid_from="2025-01-01T00:00:00Z",
        subject_competent_for=["property"],
    )
    ended = end(tenant, ADULT, "mentor-1", effective_at="2026-02-01T00:00:00Z", reason="death")
    assert ended.status_code == 201, ended.text
    response = tenant.call("GET", f"/v1/subjects/{ADULT}/history")
    assert response.status_code == 200, response.text
    events = {e["type"]: e for e in response.json()["events"]}
    start = events["RepresentativeRegistered"]
    assert instant(start["effective_at"]) == datetime(2025, 1, 1, tzinfo=UTC)
    assert start["details"]["representative_ref"] == "mentor-1"
    assert start["details"]["kind"] == "mentor"
    assert start["details"]["evidence"]["document_ref"] == EVIDENCE["document_ref"]
    assert start["details"]["subject_competent_for"] == ["property"]
    stop = events["RepresentationEnded"]
    assert stop["event_id"] == ended.json()["event_id"]
    assert instant(stop["effective_at"]) == datetime(2026, 2, 1, tzinfo=UTC)
    assert (stop["details"]["representative_ref"], stop["details"]["reason"]) == (
        "mentor-1",
        "death",
    )
    text = json.dumps(response.json())
    assert "1950-05-05" not in text and "jan@example.org" not in text
