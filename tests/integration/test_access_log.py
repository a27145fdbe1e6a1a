"""Who looked (NEN 7513): each read that unseals a subject's personal data is logged with
the API key's id, what was read and when, before it answers; admins and auditors of the
subject's tenant list it, newest first, a page at a time; another tenant's key finds no
such subject (404). The log is append-only and outlives the subject's erasure."""

from __future__ import annotations

import psycopg
import pytest

from grondslag.ledger.keys import key_id_in

from api_support import CONSENT, REF, assert_problem
from audit_support import export

ACCESS_LOG = f"/v1/subjects/{REF}/access-log"


def actor_id(key: str) -> str:
    return f"key:{key_id_in(key)}"


def accesses(tenant, key: str | None = None, **params) -> dict:
    response = tenant.call("GET", ACCESS_LOG, key=key, params=params or None)
    assert response.status_code == 200, response.text
    return response.json()


def test_an_export_by_an_auditor_key_is_in_the_access_log_with_that_key(ready) -> None:
    auditor = ready.key_with("auditor")
    assert accesses(ready)["accesses"] == []
    as_json = ready.call("GET", f"/v1/subjects/{REF}/export", key=auditor)
    assert as_json.status_code == 200, as_json.text
    assert as_json.json()["personal_data"]["birth_date"] == "1990-05-01"
    letter = ready.call(
        "GET", f"/v1/subjects/{REF}/export", key=auditor, headers={"Accept": "text/html"}
    )
    assert letter.status_code == 200, letter.text

    page = accesses(ready, ready.key_with("admin"))
    assert page["subject_ref"] == REF
    newest, oldest = page["accesses"]
    assert [newest["what"], oldest["what"]] == ["export.html", "export.json"]
    assert newest["actor"] == {"id": actor_id(auditor), "tenant": ready.name, "roles": ["auditor"]}
    assert newest["read_at"] >= oldest["read_at"]
    assert newest["id"] > oldest["id"]
    assert page["next"] is None


def test_an_audit_bundle_with_personal_data_is_logged_and_one_without_is_not(ready) -> None:
    ready.consent()
    auditor = ready.key_with("auditor")
    assert export(ready, key=auditor).status_code == 200
    assert accesses(ready)["accesses"] == []
    assert export(ready, key=auditor, personal_data="true").status_code == 200
    (access,) = accesses(ready)["accesses"]
    assert access["what"] == "audit.bundle.personal_data"
    assert access["actor"]["id"] == actor_id(auditor)


def test_the_access_log_pages_newest_first(ready) -> None:
    for _ in range(3):
        assert ready.call("GET", f"/v1/subjects/{REF}/export").status_code == 200
    first = accesses(ready, limit="2")
    assert len(first["accesses"]) == 2 and first["next"]
    second = accesses(ready, limit="2", cursor=first["next"])
    assert len(second["accesses"]) == 1 and second["next"] is None
    ids = [a["id"] for a in first["accesses"] + second["accesses"]]
    assert ids == sorted(ids, reverse=True)
    bad = ready.call("GET", ACCESS_LOG, params={"cursor": "x1"})
    assert_problem(bad, 422, field="cursor")


def test_another_tenants_key_cannot_list_it_and_a_writer_may_not(ready, make_tenant) -> None:
    assert ready.call("GET", f"/v1/subjects/{REF}/export").status_code == 200
    other = make_tenant()
    other.put_subject(REF)  # the same reference in another tenant: another subject
    assert accesses(other)["accesses"] == []
    missing = other.call("GET", f"/v1/subjects/{REF}-x/access-log")
    assert_problem(missing, 404)
    # other's key on the same URL answers its own subject's (empty) log, never ready's
    foreign = ready.call("GET", ACCESS_LOG, key=other.key)
    assert foreign.status_code == 200 and foreign.json()["accesses"] == []
    assert len(accesses(ready)["accesses"]) == 1
    unknown_elsewhere = make_tenant()
    assert_problem(unknown_elsewhere.call("GET", ACCESS_LOG), 404)
    assert ready.call("GET", ACCESS_LOG, key=ready.key_with("writer")).status_code == 403


def test_the_access_log_refuses_updates_and_deletes(ready, database_url) -> None:
    assert ready.call("GET", f"/v1/subjects/{REF}/export").status_code == 200
    for statement in (
        "UPDATE grondslag_access_log SET actor_id = 'key:nobody' WHERE tenant = %s",
        "DELETE FROM grondslag_access_log WHERE tenant = %s",
    ):
        with psycopg.connect(database_url) as conn, pytest.raises(psycopg.errors.RaiseException):
            conn.execute(statement, (ready.name,))
    assert len(accesses(ready)["accesses"]) == 1


def test_the_auditors_subject_page_is_logged_with_the_signed_in_key(ready) -> None:
    writer = ready.key_with("writer")
    given = ready.call("POST", f"/v1/subjects/{REF}/consents", key=writer, json=CONSENT)
    assert given.status_code == 201, given.text
    auditor = ready.key_with("auditor")
    signed_in = ready.client.post(
        "/audit/sign-in", data={"key": auditor, "next": "/audit"}, follow_redirects=False
    )
    assert signed_in.status_code == 303, signed_in.text
    page = ready.client.get(f"/audit/subjects/{REF}")
    ready.client.cookies.clear()
    assert page.status_code == 200, page.text
    assert f"as <code>{actor_id(writer)}</code>" in page.text  # who recorded the consent
    (access,) = accesses(ready)["accesses"]
    assert access["what"] == "auditor.subject_page"
    assert access["actor"]["id"] == actor_id(auditor)


def test_an_erasure_keeps_the_access_log_and_is_recorded_by_its_key(ready) -> None:
    """Design choice (NEN 7513): the log of who looked outlives the data looked at; it holds
    no personal data. The erasure itself names the key that erased."""
    auditor = ready.key_with("auditor")
    assert ready.call("GET", f"/v1/subjects/{REF}/export", key=auditor).status_code == 200
    eraser = ready.key_with("writer")
    erasure = ready.call(
        "POST", f"/v1/subjects/{REF}/erasure", key=eraser, json={"recorded_by": "staff:x"}
    )
    assert erasure.status_code == 201, erasure.text
    (access,) = accesses(ready)["accesses"]
    assert access["actor"]["id"] == actor_id(auditor)
    history = ready.call("GET", f"/v1/subjects/{REF}/history").json()["events"]
    (erased_event,) = [e for e in history if e["type"] == "SubjectErased"]
    assert erased_event["actor"]["id"] == actor_id(eraser)
