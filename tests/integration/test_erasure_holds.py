"""R22: an erasure erases what may be erased and answers 409 for what may not, each hold
with its purpose, reason and until — a running retention term (R21), a legal claim, the
register's erasure hold (MfN), a shared file without a joint request — and a WGBO file the
patient may have destroyed before its 20 years. A repeat records nothing."""

from __future__ import annotations

from datetime import datetime

from erasure_support import (
    CONTRACT,
    MEDIATION,
    MEDICAL,
    PARENTING,
    PHOTO,
    claim,
    end_basis,
    erase,
    erased,
    establish,
    held,
    hold_kinds,
    register_contract,
    register_mediation,
    register_medical,
    register_parenting,
    standing,
)

from api_support import assert_problem

REF = "client-1"


def _consented(tenant, ref: str = REF) -> None:
    tenant.register_purpose(PHOTO)
    tenant.put_subject(ref, birth_date="1990-05-01", email="client@example.nl")
    assert tenant.consent(ref, PHOTO).status_code == 201


def test_r22_nothing_held_erases_all_and_the_consent_lapses_as_erased(tenant):
    _consented(tenant)
    answer = erased(tenant, REF, reasons="art. 17 request by e-mail")
    assert answer["complete"] is True and answer["already_erased"] is False
    assert answer["erased"] == [PHOTO] and answer["held"] == [] and answer["kept"] == []
    assert [lapse["purpose"] for lapse in answer["lapsed"]] == [PHOTO]
    now = standing(tenant, REF, PHOTO)
    assert (now["status"], now["reason"], now["lawful"]) == ("lapsed", "erased", False)
    assert datetime.fromisoformat(now["until"]) == datetime.fromisoformat(answer["effective_at"])


def test_r22_a_repeat_changes_nothing_and_says_it_was_erased_already(tenant):
    _consented(tenant)
    first = erased(tenant, REF)
    history = tenant.call("GET", f"/v1/subjects/{REF}/history").json()["events"]
    (shown,) = [e for e in history if e["type"] == "SubjectErased"]
    assert shown["event_id"] == first["event_id"] and shown["details"]["complete"] is True
    again = erase(tenant, REF)
    assert again.status_code == 200, again.text
    body = again.json()
    assert body["already_erased"] is True and body["event_id"] == first["event_id"]
    assert body["lapsed"] == []
    assert tenant.call("GET", f"/v1/subjects/{REF}/history").json()["events"] == history


def test_r22_after_erasure_commands_on_the_subject_are_refused(tenant):
    _consented(tenant)
    erased(tenant, REF)
    put = tenant.call("PUT", f"/v1/subjects/{REF}", json={"email": "again@example.nl"})
    assert_problem(put, 409, rule="R22")
    assert_problem(tenant.consent(REF, PHOTO), 409, rule="R22")
    # reads still answer: the pseudonymous history stays
    assert standing(tenant, REF, PHOTO)["reason"] == "erased"


def test_r22_after_erasure_no_restriction_and_no_unsubscribe_link_is_made(tenant):
    """A restriction (R24) is a command on the subject like any other, and a new link would
    put back a row naming the subject that the erasure deleted (its POST then answered the
    recipient with a 409 problem naming the subject)."""
    _consented(tenant)
    erased(tenant, REF)
    before = tenant.call("GET", f"/v1/subjects/{REF}/history").json()["events"]
    restriction = {"purposes": [PHOTO], "reasons": "the subject disputes the data"}
    restricted = tenant.call("POST", f"/v1/subjects/{REF}/restrictions", json=restriction)
    assert_problem(restricted, 409, rule="R22", field="subject_ref")
    link = tenant.call("POST", f"/v1/subjects/{REF}/unsubscribe-links", json={"purpose": PHOTO})
    assert_problem(link, 409, rule="R22", field="subject_ref")
    request = {
        "kind": "restriction",
        "channel": "email",
        "identity": {"method": "known_contact_details", "verified_by": "staff:jdevries"},
    }
    received = tenant.call("POST", f"/v1/subjects/{REF}/requests", json=request)
    assert received.status_code == 201, received.text  # the request is recorded, and answered
    after = tenant.call("GET", f"/v1/subjects/{REF}/history").json()["events"]
    assert after == before  # … but restricts nothing of the erased subject
    assert standing(tenant, REF, PHOTO)["reason"] == "erased"


