"""Bases and objections in the reads over the API: every purpose side by side in the
subject's standing, whatever its basis, and the history listing each establishment, end,
objection and decision with its details."""

from __future__ import annotations

from datetime import UTC, datetime

from api_support import assert_problem, created, history, instant, standing
from bases_support import (
    ENDED,
    INVOICING,
    MEDIATION,
    PHOTO,
    POSTAL,
    REMINDERS,
    RETAINED_UNTIL,
    STARTED,
    created_id,
    decide,
    end,
    establish,
    lodge,
    register_invoicing,
    register_mediation,
    register_postal,
    register_reminders,
    status_of,
)

# -- every purpose side by side ---------------------------------------------------------------


def test_all_purposes_view_lists_consent_and_other_bases_side_by_side(tenant) -> None:
    tenant.register_purpose(PHOTO)
    register_mediation(tenant)
    register_invoicing(tenant)
    register_reminders(tenant)
    register_postal(tenant)
    tenant.put_subject("client-9")
    assert tenant.consent("client-9", PHOTO).status_code == 201
    created(establish(tenant, "client-9", MEDIATION, "contract"))
    created(end(tenant, "client-9", MEDIATION))
    created(establish(tenant, "client-9", INVOICING, "legal_obligation"))
    created(establish(tenant, "client-9", REMINDERS, "legitimate_interest"))
    created(lodge(tenant, "client-9", REMINDERS, "2026-10-01T00:00:00Z"))

    response = tenant.call("GET", "/v1/subjects/client-9/standing")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["subject_ref"] == "client-9"
    seen = {
        p["purpose"]: (p["basis"], p["status"], p["reason"], instant(p["retention_until"]))
        for p in body["purposes"]
    }
    assert seen == {
        PHOTO: ("consent", "lawful", None, None),
        MEDIATION: ("contract", "lapsed", "basis_ended", instant(RETAINED_UNTIL)),
        INVOICING: ("legal_obligation", "lawful", None, None),
        REMINDERS: ("legitimate_interest", "restricted", None, None),
        POSTAL: ("legitimate_interest", "none", None, None),
    }
    lawful = {p["purpose"] for p in body["purposes"] if p["lawful"]}
    assert lawful == {PHOTO, INVOICING}
    for answer in body["purposes"]:  # the same answers as the one-purpose view
        one = standing(tenant, "client-9", answer["purpose"], at=answer["at"])
        assert status_of(one) == status_of(answer)
        assert one["retention_until"] == answer["retention_until"]


def test_all_purposes_view_answers_at_a_past_time_as_known_then(tenant) -> None:
    """`at` and `known_at` ask every purpose at once what one purpose's view answers (an
    auditor's question of a past moment): after its end the contract lapsed, as known now,
    and was lawful still as known before the end was recorded; before it started, nothing
    applied. A time without an offset is refused, naming the parameter."""
    register_mediation(tenant)
    tenant.put_subject("client-7")
    created(establish(tenant, "client-7", MEDIATION, "contract"))
    known_then = datetime.now(UTC).isoformat()
    created(end(tenant, "client-7", MEDIATION))
    after_end = "2026-08-01T00:00:00Z"

    def every(**params: str) -> dict:
        response = tenant.call("GET", "/v1/subjects/client-7/standing", params=params)
        assert response.status_code == 200, response.text
        return response.json()

    for params, status in [
        ({"at": after_end}, "lapsed"),
        ({"at": after_end, "known_at": known_then}, "lawful"),
        ({"at": "2025-01-01T00:00:00Z"}, "none"),
    ]:
        body = every(**params)
        assert instant(body["at"]) == instant(params["at"])
        if "known_at" in params:
            assert instant(body["known_at"]) == instant(params["known_at"])
        (answer,) = [p for p in body["purposes"] if p["purpose"] == MEDIATION]
        assert answer["status"] == status, (params, answer)
        one = standing(tenant, "client-7", MEDIATION, **params)
        assert status_of(one) == status_of(answer)
        assert one["at"] == answer["at"]
        if "known_at" in params:
            assert one["known_at"] == answer["known_at"]
    naive = tenant.call(
        "GET", "/v1/subjects/client-7/standing", params={"at": "2026-08-01T00:00:00"}
    )
    assert_problem(naive, 422, field="at")


# -- history -----------------------------------------------------------------------------------


def test_history_lists_bases_and_objections_with_their_details(tenant) -> None:
    register_mediation(tenant)
    register_reminders(tenant)
    tenant.put_subject("client-h")
    established = created_id(establish(tenant, "client-h", MEDIATION, "contract"))
    ended = created_id(end(tenant, "client-h", MEDIATION, reason="mediation completed"))
    li = created_id(
        establish(tenant, "client-h", REMINDERS, "legitimate_interest", reference="LIA-3")
    )
    lodged = created_id(
        lodge(tenant, "client-h", REMINDERS, "2026-10-01T09:00:00Z", grounds="texts at night")
    )
    decided = created_id(
        decide(
            tenant,
            "client-h",
            REMINDERS,
            False,
            "2026-10-15T12:00:00Z",
            reasons="compelling grounds: missed appointments harm the treatment",
            recorded_by="staff:fdpo",
        )
    )
    events = history(tenant, "client-h")
    assert [e["type"] for e in events] == [
        "SubjectRegistered",
        "BasisEstablished",
        "BasisEnded",
        "BasisEstablished",
        "ObjectionLodged",
        "ObjectionDecided",
    ]
    by_id = {e["event_id"]: e for e in events}
    assert list(by_id)[1:] == [established, ended, li, lodged, decided]

    e = by_id[established]
    assert e["purpose"] == MEDIATION and instant(e["effective_at"]) == instant(STARTED)
    assert e["details"]["basis"] == "contract"
    assert e["details"]["reference"] == "opdracht-2024-17"
    assert e["details"]["recorded_by"] == "staff:jdevries"
    e = by_id[ended]
    assert e["purpose"] == MEDIATION and instant(e["effective_at"]) == instant(ENDED)
    assert e["details"]["reason"] == "mediation completed"
    e = by_id[li]
    assert e["purpose"] == REMINDERS
    assert (e["details"]["basis"], e["details"]["reference"]) == ("legitimate_interest", "LIA-3")
    e = by_id[lodged]
    assert e["purpose"] == REMINDERS and instant(e["effective_at"]) == instant(
        "2026-10-01T09:00:00Z"
    )
    assert e["details"]["grounds"] == "texts at night"
    e = by_id[decided]
    assert e["purpose"] == REMINDERS and instant(e["effective_at"]) == instant(
        "2026-10-15T12:00:00Z"
    )
    assert e["details"]["upheld"] is False
    assert e["details"]["reasons"].startswith("compelling grounds:")
    assert e["details"]["recorded_by"] == "staff:fdpo"
    recorded = [instant(e["recorded_at"]) for e in events]
    assert recorded == sorted(recorded)
    # The standing cites the events that prove it.
    answer = standing(tenant, "client-h", REMINDERS)
    assert answer["evidence"] == [li]
    lapsed = standing(tenant, "client-h", MEDIATION)
    assert lapsed["evidence"] == [established, ended]
