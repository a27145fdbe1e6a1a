"""R22: proofs survive an erasure — the inclusion proof of a consent recorded before it
still leads to a signed checkpoint after it, ``grondslag verify`` passes on a bundle
exported before the erasure (with the subject's key in it) and on one exported after, and
``grondslag audit check`` finds the store matching the audit log and every checkpoint."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
from erasure_support import CONTRACT, erased, establish, register_contract

from grondslag.projector.audit_check import check

from audit_support import (
    checkpoint_verifies,
    consented,
    export,
    grondslag,
    inclusion_verifies,
    proof_of,
)

REF = "client-1"


def _verified(bundle: Path) -> str:
    done = grondslag("verify", str(bundle))
    assert done.returncode == 0, done.stderr
    return done.stdout


def _audit_check(url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url}
    env.pop("NATS_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "grondslag.cli", "audit", "check"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_r22_proofs_bundles_and_the_audit_check_survive_erasure(
    tenant, database_url, tmp_path: Path
) -> None:
    given = consented(tenant)
    tenant.put_subject(REF, birth_date="2001-02-03", email="before@example.nl")
    before = export(tenant, personal_data="true")
    assert before.status_code == 200, before.text
    assert json.loads(before.content)["subject_key"]  # it can open the sealed records
    (tmp_path / "before.json").write_bytes(before.content)
    assert _verified(tmp_path / "before.json").startswith("verified:")

    answer = erased(tenant, REF)
    proof_of(tenant, answer["event_id"])  # the erasure is in the audit log
    signed = tenant.call("POST", "/v1/audit/checkpoints")
    assert signed.status_code in (200, 201), signed.text

    proof = proof_of(tenant, given)
    assert proof["tree_size"] >= signed.json()["checkpoint"]["tree_size"] > 1
    assert checkpoint_verifies(proof["checkpoint"], proof["public_key"])
    assert inclusion_verifies(
        proof["leaf_index"],
        proof["tree_size"],
        bytes.fromhex(proof["leaf_hash"]),
        [bytes.fromhex(h) for h in proof["audit_path"]],
        bytes.fromhex(proof["checkpoint"]["root_hash"]),
    )
    # the bundle exported before still verifies offline; one exported after does too, and
    # carries no key (there is none to give)
    assert _verified(tmp_path / "before.json").startswith("verified:")
    after = export(tenant, personal_data="true")
    assert after.status_code == 200, after.text
    bundle = json.loads(after.content)
    assert bundle.get("subject_key") is None
    assert len(bundle["events"]) > len(json.loads(before.content)["events"])
    (tmp_path / "after.json").write_bytes(after.content)
    assert _verified(tmp_path / "after.json").startswith("verified:")

    report = asyncio.run(_report(database_url))
    assert report.tenants[tenant.name].problem is None, report.problems
    command = _audit_check(database_url)
    assert f"{tenant.name}: ok" in command.stdout, command.stdout + command.stderr


async def _report(url: str):
    conn = await asyncpg.connect(url)
    try:
        return await check(conn)
    finally:
        await conn.close()


def test_r22_a_bundle_after_a_partial_erasure_carries_the_fresh_key_and_verifies(
    tenant, tmp_path: Path
) -> None:
    consented(tenant)
    tenant.put_subject(REF, birth_date="2001-02-03", email="kept-apart@example.nl")
    register_contract(tenant)
    establish(tenant, REF, CONTRACT)
    response = tenant.call("POST", f"/v1/subjects/{REF}/erasure", json={"recorded_by": "x"})
    assert response.status_code == 409, response.text
    proof_of(tenant, response.json()["event_id"])
    after = export(tenant, personal_data="true")
    assert after.status_code == 200, after.text
    assert json.loads(after.content)["subject_key"]  # the fresh key of what the hold keeps
    (tmp_path / "partial.json").write_bytes(after.content)
    assert _verified(tmp_path / "partial.json").startswith("verified:")
