"""Rectification of a birth date (art. 16) is bitemporal (R14): the deadline clock notices
a lapse that a correction moved into the past, at the corrected 16th birthday, recorded
when it was learnt; as known before the correction the consent was lawful."""

from __future__ import annotations

from datetime import UTC, date, datetime

from grondslag.ledger.domain.values import PersonalData

from builders import SUBJECT, TENANT, give, minor_with_parent, moment, standing

TODAY = datetime.now(UTC).date()


def test_r14_a_correction_that_makes_the_child_16_already_is_noticed_at_the_corrected_birthday(
    app,
) -> None:
    born = date(TODAY.year - 14, 1, 10)  # 14 by the record
    code = minor_with_parent(app, born)
    given_at = datetime(TODAY.year - 1, 1, 15, tzinfo=UTC)
    give(app, code, given_at, by="mother", explicit=False)
    before = moment()
    corrected = date(TODAY.year - 17, 1, 10)  # in truth 17: 16 a year ago
    app.put_subject(TENANT, SUBJECT, PersonalData(birth_date=corrected))
    now = standing(app, code)
    assert (now.status, now.reason) == ("lapsed", "subject_reached_age_of_consent")
    # the consent was given after the true 16th birthday: it never counted (R14)
    assert now.until == given_at
    assert standing(app, code, known_at=before).status == "lawful"
    event = app.notice_lapse(TENANT, SUBJECT, code)
    assert event is not None
    assert app.notice_lapse(TENANT, SUBJECT, code) is None  # once
