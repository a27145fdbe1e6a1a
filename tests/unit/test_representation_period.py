"""A representation's validity period (R16): a representative acts from ``valid_from`` until
``valid_until`` or a recorded end, the consents it gave lapse then unless the purpose says
they survive, an end is recorded once and never before the start, and an end recorded
later does not change what was known before it."""

from __future__ import annotations

import pytest

from grondslag.ledger.domain.errors import NotFound

from builders import (
    ADULT,
    APR_1,
    CARE,
    FEB_1,
    JAN_1,
    JUN_1,
    MAR_1,
    MAY_1,
    MINUTE,
    end_representation,
    give,
    moment,
    purpose,
    rep,
    represent,
    standing,
    subject,
    withdraw,
)


# -- R16: a representation's validity period -----------------------------------------------
def representative(app, **extra: object) -> str:
    code = purpose(app, **extra)
    subject(app, ADULT)
    represent(app, "curator-1", "curator", valid_from=FEB_1, valid_until=MAY_1)
    return code


def test_r16_representatives_consent_before_valid_from_is_refused(app, refused):
    code = representative(app)
    with refused("R16") as info:
        give(app, code, FEB_1 - MINUTE, by="curator-1")
    assert info.value.field == "effective_at"
    give(app, code, FEB_1, by="curator-1")


def test_r16_representatives_consent_from_valid_until_is_refused(app, refused):
    code = representative(app)
    for at in (MAY_1, MAY_1 + MINUTE):
        with refused("R16") as info:
            give(app, code, at, by="curator-1")
        assert info.value.field == "effective_at"
    give(app, code, MAY_1 - MINUTE, by="curator-1")


def test_r16_consents_lapse_at_valid_until(app):
    code = representative(app)
    give(app, code, MAR_1, by="curator-1")
    assert standing(app, code, MAY_1 - MINUTE).lawful
    after = standing(app, code, MAY_1)
    assert (after.status, after.reason, after.until) == (
        "lapsed",
        "representative_authority_ended",
        MAY_1,
    )


def test_r16_ending_a_representation_lapses_its_consents_at_the_end(app):
    code = purpose(app)
    subject(app, ADULT)
    represent(app, "curator-1", "curator", valid_from=FEB_1)
    give(app, code, FEB_1, by="curator-1")
    end_representation(app, "curator-1", APR_1)

    before = standing(app, code, APR_1 - MINUTE)
    assert (before.lawful, before.until, before.changes_at) == (True, APR_1, APR_1)
    for at in (APR_1, MAY_1):
        after = standing(app, code, at)
        assert (after.lawful, after.status) == (False, "lapsed")
        assert after.reason == "representative_authority_ended"
        assert after.until == APR_1


def test_r16_consents_survive_the_end_when_the_purpose_says_so(app):
    code = purpose(app, survives_authority_end=True)
    subject(app, ADULT)
    represent(app, "curator-1", "curator", valid_from=FEB_1)
    give(app, code, FEB_1, by="curator-1")
    end_representation(app, "curator-1", APR_1)
    after = standing(app, code, MAY_1)
    assert (after.lawful, after.reason) == (True, None)
    assert after.given_by == [rep("curator-1", "curator")]


def test_r16_ending_one_representation_leaves_anothers_consent_standing(app):
    code = purpose(app, **CARE)
    subject(app, ADULT)
    represent(app, "mentor-1", "mentor", valid_from=FEB_1)
    represent(app, "mentor-2", "mentor", valid_from=FEB_1)
    give(app, code, FEB_1, by="mentor-1")
    give(app, code, MAR_1, by="mentor-2")
    end_representation(app, "mentor-1", APR_1)
    after = standing(app, code, MAY_1)
    assert (after.lawful, after.given_by) == (True, [rep("mentor-2", "mentor")])


def test_r16_consent_after_the_end_is_refused(app, refused):
    code = purpose(app)
    subject(app, ADULT)
    represent(app, "curator-1", "curator", valid_from=FEB_1)
    end_representation(app, "curator-1", APR_1)
    for at in (APR_1, MAY_1):
        with refused("R16"):
            give(app, code, at, by="curator-1")
    give(app, code, APR_1 - MINUTE, by="curator-1")


def test_r16_withdrawal_by_a_representative_after_the_end_is_refused(app, refused):
    code = purpose(app, survives_authority_end=True)
    subject(app, ADULT)
    represent(app, "curator-1", "curator", valid_from=FEB_1)
    give(app, code, FEB_1, by="curator-1")
    end_representation(app, "curator-1", APR_1)
    with refused("R16"):
        withdraw(app, code, MAY_1, by="curator-1")


