"""Helpers of the API tests: the request bodies of a practice with a photo in the client's
dossier, and the reads a test checks its answers with — a problem+json refusal, a subject's
history and standing, a check, what the ledger says about a subject."""

from __future__ import annotations

from datetime import datetime
from typing import Any

PROBLEM_JSON = "application/problem+json"
REF = "client-1"
# the API key pepper of the test session's apps: a key made in one works in the others
TEST_PEPPER = "test-session-api-key-pepper-0123456789"
PURPOSE = "photo-in-dossier"
CONSENTS = f"/v1/subjects/{REF}/consents"
NOTICE = {
    "version": "2025-01",
    "url": "https://praktijk.example/privacy/2025-01",
    "sha256": "a" * 64,
}

ANY_VERSION = {"If-Match": "*"}  # a revision names the version it revises (428 without)


# -- request bodies ----------------------------------------------------------------------------
def purpose_body(code: str = PURPOSE, **fields: Any) -> dict[str, Any]:
    """A purpose on consent under ``NOTICE`` since 1 January 2025, with ``fields``."""
    return {
        "code": code,
        "title": "Pasfoto in het dossier",
        "basis": "consent",
        "notice": NOTICE,
        "effective_at": "2025-01-01T00:00:00Z",
        **fields,
    }


def consent_body(purpose: str = PURPOSE, **fields: Any) -> dict[str, Any]:
    """A written, explicit consent under ``NOTICE``, with ``fields``."""
    return {
        "purpose": purpose,
        "method": "written",
        "explicit": True,
        "notice_version": NOTICE["version"],
        "evidence": {"document_ref": "intake-17.pdf"},
        "recorded_by": "staff:jdevries",
        **fields,
    }


CONSENT = consent_body()


def withdraw(tenant: Any, ref: str = REF, purpose: str = PURPOSE, **fields: Any) -> Any:
    """``POST …/consents/{purpose}/withdrawal`` (by e-mail); answers the response."""
    body = {"method": "email", "recorded_by": "staff:jdevries", **fields}
    return tenant.call("POST", f"/v1/subjects/{ref}/consents/{purpose}/withdrawal", json=body)


# -- answers -----------------------------------------------------------------------------------
def assert_problem(
    response: Any, status: int, *, field: str | None = None, rule: str | None = None
) -> dict[str, Any]:
    """The answer is an RFC 9457 problem with this status (and names field / rule)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == PROBLEM_JSON
    body = response.json()
    for member in ("type", "title", "status", "detail", "instance"):
        assert body.get(member), f"problem lacks {member!r}: {body}"
    assert body["instance"] == response.request.url.path, body
    assert body["status"] == status
    assert isinstance(body["type"], str) and isinstance(body["title"], str)
    if field is not None:
        assert body.get("field") == field, body
    if rule is not None:
        assert body.get("rule") == rule, body
    return body


def created(response: Any) -> dict[str, Any]:
    """A 201 with the event id; answers the standing it leaves."""
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["event_id"]
    return body["standing"]


def instant(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- reads -------------------------------------------------------------------------------------
def standing(tenant: Any, ref: str = REF, purpose: str = PURPOSE, **params: str) -> dict:
    response = tenant.call("GET", f"/v1/subjects/{ref}/standing/{purpose}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def history(tenant: Any, ref: str = REF) -> list[dict]:
    """Every event of the subject, page after page."""
    events: list[dict] = []
    params: dict[str, Any] = {"limit": 200}
    while True:
        response = tenant.call("GET", f"/v1/subjects/{ref}/history", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["subject_ref"] == ref
        events += body["events"]
        if body["next"] is None:
            return events
        params["cursor"] = body["next"]


def check(tenant: Any, refs: list[str], purpose: str = PURPOSE, **fields: Any) -> dict:
    """``POST /v1/checks`` for ``refs``; answers the 200's body."""
    body = {"purpose": purpose, "subject_refs": refs, **fields}
    response = tenant.call("POST", "/v1/checks", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def denied(answer: dict) -> dict[str, tuple[str, str | None]]:
    """A check's refusals: subject → (status, reason)."""
    return {d["subject_ref"]: (d["status"], d["reason"]) for d in answer["denied"]}


def register_of(tenant: Any) -> Any:
    """The tenant's register of purposes (``GET /v1/purposes``)."""
    response = tenant.call("GET", "/v1/purposes")
    assert response.status_code == 200, response.text
    return response.json()


def snapshot(tenant: Any, ref: str = REF) -> tuple[Any, Any]:
    """What the ledger says about the subject: its history and its standing for PURPOSE."""
    history = tenant.call("GET", f"/v1/subjects/{ref}/history")
    assert history.status_code == 200, history.text
    standing = tenant.call("GET", f"/v1/subjects/{ref}/standing/{PURPOSE}")
    assert standing.status_code == 200, standing.text
    body = standing.json()
    for moving in ("at", "known_at"):  # the clock moves between two reads
        body.pop(moving)
    return history.json(), body
