"""Inclusion and consistency proofs of the auditor's API on real PostgreSQL, each checked with
the independent verifier of ``audit_support`` (RFC 9162 and the checkpoint layout): a consent's
proof and its canonical text, proofs at an older checkpoint, one tree per tenant, consistency
between two signed checkpoints and sizes outside the tree, and unknown or malformed ids.

Events reach the audit log through the session's in-process projector, so every test polls
(never sleeps a fixed time) until the log holds what it wrote.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit_support import (
    OTHER,
    PURPOSE,
    REF,
    checkpoint_verifies,
    consented,
    consistency_verifies,
    events_in_store,
    inclusion_verifies,
    is_problem,
    latest,
    leaves_of,
    proof_of,
    rfc_leaf,
    rfc_root,
)


# -- inclusion proofs ------------------------------------------------------------------------
def test_consent_proof_verifies_independently_and_its_canonical_text_is_the_event(
    tenant,
) -> None:
    event_id = consented(tenant)
    proof = proof_of(tenant, event_id)

    assert proof["event_id"] == event_id
    canonical = proof["canonical"].encode()
    leaf = rfc_leaf(canonical)
    assert proof["leaf_hash"] == leaf.hex() == hashlib.sha256(b"\x00" + canonical).hexdigest()
    checkpoint = proof["checkpoint"]
    assert checkpoint["tenant"] == tenant.name
    assert checkpoint["tree_size"] == proof["tree_size"] > proof["leaf_index"] >= 0
    path = [bytes.fromhex(h) for h in proof["audit_path"]]
    root = bytes.fromhex(checkpoint["root_hash"])
    assert inclusion_verifies(proof["leaf_index"], proof["tree_size"], leaf, path, root)
    assert checkpoint_verifies(checkpoint, proof["public_key"])
    # and each of them can fail: another leaf, another root, another signer
    assert not inclusion_verifies(
        proof["leaf_index"], proof["tree_size"], rfc_leaf(canonical + b" "), path, root
    )
    other_key = Ed25519PrivateKey.generate().public_key()
    other_raw = other_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert not checkpoint_verifies(checkpoint, base64.b64encode(other_raw).decode())
    assert not checkpoint_verifies({**checkpoint, "tree_size": 99}, proof["public_key"])

    event = json.loads(canonical)
    assert set(event) == {"originator_id", "originator_version", "state", "topic"}
    assert event["topic"].endswith("Standing.ConsentGiven")
    assert event["originator_id"] == str(
        uuid.uuid5(
            uuid.UUID("6f1c2f3e-8a4b-5d2e-9c7a-3b1e0d4f5a60"),
            f"standing\x1f{tenant.name}\x1f{REF}\x1f{PURPOSE}",
        )
    )
    assert str(uuid.uuid5(uuid.UUID(event["originator_id"]), str(event["originator_version"]))) == (
        event_id
    )
    consent = event["state"]["consent"]
    assert consent["method"] == "written"
    assert consent["explicit"] is True
    assert consent["notice_version"] == "2025-01"
    assert consent["evidence"]["document_ref"] == "intake-17.pdf"
    # RFC 8785: no whitespace, members sorted
    assert (
        canonical
        == json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )


def test_proof_of_an_older_checkpoint_by_tree_size(tenant) -> None:
    first = consented(tenant)
    old = proof_of(tenant, first)
    tenant.register_purpose(OTHER)
    assert tenant.consent(REF, OTHER).status_code == 201
    # the newest consent is logged once its own proof answers; then sign over it all
    newest = tenant.call("GET", f"/v1/subjects/{REF}/history").json()["events"][-1]
    proof_of(tenant, newest["event_id"])
    signed = tenant.call("POST", "/v1/audit/checkpoints")
    assert signed.status_code in (200, 201), signed.text
    assert signed.json()["checkpoint"]["tree_size"] > old["tree_size"]

    again = proof_of(tenant, first, tree_size=old["tree_size"])
    assert again["tree_size"] == old["tree_size"]
    assert again["checkpoint"] == old["checkpoint"]
    assert checkpoint_verifies(again["checkpoint"], again["public_key"])
    assert again["audit_path"] == old["audit_path"]
    now = proof_of(tenant, first)
    assert now["tree_size"] > old["tree_size"]
    assert inclusion_verifies(
        now["leaf_index"],
        now["tree_size"],
        bytes.fromhex(now["leaf_hash"]),
        [bytes.fromhex(h) for h in now["audit_path"]],
        bytes.fromhex(now["checkpoint"]["root_hash"]),
    )
    # a size no checkpoint was signed at: 404; a checkpoint before the leaf: refused
    body = is_problem(
        tenant.call(
            "GET", f"/v1/audit/proofs/{first}", params={"tree_size": now["tree_size"] + 50}
        ),
        404,
    )
    assert str(now["tree_size"] + 50) in body["detail"]
    later = proof_of(tenant, newest["event_id"])
    is_problem(
        tenant.call(
            "GET",
            f"/v1/audit/proofs/{newest['event_id']}",
            params={"tree_size": old["tree_size"]},
        ),
        409,
    )
    assert later["leaf_index"] >= old["tree_size"]


def test_two_tenants_have_two_trees(make_tenant, database_url: str) -> None:
    a, b = make_tenant(), make_tenant()
    consented(a)
    a.register_purpose(OTHER)  # a grows more than b
    a_consent = a.consent(REF, OTHER)
    assert a_consent.status_code == 201
    b_consent = consented(b)

    b_proof = proof_of(b, b_consent)
    a_proof = proof_of(a, a_consent.json()["event_id"])
    b_count, a_count = events_in_store(database_url, b.name), events_in_store(database_url, a.name)
    assert a_count > b_count
    # each tree counts only its own tenant's events, from leaf 0
    assert [i for i, _ in leaves_of(database_url, a.name)] == list(range(a_count))
    assert [i for i, _ in leaves_of(database_url, b.name)] == list(range(b_count))
    assert b_proof["leaf_index"] == b_count - 1
    assert a_proof["leaf_index"] == a_count - 1
    b_latest = latest(b)
    assert b_latest["checkpoint"]["tenant"] == b.name
    assert b_latest["checkpoint"]["tree_size"] == b_count
    assert latest(a)["checkpoint"]["tree_size"] == a_count
    # b's first leaf is its own purpose's registration, leaf 0 of b's tree
    (first_index, first_event) = leaves_of(database_url, b.name)[0]
    first = proof_of(b, first_event)
    assert (first_index, first["leaf_index"]) == (0, 0)
    assert json.loads(first["canonical"])["topic"].endswith("Purpose.Registered")
    # the other tenant's event does not exist for b
    body = is_problem(b.call("GET", f"/v1/audit/proofs/{a_proof['event_id']}"), 404)
    assert body["type"].endswith("not-found")


# -- consistency proofs ----------------------------------------------------------------------
def test_consistency_between_two_signed_checkpoints_verifies_independently(
    tenant, database_url: str
) -> None:
    proof_of(tenant, consented(tenant))
    tenant.put_subject("client-2")
    tenant.put_subject("client-3")
    first_event = tenant.consent("client-2").json()["event_id"]
    proof_of(tenant, first_event)
    old = latest(tenant)  # signed for the proof: it covers every event so far
    m = old["checkpoint"]["tree_size"]
    assert m == events_in_store(database_url, tenant.name)

    tenant.register_purpose(OTHER)
    for ref in (REF, "client-2", "client-3"):
        assert tenant.consent(ref, OTHER).status_code == 201
    last = tenant.call("GET", "/v1/subjects/client-3/history").json()["events"][-1]
    proof_of(tenant, last["event_id"])
    signed = tenant.call("POST", "/v1/audit/checkpoints")
    assert signed.status_code in (200, 201), signed.text
    new = signed.json()
    n = new["checkpoint"]["tree_size"]
    assert n == events_in_store(database_url, tenant.name) > m
    assert checkpoint_verifies(old["checkpoint"], old["public_key"])
    assert checkpoint_verifies(new["checkpoint"], new["public_key"])

    response = tenant.call("GET", "/v1/audit/consistency", params={"first": m, "second": n})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["first"], body["second"]) == (m, n)
    assert body["first_root"] == old["checkpoint"]["root_hash"]
    assert body["second_root"] == new["checkpoint"]["root_hash"]
    assert body["first_checkpoint"] == old["checkpoint"]
    assert body["second_checkpoint"] == new["checkpoint"]
    proof = [bytes.fromhex(h) for h in body["proof"]]
    first_root = bytes.fromhex(old["checkpoint"]["root_hash"])
    second_root = bytes.fromhex(new["checkpoint"]["root_hash"])
    assert consistency_verifies(m, n, first_root, second_root, proof)
    assert not consistency_verifies(m, n, second_root, second_root, proof)

    # every prefix: the proof verifies against the root recomputed from the leaves
    leaf_hashes = [
        bytes.fromhex(proof_of(tenant, eid)["leaf_hash"])
        for _, eid in leaves_of(database_url, tenant.name)
    ]
    assert len(leaf_hashes) == n
    assert rfc_root(leaf_hashes) == second_root
    assert rfc_root(leaf_hashes[:m]) == first_root
    for size in range(n + 1):
        each = tenant.call("GET", "/v1/audit/consistency", params={"first": size, "second": n})
        assert each.status_code == 200, each.text
        each = each.json()
        assert each["first_root"] == rfc_root(leaf_hashes[:size]).hex(), size
        assert consistency_verifies(
            size,
            n,
            rfc_root(leaf_hashes[:size]),
            second_root,
            [bytes.fromhex(h) for h in each["proof"]],
        ), size


def test_consistency_refuses_sizes_outside_the_tree(tenant) -> None:
    proof_of(tenant, consented(tenant))
    size = tenant.call("POST", "/v1/audit/checkpoints").json()["checkpoint"]["tree_size"]
    backwards = tenant.call("GET", "/v1/audit/consistency", params={"first": 3, "second": 2})
    body = is_problem(backwards, (400, 409, 422))
    assert body.get("field") == "first" or "first" in json.dumps(body.get("errors"))
    beyond = tenant.call("GET", "/v1/audit/consistency", params={"first": 1, "second": size + 1})
    body = is_problem(beyond, 409)
    assert body["field"] == "second"
    assert str(size) in body["detail"]
    negative = tenant.call("GET", "/v1/audit/consistency", params={"first": -1, "second": 1})
    is_problem(negative, (400, 422))


# -- unknown and foreign ids -----------------------------------------------------------------
def test_proofs_of_unknown_or_malformed_ids(tenant) -> None:
    unknown = tenant.call("GET", f"/v1/audit/proofs/{uuid.uuid4()}")
    body = is_problem(unknown, 404)
    assert body["type"] == "urn:grondslag:problem:not-found"
    malformed = tenant.call("GET", "/v1/audit/proofs/not-a-uuid")
    assert 400 <= malformed.status_code < 500, malformed.text
    assert malformed.headers["content-type"].startswith("application/problem+json")
