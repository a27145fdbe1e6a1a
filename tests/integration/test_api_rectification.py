"""Rectification of a birth date is bitemporal (art. 16; R14): a child's corrected birth
date moves the day the parent's consent lapses (the 16th birthday, 00:00 Amsterdam) — as
known after the correction only; answers as known before it keep the old date."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from api_support import check, created, denied, standing

REF = "child-7"
PURPOSE = "group-photo"
RECORDED_BIRTH = "2012-03-14"  # 16 on 14 March 2028
CORRECTED_BIRTH = "2011-09-20"  # 16 on 20 September 2027 (summer time: 22:00 UTC the day before)
OLD_16TH = "2028-03-13T23:00:00+00:00"
NEW_16TH = "2027-09-19T22:00:00+00:00"
BETWEEN = "2027-12-01T00:00:00Z"  # after the corrected birthday, before the recorded one


def _child_with_parents_consent(tenant) -> None:
    tenant.register_purpose(PURPOSE, title="Groepsfoto op de website")
    tenant.put_subject(REF, birth_date=RECORDED_BIRTH)
    representative = {
        "representative_ref": "mother-7",
        "kind": "parental_authority",
        "valid_from": "2011-01-01T00:00:00Z",
        "evidence": {"document_ref": "gezagsregister-7"},
    }
    response = tenant.call("POST", f"/v1/subjects/{REF}/representatives", json=representative)
    assert response.status_code == 201, response.text
    answer = created(
        tenant.consent(
            REF,
            PURPOSE,
            representative_ref="mother-7",
            explicit=False,
            effective_at="2025-09-02T10:00:00Z",
        )
    )
    assert answer["until"] == OLD_16TH.replace("+00:00", "Z")


def _iso(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_r14_a_corrected_birth_date_moves_the_lapse_as_known_after_the_correction_only(
    tenant,
) -> None:
    _child_with_parents_consent(tenant)
    time.sleep(0.01)
    before_correction = datetime.now(UTC).isoformat()
    time.sleep(0.01)
    corrected = tenant.call("PUT", f"/v1/subjects/{REF}", json={"birth_date": CORRECTED_BIRTH})
    assert corrected.status_code == 200, corrected.text

    # as known now: the consent lapses on the corrected 16th birthday
    now = standing(tenant, REF, PURPOSE)
    assert _iso(now["until"]) == _iso(NEW_16TH)
    after = standing(tenant, REF, PURPOSE, at=BETWEEN)
    assert (after["status"], after["reason"]) == ("lapsed", "subject_reached_age_of_consent")
    assert _iso(after["until"]) == _iso(NEW_16TH)

    # as known before the correction: the recorded birth date, the old lapse
    old = standing(tenant, REF, PURPOSE, at=BETWEEN, known_at=before_correction)
    assert old["status"] == "lawful"
    assert _iso(old["until"]) == _iso(OLD_16TH)
    old_later = standing(
        tenant, REF, PURPOSE, at="2028-03-14T00:00:00Z", known_at=before_correction
    )
    assert (old_later["status"], old_later["reason"]) == (
        "lapsed",
        "subject_reached_age_of_consent",
    )

    # a batch check of that moment answers from the same fold
    answer = check(tenant, [REF], PURPOSE, at=BETWEEN)
    assert denied(answer) == {REF: ("lapsed", "subject_reached_age_of_consent")}


def test_r14_a_correction_to_a_later_birth_date_prolongs_the_parents_consent(tenant) -> None:
    _child_with_parents_consent(tenant)
    time.sleep(0.01)
    before_correction = datetime.now(UTC).isoformat()
    time.sleep(0.01)
    later = tenant.call("PUT", f"/v1/subjects/{REF}", json={"birth_date": "2012-09-20"})
    assert later.status_code == 200, later.text
    on_old_birthday = "2028-03-20T00:00:00Z"
    assert standing(tenant, REF, PURPOSE, at=on_old_birthday)["status"] == "lawful"
    known_before = standing(tenant, REF, PURPOSE, at=on_old_birthday, known_at=before_correction)
    assert known_before["status"] == "lapsed"
