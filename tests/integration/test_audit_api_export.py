"""Export bundles of the auditor's API on real PostgreSQL: only for auditors and admins, holding
the subject's, standings' and purposes' events and verifying (also independently), filtered
by purpose and by period, answering "not yet logged" while the log lags, and refusing bad
queries.

Events reach the audit log through the session's in-process projector, so every test polls
(never sleeps a fixed time) until the log holds what it wrote.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg

from grondslag.ledger.audit.bundle import verify as verify_bundle

from audit_support import (
    NOT_YET_LOGGED,
    OTHER,
    PURPOSE,
    REF,
    checkpoint_verifies,
    consented,
    events_in_store,
    export,
    inclusion_verifies,
    is_problem,
    proof_of,
    rfc_leaf,
)


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
