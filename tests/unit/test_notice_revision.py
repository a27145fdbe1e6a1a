"""R10: a material revision ends the cover of consents given under earlier notices; a
cosmetic revision changes nothing."""

from __future__ import annotations

import contextlib
from datetime import datetime

import msgspec
import pytest

from grondslag.ledger.domain.errors import RuleViolated

from builders import (
    APR_1,
    AUG_1,
    FEB_1,
    JAN_1,
    JUL_1,
    JUN_1,
    MAR_1,
    MAY_1,
    SEP_1,
    TENANT,
    give,
    notice,
    setup,
    standing,
)

MOMENTS = (FEB_1, MAR_1, APR_1, MAY_1, JUN_1, JUL_1, AUG_1, SEP_1)
MAILER_BV = ("Mailer BV",)


def revise(app, changes: dict[str, object], material: bool, effective_at: datetime):
    return app.revise_purpose(TENANT, "newsletter", changes, material, effective_at)


def answers(app) -> list[object]:
    """The standing at every moment of the year, without the 'as known at' time."""
    return [msgspec.structs.replace(standing(app, at=at), known_at=JAN_1) for at in MOMENTS]


def version_count(app) -> int:
    return len(app.purpose(TENANT, "newsletter").versions)


NEW_RECIPIENT = {"recipients": ("Mailer BV", "Survey BV"), "notice": notice("n2")}


def test_r10_material_revision_ends_consents_under_earlier_notices_at_its_effective_time(app):
    setup(app, recipients=MAILER_BV)
    given, _ = give(app, notice_version="n1", effective_at=FEB_1)
    revise(app, NEW_RECIPIENT, True, MAY_1)

    before = standing(app, at=APR_1)
    assert before.lawful and before.until == MAY_1 and before.changes_at == MAY_1
    for at in (MAY_1, JUN_1):
        lapsed = standing(app, at=at)
        assert (lapsed.lawful, lapsed.status, lapsed.reason) == (False, "lapsed", "notice_revised")
        assert lapsed.until == MAY_1
        assert lapsed.since == FEB_1
        assert lapsed.evidence == [str(given)]


def test_r10_consent_under_the_new_notice_covers_again(app):
    setup(app, recipients=MAILER_BV)
    give(app, notice_version="n1", effective_at=FEB_1)
    revise(app, NEW_RECIPIENT, True, MAY_1)
    again, _ = give(app, notice_version="n2", effective_at=JUN_1)

    assert standing(app, at=MAY_1).reason == "notice_revised"
    covered = standing(app, at=JUL_1)
    assert covered.lawful and covered.status == "lawful"
    assert covered.since == JUN_1
    assert covered.until is None
    assert covered.evidence == [str(again)]


def test_r10_consent_under_the_new_notice_at_the_revision_time_continues_the_cover(app):
    setup(app, recipients=MAILER_BV)
    give(app, notice_version="n1", effective_at=FEB_1)
    revise(app, NEW_RECIPIENT, True, MAY_1)
    give(app, notice_version="n2", effective_at=MAY_1)
    assert all(standing(app, at=at).lawful for at in MOMENTS)


@pytest.mark.parametrize(
    "changes",
    [{"title": "Our newsletter"}, {"title": "Our newsletter", "notice": notice("n1.1")}],
)
def test_r10_cosmetic_revision_changes_nothing(app, changes):
    setup(app, recipients=MAILER_BV)
    give(app, notice_version="n1", effective_at=FEB_1)
    unchanged = answers(app)
    revise(app, changes, False, MAY_1)
    assert answers(app) == unchanged
    assert standing(app, at=SEP_1).until is None


def test_r10_consent_under_the_notice_kept_by_a_cosmetic_revision_is_accepted(app):
    setup(app, recipients=MAILER_BV)
    revise(app, {"title": "Our newsletter", "notice": notice("n1.1")}, False, MAR_1)
    give(app, notice_version="n1", effective_at=MAY_1)
    assert standing(app, at=JUN_1).lawful


@pytest.mark.parametrize(
    ("changes", "what"),
    [
        ({"recipients": ("Mailer BV", "Survey BV")}, "recipient"),
        (
            {"special_categories": ("health",), "special_condition": "explicit_consent"},
            "data category",
        ),
        ({"direct_marketing": True}, "use"),
        ({"matter": "care"}, "use"),
    ],
)
def test_r10_non_material_revision_with_a_material_change_is_refused(app, refused, changes, what):
    setup(app, recipients=MAILER_BV)
    give(app, notice_version="n1", effective_at=FEB_1)
    with refused("R10") as info:
        revise(app, {**changes, "notice": notice("n2")}, False, MAY_1)
    assert info.value.field == "material"
    assert what in info.value.detail
    assert version_count(app) == 1
    assert standing(app, at=JUN_1).lawful


def test_r10_material_revision_reusing_the_current_notice_version_is_refused(app, refused):
    setup(app, recipients=MAILER_BV)
    with refused("R10") as info:
        revise(app, {"recipients": ("Mailer BV", "Survey BV")}, True, MAY_1)
    assert info.value.field == "notice"
    assert version_count(app) == 1


def test_r10_material_revision_reusing_an_old_notice_version_is_refused(app, refused):
    setup(app, recipients=MAILER_BV)
    revise(app, NEW_RECIPIENT, True, MAR_1)
    with refused("R10"):
        revise(app, {"direct_marketing": True, "notice": notice("n1")}, True, MAY_1)
    assert version_count(app) == 2


def test_r10_consent_under_a_superseded_notice_after_the_revision_is_refused(app, refused):
    setup(app, recipients=MAILER_BV)
    revise(app, NEW_RECIPIENT, True, MAY_1)
    with refused("R10") as info:
        give(app, notice_version="n1", effective_at=JUN_1)
    assert info.value.field == "notice_version"
    assert "n2" in info.value.detail
    with refused("R10"):
        give(app, notice_version="n1", effective_at=MAY_1)


def test_r10_late_record_of_a_consent_given_before_the_revision_is_accepted_and_lapses(app):
    setup(app, recipients=MAILER_BV)
    revise(app, NEW_RECIPIENT, True, MAY_1)
    give(app, notice_version="n1", effective_at=MAR_1)
    assert standing(app, at=APR_1).lawful
    assert standing(app, at=JUN_1).reason == "notice_revised"


@pytest.mark.parametrize("material", [True, False])
def test_r10_revision_effective_before_the_latest_version_is_refused(app, refused, material):
    setup(app, recipients=MAILER_BV)
    revise(app, NEW_RECIPIENT, True, MAY_1)
    with refused("R10") as info:
        revise(app, {"title": "Backdated", "notice": notice("n3")}, material, APR_1)
    assert info.value.field == "effective_at"
    assert version_count(app) == 2


def test_r10_cosmetic_revision_back_to_a_superseded_notice_does_not_revive_consents(app):
    setup(app, recipients=MAILER_BV)
    give(app, notice_version="n1", effective_at=FEB_1)
    revise(app, NEW_RECIPIENT, True, MAY_1)
    lapsed = answers(app)
    with contextlib.suppress(RuleViolated):  # refusing the revision would be fine too
        revise(app, {"title": "Newsletter", "notice": notice("n1")}, False, JUL_1)
    assert answers(app) == lapsed
    assert standing(app, at=SEP_1).reason == "notice_revised"
