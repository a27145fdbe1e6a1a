"""Helpers of the auditor's API tests: an independent verifier of RFC 9162 inclusion and
consistency proofs and of the checkpoint body of ``ledger/audit/checkpoints.py`` that shares no
code with the ledger; polling until the audit log holds an event (never a fixed sleep); proofs,
exports and the latest checkpoint over the API; a consent to prove; the audit leaves and event
count straight from the tables; and the ``grondslag`` command run as a subprocess."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import time
from typing import Any

import psycopg
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

REF = "client-1"
PURPOSE = "photo-in-dossier"
OTHER = "newsletter"
NOT_YET_LOGGED = "urn:grondslag:problem:not-yet-logged"


# -- An independent verifier: RFC 9162 and the checkpoint layout, written out here ----------
def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def rfc_leaf(data: bytes) -> bytes:
    return sha256(b"\x00" + data)


def rfc_node(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


def largest_power_of_two_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def rfc_root(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) of RFC 9162 §2.1.1, recursively, from leaf hashes."""
    if not leaves:
        return sha256(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = largest_power_of_two_below(len(leaves))
    return rfc_node(rfc_root(leaves[:k]), rfc_root(leaves[k:]))


def root_from_inclusion(index: int, size: int, leaf: bytes, path: list[bytes]) -> bytes | None:
    """The root that PATH(m, D[n]) (§2.1.3.1, listed from the leaf upwards) leads to, by the
    recursive definition: the last element is the sibling of the top split. None when the
    path has the wrong length."""
    if size == 1:
        return leaf if not path else None
    if not path:
        return None
    k = largest_power_of_two_below(size)
    if index < k:
        below = root_from_inclusion(index, k, leaf, path[:-1])
        return None if below is None else rfc_node(below, path[-1])
    below = root_from_inclusion(index - k, size - k, leaf, path[:-1])
    return None if below is None else rfc_node(path[-1], below)


def inclusion_verifies(index: int, size: int, leaf: bytes, path: list[bytes], root: bytes) -> bool:
    if not 0 <= index < size:
        return False
    return root_from_inclusion(index, size, leaf, path) == root


def roots_from_consistency(
    m: int, n: int, proof: list[bytes], whole: bool, first_root: bytes
) -> tuple[bytes, bytes] | None:
    """(old root, new root) that SUBPROOF(m, D[n], whole) (§2.1.4.1) leads to, consumed
    from its last (topmost) element; None when the proof has the wrong shape."""
    if m == n:
        if whole:
            return (first_root, first_root) if not proof else None
        return (proof[0], proof[0]) if len(proof) == 1 else None
    if not proof:
        return None
    k = largest_power_of_two_below(n)
    top = proof[-1]
    if m <= k:
        below = roots_from_consistency(m, k, proof[:-1], whole, first_root)
        return None if below is None else (below[0], rfc_node(below[1], top))
    below = roots_from_consistency(m - k, n - k, proof[:-1], False, first_root)
    return None if below is None else (rfc_node(top, below[0]), rfc_node(top, below[1]))


def consistency_verifies(
    m: int, n: int, first_root: bytes, second_root: bytes, proof: list[bytes]
) -> bool:
    if not 0 <= m <= n:
        return False
    if m == 0:
        return not proof
    if m == n:
        return not proof and first_root == second_root
    roots = roots_from_consistency(m, n, proof, True, first_root)
    return roots == (first_root, second_root)


def checkpoint_body(checkpoint: dict[str, Any]) -> bytes:
    root = base64.b64encode(bytes.fromhex(checkpoint["root_hash"])).decode()
    return (
        f"grondslag/{checkpoint['tenant']}\n{checkpoint['tree_size']}\n{root}\n"
        f"{checkpoint['issued_at']}\n"
    ).encode()


def checkpoint_verifies(checkpoint: dict[str, Any], public_key_b64: str) -> bool:
    raw = base64.b64decode(public_key_b64)
    if hashlib.sha256(raw).hexdigest()[:16] != checkpoint["key_id"]:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(raw).verify(
            base64.b64decode(checkpoint["signature"]), checkpoint_body(checkpoint)
        )
    except InvalidSignature:
        return False
    return True


# -- helpers --------------------------------------------------------------------------------
def wait_for(call: Any, *, seconds: float = 5.0) -> Any:
    """Ask again (every 0.1 s) until the answer is not "not yet logged"; the last answer."""
    deadline = time.monotonic() + seconds
    while True:
        response = call()
        logged = response.status_code != 409 and not (
            response.status_code == 404 and "audit log" in response.text
        )
        if logged or time.monotonic() > deadline:
            return response
        time.sleep(0.1)


def proof_of(tenant: Any, event_id: str, **params: Any) -> dict[str, Any]:
    response = wait_for(
        lambda: tenant.call("GET", f"/v1/audit/proofs/{event_id}", params=params or None)
    )
    assert response.status_code == 200, response.text
    return response.json()


def export(tenant: Any, *, key: str | None = None, **params: Any) -> Any:
    return wait_for(
        lambda: tenant.call(
            "GET",
            "/v1/audit/export",
            key=key or tenant.key_with("auditor"),
            params={"subject_ref": REF, **params},
        )
    )


def latest(tenant: Any) -> dict[str, Any]:
    response = tenant.call("GET", "/v1/audit/checkpoints/latest")
    assert response.status_code == 200, response.text
    return response.json()


def is_problem(response: Any, status: int | tuple[int, ...]) -> dict[str, Any]:
    statuses = (status,) if isinstance(status, int) else status
    assert response.status_code in statuses, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == response.status_code
    assert body["title"]
    return body


def consented(tenant: Any, purpose: str = PURPOSE, ref: str = REF) -> str:
    """Register the purpose, put the subject, give consent: the consent's event id."""
    tenant.register_purpose(purpose)
    tenant.put_subject(ref)
    given = tenant.consent(ref, purpose)
    assert given.status_code == 201, given.text
    return given.json()["event_id"]


def leaves_of(database_url: str, tenant: str) -> list[tuple[int, str]]:
    """(leaf index, event id) of a tenant's audit log, straight from the table."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT leaf_index, event_id FROM grondslag_audit_leaves WHERE tenant = %s "
            "ORDER BY leaf_index",
            (tenant,),
        ).fetchall()
    return [(index, str(eid)) for index, eid in rows]


def events_in_store(database_url: str, tenant: str) -> int:
    """How many events of the tenant's streams the event store holds (not the audit log)."""
    with psycopg.connect(database_url) as conn:
        (count,) = conn.execute(
            "SELECT count(*) FROM grondslag_events e JOIN grondslag_streams s "
            "ON s.originator_id = e.originator_id WHERE s.tenant = %s",
            (tenant,),
        ).fetchone()
    return count


def grondslag(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "grondslag.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