def test_r22_a_running_retention_term_holds_the_file_and_the_rest_is_erased(tenant):
    """A partial erasure: the consent purpose is erased, the contract file is held."""
    _consented(tenant)
    register_contract(tenant)
    establish(tenant, REF, CONTRACT)
    problem = held(tenant, REF)
    assert hold_kinds(problem) == {CONTRACT: {"retention"}}
    (hold,) = problem["holds"]
    assert hold["until"] is None and "in force" in hold["reason"]  # the term has not started
    assert problem["erased"] == [PHOTO]
    assert [lapse["purpose"] for lapse in problem["lapsed"]] == [PHOTO]
    assert problem["kept"] == ["birth_date"]  # no held purpose mails: the e-mail went
    assert standing(tenant, REF, PHOTO)["reason"] == "erased"
    assert standing(tenant, REF, CONTRACT)["lawful"] is True  # the held file is still processed

    end_basis(tenant, REF, CONTRACT, at="2025-06-01T09:00:00Z")
    again = held(tenant, REF)
    (hold,) = again["holds"]
    assert hold["kind"] == "retention" and hold["until"].startswith("2032-06-01")  # + P7Y (R21)
    assert again["event_id"] != problem["event_id"]  # the hold changed: recorded anew


def test_r22_a_held_erasure_repeated_unchanged_records_nothing(tenant):
    tenant.put_subject(REF, birth_date="1990-05-01")
    register_contract(tenant)
    establish(tenant, REF, CONTRACT)
    end_basis(tenant, REF, CONTRACT)
    first = held(tenant, REF)
    again = held(tenant, REF)
    assert again["already_erased"] is True and again["event_id"] == first["event_id"]
    assert again["holds"] == first["holds"]


def test_r22_an_expired_retention_term_holds_nothing(tenant):
    tenant.put_subject(REF, birth_date="1990-05-01")
    tenant.register_purpose(
        "short-file", title="Short", basis="contract", retention={"term": "P1D"}
    )
    establish(tenant, REF, "short-file")
    end_basis(tenant, REF, "short-file", at="2025-03-01T00:00:00Z")
    assert standing(tenant, REF, "short-file")["reason"] == "retention_expired"
    assert erased(tenant, REF)["erased"] == ["short-file"]


def test_r22_a_legal_claim_holds_its_purpose_until_it_ends(tenant):
    _consented(tenant)
    claim(tenant, REF, PHOTO, until="2030-01-01T00:00:00Z")
    problem = held(tenant, REF)
    (hold,) = problem["holds"]
    assert (hold["purpose"], hold["kind"]) == (PHOTO, "legal_claim")
    assert hold["until"].startswith("2030-01-01") and "C/13/765432" in hold["reason"]
    # the request is at least a withdrawal: the consent ends, the data is kept for the claim
    assert standing(tenant, REF, PHOTO)["reason"] == "erased"
    ended = tenant.call(
        "POST",
        f"/v1/subjects/{REF}/legal-claims/claim-1/end",
        json={"reason": "settled"},
    )
    assert ended.status_code == 201, ended.text
    done = erased(tenant, REF)
    assert done["erased"] == [PHOTO] and done["complete"] is True


def test_r22_a_legal_claim_for_an_unknown_purpose_or_twice_is_refused(tenant):
    _consented(tenant)
    body = {"claim_ref": "c", "purpose": "nope", "reference": "x"}
    assert_problem(
        tenant.call("POST", f"/v1/subjects/{REF}/legal-claims", json=body), 409, rule="R2"
    )
    claim(tenant, REF, PHOTO, claim_ref="c")
    again = {**body, "purpose": PHOTO}
    assert_problem(
        tenant.call("POST", f"/v1/subjects/{REF}/legal-claims", json=again), 409, rule="R22"
    )
    end = tenant.call("POST", f"/v1/subjects/{REF}/legal-claims/other/end", json={"reason": "x"})
    assert_problem(end, 409, rule="R22")
    backwards = {**again, "claim_ref": "d", "until": "2020-01-01T00:00:00Z"}
    response = tenant.call("POST", f"/v1/subjects/{REF}/legal-claims", json=backwards)
    assert_problem(response, 422, field="until")


def test_r22_the_mfn_hold_keeps_a_mediation_file_18_months_after_it_ended(tenant):
    tenant.put_subject(REF, birth_date="1990-05-01")
    register_mediation(tenant)
    establish(tenant, REF, MEDIATION, at="2025-02-01T09:00:00Z")
    running = held(tenant, REF)
    # while the mediation runs, the contract in force holds it, and so does the MfN hold
    # (open: its term starts when the mediation ends)
    assert hold_kinds(running) == {MEDIATION: {"retention", "purpose_hold"}}
    (hold,) = [h for h in running["holds"] if h["kind"] == "purpose_hold"]
    assert hold["until"] is None
    assert "MfN-regels" in hold["reason"] and "P18M" in hold["reason"]
    end_basis(tenant, REF, MEDIATION, at="2025-06-15T12:00:00Z")
    (hold,) = held(tenant, REF)["holds"]  # no retention term registered: the MfN hold alone
    assert hold["kind"] == "purpose_hold"
    assert hold["until"].startswith("2026-12-15T12:00:00")


def test_r22_a_wgbo_file_is_destroyed_on_the_patients_request_before_its_20_years(tenant):
    tenant.put_subject(REF, birth_date="1990-05-01")
    register_medical(tenant, destroy_on_request=True)
    establish(tenant, REF, MEDICAL)
    end_basis(tenant, REF, MEDICAL)
    assert standing(tenant, REF, MEDICAL)["retention_until"].startswith("2045-06-01")
    assert erased(tenant, REF)["erased"] == [MEDICAL]


