"""The consent walk-through of the README, over the API on real PostgreSQL."""

from __future__ import annotations


def test_consent_is_recorded_read_back_and_withdrawn(tenant) -> None:
    tenant.register_purpose()
    tenant.put_subject("client-1", birth_date="1990-05-01")
    given = tenant.consent(effective_at="2025-09-02T10:00:00Z")
    assert given.status_code == 201, given.text
    assert given.json()["standing"]["status"] == "lawful"
    standing = tenant.call("GET", "/v1/subjects/client-1/standing/photo-in-dossier").json()
    assert standing["lawful"] is True
    assert standing["evidence"] == [given.json()["event_id"]]
    withdrawn = tenant.call(
        "POST",
        "/v1/subjects/client-1/consents/photo-in-dossier/withdrawal",
        json={"method": "email", "recorded_by": "staff:jdevries"},
    )
    assert withdrawn.status_code == 201, withdrawn.text
    after = tenant.call("GET", "/v1/subjects/client-1/standing/photo-in-dossier").json()
    assert (after["status"], after["reason"]) == ("lapsed", "withdrawn")
    before = tenant.call(
        "GET",
        "/v1/subjects/client-1/standing/photo-in-dossier",
        params={"at": "2025-10-01T00:00:00Z"},
    ).json()
    assert before["lawful"] is True