def test_r16_ending_twice_is_refused(app, refused):
    subject(app, ADULT)
    represent(app, "curator-1", "curator", valid_from=FEB_1)
    end_representation(app, "curator-1", APR_1)
    with refused("R16") as info:
        end_representation(app, "curator-1", MAY_1)
    assert info.value.field == "representative_ref"


def test_r16_ending_before_the_representation_began_is_refused(app, refused):
    subject(app, ADULT)
    represent(app, "curator-1", "curator", valid_from=FEB_1)
    with refused("R16") as info:
        end_representation(app, "curator-1", JAN_1)
    assert info.value.field == "effective_at"


def test_r16_ending_an_unknown_representation_is_not_found(app):
    subject(app, ADULT)
    before = app.recorder.max_notification_id()
    with pytest.raises(NotFound):
        end_representation(app, "nobody", APR_1)
    assert app.recorder.max_notification_id() == before


def test_r16_valid_until_not_after_valid_from_is_refused(app, refused):
    subject(app, ADULT)
    for until in (FEB_1, FEB_1 - MINUTE):
        with refused("R16") as info:
            represent(app, "curator-1", "curator", valid_from=FEB_1, valid_until=until)
        assert info.value.field == "valid_until"


def test_r16_registering_a_representative_that_is_already_registered_is_refused(app, refused):
    subject(app, ADULT)
    represent(app, "curator-1", "curator", valid_from=FEB_1)
    with refused("R16"):
        represent(app, "curator-1", "curator", valid_from=MAR_1)


def test_r16_an_end_recorded_later_does_not_change_what_was_known_before_it(app):
    code = purpose(app)
    subject(app, ADULT)
    represent(app, "curator-1", "curator", valid_from=FEB_1)
    give(app, code, FEB_1, by="curator-1")
    before_end = moment()
    end_representation(app, "curator-1", APR_1)
    after_end = moment()

    then = standing(app, code, MAY_1, known_at=before_end)
    assert (then.lawful, then.status, then.until, then.reason) == (True, "lawful", None, None)
    assert then.given_by == [rep("curator-1", "curator")]
    now = standing(app, code, MAY_1, known_at=after_end)
    assert (now.status, now.reason, now.until) == (
        "lapsed",
        "representative_authority_ended",
        APR_1,
    )
    assert standing(app, code, MAR_1, known_at=before_end).until is None
    assert standing(app, code, MAR_1, known_at=after_end).until == APR_1


def test_r16_an_ended_representative_cannot_be_registered_anew_under_the_same_ref(app, refused):
    code = purpose(app)
    subject(app, ADULT)
    represent(app, "curator-1", "curator", valid_from=FEB_1)
    give(app, code, FEB_1, by="curator-1")
    end_representation(app, "curator-1", MAR_1)
    with refused("R16") as info:
        represent(app, "curator-1", "curator", valid_from=MAY_1)
    assert info.value.field == "representative_ref"
    represent(app, "curator-2", "curator", valid_from=MAY_1)

    # the consent the first representation gave stays lapsed at its end, also afterwards
    for at in (APR_1, JUN_1):
        answer = standing(app, code, at)
        assert (answer.status, answer.reason) == ("lapsed", "representative_authority_ended")
        assert answer.until == MAR_1


def test_r16_consent_given_after_a_retroactive_end_is_not_counted(app):
    code = purpose(app)
    subject(app, ADULT)
    represent(app, "curator-1", "curator", valid_from=FEB_1)
    give(app, code, APR_1, by="curator-1")
    end_representation(app, "curator-1", MAR_1)  # learnt later: the curatele ended on 1 March
    answer = standing(app, code, MAY_1)
    assert (answer.lawful, answer.given_by) == (False, [])


def test_r16_consent_given_after_a_retroactive_end_is_not_counted_even_if_it_survives(app):
    code = purpose(app, survives_authority_end=True)
    subject(app, ADULT)
    represent(app, "curator-1", "curator", valid_from=FEB_1)
    give(app, code, APR_1, by="curator-1")
    end_representation(app, "curator-1", MAR_1)  # learnt later: the curatele ended on 1 March
    answer = standing(app, code, MAY_1)
    assert (answer.lawful, answer.given_by) == (False, [])