def test_r22_without_the_flag_the_same_file_is_held_for_its_20_years(tenant):
    tenant.put_subject(REF, birth_date="1990-05-01")
    register_medical(tenant, destroy_on_request=False)
    establish(tenant, REF, MEDICAL)
    end_basis(tenant, REF, MEDICAL)
    (hold,) = held(tenant, REF)["holds"]
    assert hold["kind"] == "retention" and hold["until"].startswith("2045-06-01")


def test_r22_a_legal_claim_keeps_the_wgbo_retention_hold(tenant):
    tenant.put_subject(REF, birth_date="1990-05-01")
    register_medical(tenant, destroy_on_request=True)
    establish(tenant, REF, MEDICAL)
    end_basis(tenant, REF, MEDICAL)
    claim(tenant, REF, MEDICAL)
    assert hold_kinds(held(tenant, REF)) == {MEDICAL: {"legal_claim", "retention"}}


def test_r22_a_shared_file_needs_a_joint_request_of_all_its_parties(tenant):
    register_parenting(tenant)
    for ref in ("parent-a", "parent-b", "parent-c"):
        tenant.put_subject(ref, birth_date="1985-01-01")
    for ref in ("parent-a", "parent-b"):
        establish(tenant, ref, PARENTING, file_ref="plan-2025-7")
        end_basis(tenant, ref, PARENTING)
    establish(tenant, "parent-c", PARENTING, file_ref="plan-other")  # another file
    end_basis(tenant, "parent-c", PARENTING)

    alone = held(tenant, "parent-a")
    (hold,) = alone["holds"]
    assert (hold["kind"], hold["parties"]) == ("shared_file", ["parent-b"])
    assert "plan-2025-7" in hold["reason"]
    joint = erased(tenant, "parent-a", joint_with=["parent-b"])
    assert joint["erased"] == [PARENTING]
    # parent-b's own erasure: parent-a, erased on the joint request, need not join again
    assert erased(tenant, "parent-b")["erased"] == [PARENTING]


def test_r22_a_shared_file_purpose_must_name_its_file(tenant):
    register_parenting(tenant)
    tenant.put_subject("parent-a")
    body = {"purpose": PARENTING, "basis": "contract", "reference": "x"}
    response = tenant.call("POST", "/v1/subjects/parent-a/bases", json=body)
    assert_problem(response, 409, rule="R22", field="file_ref")


def test_r22_erasure_of_an_unknown_subject_is_404(tenant):
    assert_problem(erase(tenant, "nobody"), 404)


def test_r22_a_held_direct_marketing_purpose_keeps_the_address_and_its_link(tenant, client):
    tenant.register_purpose(
        "postal",
        title="Nieuwsbrief per post",
        basis="legitimate_interest",
        direct_marketing=True,
        legitimate_interest_assessment="clients expect news of similar services",
    )
    _consented(tenant)
    body = {"purpose": "postal", "basis": "legitimate_interest", "reference": "intake"}
    body["opt_out_offered"] = True
    assert tenant.call("POST", f"/v1/subjects/{REF}/bases", json=body).status_code == 201
    links = {}
    for purpose in ("postal", PHOTO):
        link = tenant.call(
            "POST", f"/v1/subjects/{REF}/unsubscribe-links", json={"purpose": purpose}
        )
        assert link.status_code == 200, link.text
        links[purpose] = "/" + link.json()["url"].split("/", 3)[3]  # the path: /u/<token>
    claim(tenant, REF, "postal")
    problem = held(tenant, REF)
    assert problem["kept"] == ["birth_date", "email"]
    ledger = client.app.state.ledger
    kept = ledger.personal_data(tenant.name, REF)
    assert (str(kept.birth_date), kept.email) == ("1990-05-01", "client@example.nl")
    # the held purpose's unsubscribe link still works; the erased purpose's is gone
    assert client.get(links["postal"]).status_code == 200
    assert client.get(links[PHOTO]).status_code == 404


def test_r22_an_erasure_under_an_idempotency_key_answers_the_same_again(tenant):
    tenant.put_subject(REF, birth_date="1990-05-01")
    register_contract(tenant)
    establish(tenant, REF, CONTRACT)
    headers = {"Idempotency-Key": "erase-1"}
    body = {"recorded_by": "staff:jdevries"}
    first = tenant.call("POST", f"/v1/subjects/{REF}/erasure", json=body, headers=headers)
    again = tenant.call("POST", f"/v1/subjects/{REF}/erasure", json=body, headers=headers)
    assert first.status_code == again.status_code == 409
    assert again.json()["event_id"] == first.json()["event_id"]
    assert again.json()["already_erased"] is False  # the first answer, replayed
    assert again.headers.get("idempotent-replayed") == "true"
