"""Helpers of the API tests of non-consent bases and objections: the purposes of the
practices (a mediation file on contract, invoicing on a legal obligation, a postal
newsletter and appointment reminders on legitimate interest), the requests on bases and
objections, and a refusal that leaves the history as it was."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from api_support import assert_problem, history

RETENTION_7Y = {"term": "P7Y", "starts": "basis_end"}
ASSESSMENT = (
    "Belangenafweging 2025-02: clients of the practice expect news of similar services; "
    "little data (name, postal address); a free opt-out is offered at intake and in every mailing."
)

MEDIATION = "mediation-file"
INVOICING = "invoicing"
POSTAL = "postal-newsletter"
REMINDERS = "appointment-reminders"
PHOTO = "photo-in-dossier"

STARTED = "2025-03-03T09:00:00Z"
ENDED = "2026-06-30T16:00:00Z"
RETAINED_UNTIL = "2033-06-30T16:00:00Z"  # ENDED + 7 calendar years (R21)


def register_mediation(tenant) -> None:
    tenant.register_purpose(
        MEDIATION,
        title="Mediation file",
        basis="contract",
        matter="other",
        retention=RETENTION_7Y,
    )


def register_invoicing(tenant) -> None:
    tenant.register_purpose(
        INVOICING,
        title="Invoicing and the fiscal records",
        basis="legal_obligation",
        legal_provision="AWR art. 52",
        matter="property",
        retention=RETENTION_7Y,
    )


def register_postal(tenant) -> None:
    tenant.register_purpose(
        POSTAL,
        title="Postal newsletter",
        basis="legitimate_interest",
        direct_marketing=True,
        matter="other",
        legitimate_interest_assessment=ASSESSMENT,
    )


def register_reminders(tenant) -> None:
    tenant.register_purpose(
        REMINDERS,
        title="Appointment reminders by text message",
        basis="legitimate_interest",
        matter="other",
        legitimate_interest_assessment="Belangenafweging 2025-03: no-shows cost the practice.",
    )


def establish(tenant, ref: str, purpose: str, basis: str, **fields: Any):
    body = {
        "purpose": purpose,
        "basis": basis,
        "reference": "opdracht-2024-17",
        "effective_at": STARTED,
        "recorded_by": "staff:jdevries",
        **fields,
    }
    return tenant.call("POST", f"/v1/subjects/{ref}/bases", json=body)


def end(tenant, ref: str, purpose: str, **fields: Any):
    body = {"effective_at": ENDED, "reason": "assignment completed", **fields}
    return tenant.call("POST", f"/v1/subjects/{ref}/bases/{purpose}/end", json=body)


def lodge(tenant, ref: str, purpose: str, effective_at: str, **fields: Any):
    body = {
        "purpose": purpose,
        "grounds": "I do not want this any more",
        "effective_at": effective_at,
        **fields,
    }
    return tenant.call("POST", f"/v1/subjects/{ref}/objections", json=body)


def decide(tenant, ref: str, purpose: str, upheld: bool, effective_at: str, **fields: Any):
    body = {
        "upheld": upheld,
        "reasons": "objection upheld: no overriding interest" if upheld else "n/a",
        "effective_at": effective_at,
        **fields,
    }
    return tenant.call("POST", f"/v1/subjects/{ref}/objections/{purpose}/decision", json=body)


def status_of(answer: dict) -> tuple[bool, str, str | None]:
    return answer["lawful"], answer["status"], answer["reason"]


def refused(
    tenant,
    ref: str,
    send: Callable[[], Any],
    status: int,
    *,
    rule: str | None = None,
    field: str | None = None,
) -> dict:
    """``send`` is refused with this problem, and the subject's history is unchanged."""
    before = history(tenant, ref)
    body = assert_problem(send(), status, rule=rule, field=field)
    assert history(tenant, ref) == before
    return body


def created_id(response) -> str:
    assert response.status_code == 201, response.text
    return response.json()["event_id"]
