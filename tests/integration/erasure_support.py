"""Helpers of the erasure tests (R22): the purposes whose holds keep data (a contract file
with a running retention term, a mediation file under the MfN hold, a shared parenting-plan
file, a WGBO medical file the patient may have destroyed), the requests, and what the
ledger then says."""

from __future__ import annotations

from typing import Any

from api_support import assert_problem

PHOTO = "photo-in-dossier"  # consent (the default purpose of ``Tenant.register_purpose``)
CONTRACT = "client-file"
MEDIATION = "mediation-file"
PARENTING = "parenting-plan"
MEDICAL = "medical-file"
NOTICE_EFFECTIVE = "2025-01-01T00:00:00Z"


def register_contract(tenant: Any, code: str = CONTRACT, **fields: Any) -> None:
    fields = {"retention": {"term": "P7Y", "starts": "basis_end"}, **fields}
    tenant.register_purpose(code, title="Client file", basis="contract", **fields)


def register_mediation(tenant: Any) -> None:
    """MfN rules: no erasure within 18 months after the mediation ended (seed 001)."""
    tenant.register_purpose(
        MEDIATION,
        title="Mediation file",
        basis="contract",
        erasure_hold={"term": "P18M", "starts": "basis_end", "reason": "MfN-regels"},
    )


def register_parenting(tenant: Any) -> None:
    tenant.register_purpose(PARENTING, title="Parenting plan", basis="contract", shared_file=True)


def register_medical(tenant: Any, destroy_on_request: bool = True) -> None:
    """A WGBO file: kept 20 years after the treatment ended (BW 7:454), unless the patient
    asks to destroy it (BW 7:455)."""
    tenant.register_purpose(
        MEDICAL,
        title="Medical file",
        basis="contract",
        special_categories=["health"],
        special_condition="health_care",
        matter="care",
        retention={"term": "P20Y", "starts": "basis_end"},
        destroy_on_request=destroy_on_request,
    )


def establish(
    tenant: Any,
    ref: str,
    purpose: str,
    *,
    at: str = "2025-02-01T09:00:00Z",
    file_ref: str | None = None,
) -> Any:
    body: dict[str, Any] = {
        "purpose": purpose,
        "basis": "contract",
        "reference": f"assignment-{ref}",
        "effective_at": at,
    }
    if file_ref is not None:
        body["file_ref"] = file_ref
    response = tenant.call("POST", f"/v1/subjects/{ref}/bases", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def end_basis(tenant: Any, ref: str, purpose: str, at: str = "2025-06-01T09:00:00Z") -> Any:
    response = tenant.call(
        "POST",
        f"/v1/subjects/{ref}/bases/{purpose}/end",
        json={"reason": "assignment completed", "effective_at": at},
    )
    assert response.status_code == 201, response.text
    return response.json()


def erase(tenant: Any, ref: str, **fields: Any) -> Any:
    body = {"recorded_by": "staff:jdevries", **fields}
    return tenant.call("POST", f"/v1/subjects/{ref}/erasure", json=body)


def erased(tenant: Any, ref: str, **fields: Any) -> dict[str, Any]:
    """Erase; the answer of a complete erasure (201)."""
    response = erase(tenant, ref, **fields)
    assert response.status_code == 201, response.text
    return response.json()


def held(tenant: Any, ref: str, **fields: Any) -> dict[str, Any]:
    """Erase; the 409 problem (R22) of an erasure held in part."""
    return assert_problem(erase(tenant, ref, **fields), 409, rule="R22")


def hold_kinds(problem: dict[str, Any]) -> dict[str, set[str]]:
    """purpose → the kinds of hold on it."""
    kinds: dict[str, set[str]] = {}
    for hold in problem["holds"]:
        kinds.setdefault(hold["purpose"], set()).add(hold["kind"])
    return kinds


def standing(tenant: Any, ref: str, purpose: str, **params: Any) -> dict[str, Any]:
    response = tenant.call("GET", f"/v1/subjects/{ref}/standing/{purpose}", params=params or None)
    assert response.status_code == 200, response.text
    return response.json()


def claim(tenant: Any, ref: str, purpose: str, claim_ref: str = "claim-1", **fields: Any) -> Any:
    body = {"claim_ref": claim_ref, "purpose": purpose, "reference": "C/13/765432", **fields}
    response = tenant.call("POST", f"/v1/subjects/{ref}/legal-claims", json=body)
    assert response.status_code == 201, response.text
    return response.json()
