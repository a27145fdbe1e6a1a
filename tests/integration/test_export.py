"""Access and portability answers (art. 15, art. 20): GET /v1/subjects/{ref}/export as JSON
that validates against schemas/subject-export.json — unsealed personal data with its
rectified versions, every consent with its evidence marked portable, the standings, the
restrictions, the full history — and as a printable letter in Dutch or English, every value
escaped, signed off with the controller's identity; only auditor and admin keys may ask."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from api_support import PURPOSE, REF, assert_problem, created
from requests_support import received

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "schemas" / "subject-export.json").read_text()
)
EXPORT = f"/v1/subjects/{REF}/export"
IDENTITY = {
    "display_name": "Praktijk <b>De Linde</b>",
    "postal_address": "Lindelaan 4\n7511 AB Enschede",
    "email": "privacy@delinde.example",
    "privacy_statement_url": "https://delinde.example/privacy",
    "dpo": {"name": "mr. A. Jansen", "contact": "fg@delinde.example"},
    "promised_term": "P4W",
    "languages": ["nl", "en"],
}


def _subject_with_a_history(tenant) -> None:
    tenant.register_purpose(recipients=["Huisarts <Dr. X>"])
    tenant.register_purpose(
        "mediation-file",
        title="Mediationdossier",
        basis="contract",
        retention={"term": "P7Y", "starts": "basis_end"},
    )
    tenant.put_subject(REF, birth_date="1990-05-01", email="client@example.nl")
    tenant.put_subject(REF, birth_date="1990-05-02", email="client@example.nl")  # rectified
    created(tenant.consent(effective_at="2025-03-01T10:00:00Z"))
    basis = {
        "purpose": "mediation-file",
        "basis": "contract",
        "reference": "opdracht-17",
        "effective_at": "2025-03-01T09:00:00Z",
    }
    assert tenant.call("POST", f"/v1/subjects/{REF}/bases", json=basis).status_code == 201
    end = {"reason": "mediation concluded", "effective_at": "2025-10-31T17:00:00Z"}
    ended = tenant.call("POST", f"/v1/subjects/{REF}/bases/mediation-file/end", json=end)
    assert ended.status_code == 201, ended.text
    restriction = {"purposes": [PURPOSE], "reasons": "accuracy disputed", "request_id": "r-1"}
    restricted = tenant.call("POST", f"/v1/subjects/{REF}/restrictions", json=restriction)
    assert restricted.status_code == 201, restricted.text
    received(tenant, REF, received_at="2025-11-03T10:00:00Z")  # an access request (R23)


def test_json_export_holds_everything_and_marks_what_is_portable(tenant) -> None:
    _subject_with_a_history(tenant)
    assert tenant.call("PUT", "/v1/tenant", json=IDENTITY).status_code == 201
    response = tenant.call("GET", EXPORT, headers={"Accept": "application/json"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    jsonschema.validate(body, SCHEMA)
    assert body["format"] == "grondslag-subject-export/1"
    assert body["controller"]["display_name"] == "Praktijk <b>De Linde</b>"
    personal = body["personal_data"]
    assert (personal["birth_date"], personal["email"], personal["destroyed"]) == (
        "1990-05-02",
        "client@example.nl",
        False,
    )
    assert [v["birth_date"] for v in personal["history"]] == ["1990-05-01", "1990-05-02"]
    purposes = {p["code"]: p for p in body["purposes"]}
    photo = purposes[PURPOSE]
    assert photo["standing"]["status"] == "restricted"
    assert photo["terms"]["recipients"] == ["Huisarts <Dr. X>"]
    [consent] = photo["consents"]
    assert consent["portable"] is True
    assert consent["document"] == {"document_ref": "intake-17.pdf", "sha256": None}
    assert consent["notice"]["version"] == "2025-01" and consent["method"] == "written"
    assert photo["restrictions"][0]["reference"] == "r-1"
    mediation = purposes["mediation-file"]
    assert mediation["standing"]["retention_until"] == "2032-10-31T17:00:00Z"
    assert [b["type"] for b in mediation["bases"]] == ["BasisEstablished", "BasisEnded"]
    assert all(b.get("portable", False) is False for b in mediation["bases"])
    assert body["portability"]["consents"] == [consent]
    types = [e["type"] for e in body["events"]]
    assert types.count("PersonalDataRecorded") == 1 and "ProcessingRestricted" in types
    [request] = body["requests"]
    assert (request["kind"], request["due_date"], request["status"]) == (
        "access",
        "2025-12-03",
        "open",
    )
    assert response.headers["cache-control"] == "no-store"


def test_the_letter_is_dutch_by_default_english_on_request_and_escapes_everything(tenant) -> None:
    _subject_with_a_history(tenant)
    assert tenant.call("PUT", "/v1/tenant", json=IDENTITY).status_code == 201
    page = tenant.call("GET", EXPORT, headers={"Accept": "text/html"})
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert '<html lang="nl">' in html
    assert "Praktijk &lt;b&gt;De Linde&lt;/b&gt;" in html and "<b>De Linde</b>" not in html
    assert "Huisarts &lt;Dr. X&gt;" in html
    assert "Inzage in uw persoonsgegevens" in html
    assert "7 jaar na het einde van de grondslag; tot 31 oktober 2032" in html
    assert "de overeenkomst met u" in html and "uw toestemming" in html
    assert "afgeschermd" in html
    assert "binnen 28 dagen" in html  # the promised term, shorter than the law's month
    assert "uw verzoek om inzage, ontvangen op 3 november 2025" in html
    assert "autoriteitpersoonsgegevens.nl/een-tip-of-klacht-indienen-bij-de-ap" in html
    assert "mr. A. Jansen" in html and "Lindelaan 4" in html
    for right in ("Inzage", "Rectificatie", "Wissing", "Beperking", "Overdraagbaarheid", "Bezwaar"):
        assert f"<strong>{right}</strong>" in html, right
    english = tenant.call("GET", EXPORT, params={"lang": "en"}, headers={"Accept": "text/html"})
    assert '<html lang="en">' in english.text and "Access to your personal data" in english.text
    by_header = tenant.call(
        "GET", EXPORT, headers={"Accept": "text/html", "Accept-Language": "en-GB,en;q=0.9"}
    )
    assert "7 years after the basis ends" in by_header.text


def test_without_an_identity_the_letter_names_the_tenant_and_the_ap(tenant) -> None:
    _subject_with_a_history(tenant)
    html = tenant.call("GET", EXPORT, headers={"Accept": "text/html"}).text
    assert tenant.name in html and "binnen een maand" in html
    assert "Autoriteit Persoonsgegevens" in html


def test_only_auditor_and_admin_may_export_and_an_unknown_subject_is_404(tenant) -> None:
    _subject_with_a_history(tenant)
    for role in ("reader", "writer"):
        assert tenant.call("GET", EXPORT, key=tenant.key_with(role)).status_code == 403
    assert tenant.call("GET", EXPORT, key=tenant.key_with("auditor")).status_code == 200
    assert_problem(tenant.call("GET", "/v1/subjects/nobody/export"), 404)
    bad = tenant.call("GET", EXPORT, params={"lang": "fr"}, headers={"Accept": "text/html"})
    assert bad.status_code in (400, 422)


def test_the_letter_names_its_charset_once(tenant) -> None:
    _subject_with_a_history(tenant)
    page = tenant.call("GET", EXPORT, headers={"Accept": "text/html"})
    assert page.headers["content-type"] == "text/html; charset=utf-8"


def test_once_the_subjects_key_is_destroyed_the_export_holds_no_personal_data(tenant) -> None:
    import psycopg

    from grondslag.ledger.domain.ids import subject_id

    _subject_with_a_history(tenant)
    with psycopg.connect(tenant.database_url, autocommit=True) as conn:  # crypto-shredding
        conn.execute(
            "UPDATE grondslag_subject_keys SET key = NULL, destroyed_at = now() "
            "WHERE subject_id = %s",
            (subject_id(tenant.name, REF),),
        )
    body = tenant.call("GET", EXPORT).json()
    jsonschema.validate(body, SCHEMA)
    personal = body["personal_data"]
    assert personal == {
        "portable": True,
        "destroyed": True,
        "birth_date": None,
        "email": None,
        "history": [],
    }
    assert "client@example.nl" not in json.dumps(body)
    html = tenant.call("GET", EXPORT, headers={"Accept": "text/html"}).text
    assert "uw persoonsgegevens zijn gewist" in html and "client@example.nl" not in html


def test_after_an_erasure_the_export_holds_what_its_holds_kept_and_nothing_else(tenant) -> None:
    from erasure_support import establish, held, register_contract

    register_contract(tenant)
    tenant.register_purpose()
    tenant.put_subject("canary-1", birth_date="1990-05-01", email="canary@example.nl")
    establish(tenant, "canary-1", "client-file")  # a running contract: its file is held
    created(tenant.consent("canary-1", effective_at="2025-03-01T10:00:00Z"))
    held(tenant, "canary-1")  # R22: erased in part
    body = tenant.call("GET", "/v1/subjects/canary-1/export").json()
    jsonschema.validate(body, SCHEMA)
    personal = body["personal_data"]
    assert (personal["destroyed"], personal["birth_date"], personal["email"]) == (
        True,
        "1990-05-01",  # kept, sealed anew, for the held client file
        None,
    )
    assert len(personal["history"]) == 1  # the versions under the destroyed key are gone
    assert "canary@example.nl" not in json.dumps(body)
    assert "SubjectErased" in [e["type"] for e in body["events"]]
    html = tenant.call("GET", "/v1/subjects/canary-1/export", headers={"Accept": "text/html"})
    assert "uw overige persoonsgegevens zijn gewist" in html.text
    assert "canary@example.nl" not in html.text
