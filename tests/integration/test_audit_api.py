"""The auditor's API on real PostgreSQL: signed checkpoints, inclusion and consistency
proofs and export bundles, each checked with a verifier written out below (RFC 9162 and
the checkpoint body of ``ledger/audit/checkpoints.py``) that shares no code with the
ledger, plus the offline ``grondslag verify`` command run as a subprocess.

Events reach the audit log through the session's in-process projector, so every test polls
(never sleeps a fixed time) until the log holds what it wrote.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from grondslag.ledger.audit import merkle
from grondslag.ledger.audit.bundle import verify as verify_bundle

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


# -- export ----------------------------------------------------------------------------------
def test_export_is_for_auditors_and_admins_only(tenant) -> None:
    consented(tenant)
    for role in ("writer", "reader"):
        refused = tenant.call(
            "GET", "/v1/audit/export", key=tenant.key_with(role), params={"subject_ref": REF}
        )
        is_problem(refused, 403)
    for role in ("auditor", "admin"):
        allowed = export(tenant, key=tenant.key_with(role))
        assert allowed.status_code == 200, allowed.text
        disposition = allowed.headers["content-disposition"]
        assert disposition.startswith("attachment")
        assert f"{tenant.name}-{REF}" in disposition
    # a reader may see checkpoints and proofs, a writer may not
    reader, writer = tenant.key_with("reader"), tenant.key_with("writer")
    assert tenant.call("GET", "/v1/audit/checkpoints/latest", key=reader).status_code == 200
    is_problem(tenant.call("GET", "/v1/audit/checkpoints/latest", key=writer), 403)
    is_problem(tenant.call("POST", "/v1/audit/checkpoints", key=reader), 403)


def test_export_bundle_holds_subject_standing_and_purpose_and_verifies(
    tenant, database_url: str
) -> None:
    consented(tenant)
    tenant.register_purpose(OTHER)
    assert tenant.consent(REF, OTHER).status_code == 201
    response = export(tenant)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    data = response.content
    verified = verify_bundle(data)
    bundle = json.loads(data)
    assert verified.events == len(bundle["events"])
    assert bundle["tenant"] == tenant.name
    assert bundle["query"]["subject_ref"] == REF
    kinds = {(e["stream"], e["purpose"], e["type"]) for e in bundle["events"]}
    assert ("subject", None, "Subject.Registered") in kinds
    for code in (PURPOSE, OTHER):
        assert ("purpose", code, "Purpose.Registered") in kinds
        assert ("standing", code, "Standing.ConsentGiven") in kinds
    # nothing else of the tenant but this subject's streams: all of them
    assert len(bundle["events"]) == events_in_store(database_url, tenant.name)
    # independently: every event's proof leads to the bundle's signed checkpoint
    checkpoint = bundle["checkpoint"]
    assert checkpoint_verifies(checkpoint, bundle["public_key"])
    for event in bundle["events"]:
        leaf = rfc_leaf(event["canonical"].encode())
        assert event["leaf_hash"] == leaf.hex()
        assert inclusion_verifies(
            event["leaf_index"],
            checkpoint["tree_size"],
            leaf,
            [bytes.fromhex(h) for h in event["audit_path"]],
            bytes.fromhex(checkpoint["root_hash"]),
        )


def test_export_filters_by_purpose_and_by_period(tenant) -> None:
    tenant.put_subject("client-2")  # another subject's events never appear
    consented(tenant)
    tenant.register_purpose(OTHER)
    assert tenant.consent("client-2", OTHER).status_code == 201
    assert tenant.consent(REF, OTHER).status_code == 201
    full = json.loads(export(tenant).content)
    standings = [e for e in full["events"] if e["stream"] == "standing"]
    assert {e["purpose"] for e in standings} == {PURPOSE, OTHER}

    only = export(tenant, purpose=OTHER)
    assert only.status_code == 200, only.text
    verify_bundle(only.content)
    events = json.loads(only.content)["events"]
    assert {e["purpose"] for e in events if e["stream"] != "subject"} == {OTHER}
    assert {e["stream"] for e in events} == {"subject", "purpose", "standing"}
    assert not any(e["purpose"] == PURPOSE for e in events)

    # the standing events of the first purpose all precede those of the second
    first = [e["recorded_at"] for e in standings if e["purpose"] == PURPOSE]
    second = [e["recorded_at"] for e in standings if e["purpose"] == OTHER]
    assert max(first) < min(second)
    since = export(tenant, **{"from": min(second)})
    assert since.status_code == 200, since.text
    verify_bundle(since.content)
    since_events = json.loads(since.content)["events"]
    assert {e["purpose"] for e in since_events if e["stream"] == "standing"} == {OTHER}
    assert sorted(e["recorded_at"] for e in since_events if e["stream"] == "standing") == sorted(
        second
    )
    # the subject and purpose streams are not filtered by the period
    assert any(e["stream"] == "subject" for e in since_events)
    until = export(tenant, to=max(first))
    assert until.status_code == 200, until.text
    verify_bundle(until.content)
    until_events = json.loads(until.content)["events"]
    assert {e["purpose"] for e in until_events if e["stream"] == "standing"} == {PURPOSE}
    assert json.loads(until.content)["query"]["recorded_to"] is not None


def test_export_and_proof_answer_not_yet_logged_while_the_log_lags(
    tenant, database_url: str
) -> None:
    """The audit log is held back by locking the tenant's tree row (the projector waits on
    it), so "not logged yet" is certain rather than a race with the projector."""
    proof_of(tenant, consented(tenant))
    auditor = tenant.key_with("auditor")
    with psycopg.connect(database_url) as lock:
        lock.execute(
            "SELECT size FROM grondslag_audit_trees WHERE tenant = %s FOR UPDATE", (tenant.name,)
        )
        tenant.register_purpose(OTHER)
        pending = tenant.consent(REF, OTHER)
        assert pending.status_code == 201, pending.text
        lagging = tenant.call("GET", "/v1/audit/export", key=auditor, params={"subject_ref": REF})
        body = is_problem(lagging, 409)
        assert body["type"] == NOT_YET_LOGGED
        assert lagging.headers["retry-after"] == "1"
        missing = tenant.call("GET", f"/v1/audit/proofs/{pending.json()['event_id']}")
        is_problem(missing, 404)
        lock.rollback()
    assert export(tenant, key=auditor).status_code == 200
    assert proof_of(tenant, pending.json()["event_id"])["leaf_index"] >= 0


def test_export_refuses_bad_queries(tenant) -> None:
    consented(tenant)
    auditor = tenant.key_with("auditor")

    def ask(**params: str) -> Any:
        return tenant.call(
            "GET", "/v1/audit/export", key=auditor, params={"subject_ref": REF, **params}
        )

    body = is_problem(ask(**{"from": "2025-06-01T00:00:00Z", "to": "2025-01-01T00:00:00Z"}), 422)
    assert body["field"] == "from"
    body = is_problem(ask(**{"from": "2025-06-01T00:00:00"}), 422)
    assert "from" in json.dumps(body)
    body = is_problem(ask(to="2025-06-01T00:00:00"), 422)
    assert "to" in json.dumps(body)
    unknown = tenant.call(
        "GET", "/v1/audit/export", key=auditor, params={"subject_ref": "nobody-here"}
    )
    body = is_problem(unknown, 404)
    assert "nobody-here" in body["detail"]
    is_problem(ask(purpose="never-registered"), 404)


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


# -- grondslag verify, as an auditor runs it ---------------------------------------------------
def test_grondslag_verify_command(tenant, tmp_path: Path) -> None:
    consented(tenant)
    response = export(tenant)
    assert response.status_code == 200, response.text
    bundle = tmp_path / "bundle.json"
    bundle.write_bytes(response.content)
    events = len(json.loads(response.content)["events"])

    ok = grondslag("verify", str(bundle))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith(f"verified: {events} events")
    assert hashlib.sha256(response.content).hexdigest() in ok.stdout

    published = latest(tenant)
    pinned = grondslag("verify", str(bundle), "--key", published["public_key"])
    assert pinned.returncode == 0, pinned.stderr
    assert pinned.stdout.startswith(f"verified: {events} events")
    pem_file = tmp_path / "published.pem"
    pem_file.write_text(published["public_key_pem"])
    assert grondslag("verify", str(bundle), "--key", str(pem_file)).returncode == 0

    other = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    wrong = grondslag("verify", str(bundle), "--key", base64.b64encode(other).decode())
    assert wrong.returncode != 0
    assert wrong.stderr.startswith("NOT verified:")
    assert "pinned key" in wrong.stderr
    assert hashlib.sha256(other).hexdigest()[:16] in wrong.stderr

    # one character changed: the evidence's document name in a canonical event
    text = response.content.decode()
    assert text.count("intake-17.pdf") == 1
    tampered = tmp_path / "tampered.json"
    tampered.write_text(text.replace("intake-17.pdf", "intake-18.pdf"))
    changed = grondslag("verify", str(tampered))
    assert changed.returncode != 0
    assert changed.stderr.startswith("NOT verified:"), changed.stderr
    assert changed.stdout == ""


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda t: t.replace('"exported_at": "2', '"exported_at": "3', 1), id="time"),
        pytest.param(lambda t: t.replace('"leaf_index": 0', '"leaf_index": 1', 1), id="index"),
        pytest.param(lambda t: t.replace("  ", " \t", 1), id="whitespace"),
    ],
)
def test_grondslag_verify_refuses_any_one_character_changed(tenant, tmp_path: Path, edit) -> None:
    consented(tenant)
    response = export(tenant)
    assert response.status_code == 200, response.text
    text = response.content.decode()
    changed = edit(text)
    assert len(changed) == len(text)
    assert sum(a != b for a, b in zip(changed, text, strict=True)) == 1
    tampered = tmp_path / "tampered.json"
    tampered.write_text(changed)
    result = grondslag("verify", str(tampered))
    assert result.returncode != 0
    assert result.stderr.startswith("NOT verified:"), result.stderr
