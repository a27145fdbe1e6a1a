"""A postal newsletter on legitimate interest over the API (R17, R19): refused without the
opt-out offered at collection, and an objection to it lapses it at once, for good."""

from __future__ import annotations

from api_support import assert_problem, check, created, denied, instant, standing
from bases_support import (
    POSTAL,
    STARTED,
    decide,
    establish,
    lodge,
    refused,
    register_postal,
    status_of,
)


def test_auto_subscribed_tool_user_without_opt_out_offer_is_refused(tenant) -> None:
    register_postal(tenant)
    tenant.put_subject("tool-user-7")
    refused(
        tenant,
        "tool-user-7",
        lambda: establish(tenant, "tool-user-7", POSTAL, "legitimate_interest"),
        409,
        rule="R19",
        field="opt_out_offered",
    )
    explicit_false = establish(
        tenant, "tool-user-7", POSTAL, "legitimate_interest", opt_out_offered=False
    )
    assert_problem(explicit_false, 409, rule="R19", field="opt_out_offered")
    assert standing(tenant, "tool-user-7", POSTAL)["status"] == "none"
    assert denied(check(tenant, ["tool-user-7"], POSTAL)) == {"tool-user-7": ("none", None)}


def test_postal_newsletter_objection_is_absolute_at_once(tenant) -> None:
    register_postal(tenant)
    tenant.put_subject("reader-1")
    now = created(
        establish(
            tenant,
            "reader-1",
            POSTAL,
            "legitimate_interest",
            reference="intake-2025-03",
            opt_out_offered=True,
        )
    )
    assert status_of(now) == (True, "lawful", None)
    assert now["basis"] == "legitimate_interest"
    assert check(tenant, ["reader-1"], POSTAL)["allowed"] == ["reader-1"]

    objected_at = "2026-09-14T08:30:00Z"
    after = created(lodge(tenant, "reader-1", POSTAL, objected_at, grounds="stop the mail"))
    assert status_of(after) == (False, "lapsed", "objection")  # R17: no restriction phase
    at_once = standing(tenant, "reader-1", POSTAL, at=objected_at)
    assert status_of(at_once) == (False, "lapsed", "objection")
    assert instant(at_once["until"]) == instant(objected_at) and instant(
        at_once["since"]
    ) == instant(STARTED)
    just_before = standing(tenant, "reader-1", POSTAL, at="2026-09-14T08:29:59Z")
    assert status_of(just_before) == (True, "lawful", None)

    for upheld in (True, False):
        refused(
            tenant,
            "reader-1",
            lambda upheld=upheld: decide(tenant, "reader-1", POSTAL, upheld, objected_at),
            409,
            rule="R17",
            field="upheld",
        )
    # The objection is final: the newsletter cannot be switched back on by a new basis.
    refused(
        tenant,
        "reader-1",
        lambda: establish(
            tenant,
            "reader-1",
            POSTAL,
            "legitimate_interest",
            opt_out_offered=True,
            effective_at="2026-10-01T00:00:00Z",
        ),
        409,
        rule="R17",
    )
    assert check(tenant, ["reader-1"], POSTAL)["denied"] == [
        {"subject_ref": "reader-1", "status": "lapsed", "reason": "objection"}
    ]
    assert status_of(standing(tenant, "reader-1", POSTAL)) == (False, "lapsed", "objection")
