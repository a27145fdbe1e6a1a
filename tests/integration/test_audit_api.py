"""The auditor's API on real PostgreSQL, its access and its key: the independent verifier of
``audit_support`` can say no (and accepts the ledger's proofs), every audit route needs a key,
and the latest checkpoint publishes one key in two spellings, signed over the empty tree of a
fresh tenant."""

from __future__ import annotations

import base64
import hashlib
import uuid

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from grondslag.ledger.audit import merkle

from audit_support import (
    REF,
    checkpoint_verifies,
    consistency_verifies,
    inclusion_verifies,
    latest,
    rfc_leaf,
    rfc_root,
)


def test_the_independent_verifier_refuses_what_it_should() -> None:
    """The verifier above is only worth something if it can say no."""
    leaves = [rfc_leaf(bytes([i])) for i in range(7)]
    root = rfc_root(leaves)
    # audit path of leaf 5 in 7: [leaf 4], [leaf 6], MTH(0..4)
    path = [leaves[4], leaves[6], rfc_root(leaves[:4])]
    assert inclusion_verifies(5, 7, leaves[5], path, root)
    assert not inclusion_verifies(5, 7, leaves[4], path, root)
    assert not inclusion_verifies(5, 7, leaves[5], path[:-1], root)
    assert not inclusion_verifies(4, 7, leaves[5], path, root)
    # consistency 3 → 7: [leaf 2], [leaf 3], MTH(4..7), per RFC 9162's example shape
    proof = [leaves[2], leaves[3], rfc_root(leaves[:2]), rfc_root(leaves[4:])]
    assert consistency_verifies(3, 7, rfc_root(leaves[:3]), root, proof)
    assert not consistency_verifies(3, 7, rfc_root(leaves[:2]), root, proof)
    assert not consistency_verifies(3, 7, rfc_root(leaves[:3]), root, proof[1:])
    assert not consistency_verifies(3, 7, rfc_root(leaves[:3]), root, [*proof, leaves[0]])
    # and it accepts the proofs the ledger generates, for every pair of sizes up to 12
    many = [rfc_leaf(str(i).encode()) for i in range(12)]
    for n in range(1, 13):
        for index in range(n):
            path = merkle.inclusion_proof(index, many[:n])
            assert inclusion_verifies(index, n, many[index], path, rfc_root(many[:n]))
        for m in range(n + 1):
            proof = merkle.consistency_proof(m, many[:n])
            assert consistency_verifies(m, n, rfc_root(many[:m]), rfc_root(many[:n]), proof)


def test_every_audit_route_needs_a_key(client) -> None:
    routes = [
        ("GET", "/v1/audit/checkpoints/latest"),
        ("POST", "/v1/audit/checkpoints"),
        ("GET", f"/v1/audit/proofs/{uuid.uuid4()}"),
        ("GET", "/v1/audit/consistency?first=0&second=0"),
        ("GET", f"/v1/audit/export?subject_ref={REF}"),
    ]
    for method, path in routes:
        response = client.request(method, path)
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        wrong = client.request(method, path, headers={"Authorization": "Bearer gs_not-a-key"})
        assert wrong.status_code == 401, (method, path, wrong.text)


def test_latest_checkpoint_publishes_one_key_in_two_spellings(tenant) -> None:
    body = latest(tenant)  # a fresh tenant: signed now, over the empty tree
    raw = base64.b64decode(body["public_key"], validate=True)
    assert len(raw) == 32
    pem = serialization.load_pem_public_key(body["public_key_pem"].encode())
    assert isinstance(pem, Ed25519PublicKey)
    assert pem.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw) == raw
    assert body["key_id"] == hashlib.sha256(raw).hexdigest()[:16]
    assert body["checkpoint"]["key_id"] == body["key_id"]
    assert body["checkpoint"]["tenant"] == tenant.name
    assert body["checkpoint"]["tree_size"] == 0
    assert body["checkpoint"]["root_hash"] == hashlib.sha256(b"").hexdigest()
    assert checkpoint_verifies(body["checkpoint"], body["public_key"])
