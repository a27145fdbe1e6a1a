"""The auditor's GETs only read: a proof, a bundle or a latest checkpoint that no signed
checkpoint covers yet is asked of the projector's checkpointer (a NOTIFY), never signed by
the API process itself. Without a checkpointer the answer is 503 with Retry-After and no
checkpoint was written; with one, the same GET is answered by the checkpoint it signed.

The API and the checkpointer hold different keys here, so the key that signed an answer's
checkpoint says which process signed it.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from auditor_support import signed_in
from litestar.testing import TestClient

from grondslag.ledger.api.app import create_app
from grondslag.ledger.audit import signing
from grondslag.ledger.keys import create_key
from grondslag.ledger.reads import audit
from grondslag.ledger.settings import Settings
from grondslag.projector import audit_log
from grondslag.projector.checkpointer import Checkpointer
from grondslag.projector.follower import LogFollower

pytestmark = pytest.mark.integration

KEY = "gs_reads-only-read-" + secrets.token_hex(8)
REF = "client-1"
PURPOSE = "photo-in-dossier"
NOTICE = {"version": "2025-01", "url": "https://praktijk.example/privacy", "sha256": "a" * 64}
CONSENT = {
    "purpose": PURPOSE,
    "method": "written",
    "explicit": True,
    "notice_version": "2025-01",
    "evidence": {"document_ref": "intake.pdf"},
    "recorded_by": "staff:test",
}
AUTH = {"Authorization": f"Bearer {KEY}"}


async def checkpoints(pool: asyncpg.Pool, tenant: str) -> int:
    return await pool.fetchval(
        "SELECT count(*) FROM grondslag_audit_checkpoints WHERE tenant = $1", tenant
    )


def is_pending(response: Any, *, html: bool = False) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) > 0
    if html:
        assert response.headers["content-type"].startswith("text/html")
        assert "Not signed yet" in response.text
    else:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["type"] == "urn:grondslag:problem:checkpoint-pending"


async def listening(pool: asyncpg.Pool, seconds: float = 10.0) -> None:
    """Until some session of this database LISTENs for checkpoint requests (another
    worker's checkpointer listens on a database of its own)."""
    deadline = time.monotonic() + seconds
    while not await pool.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND query LIKE 'LISTEN %checkpoint_requests%'"
    ):
        assert time.monotonic() < deadline, "the checkpointer never listened"
        await asyncio.sleep(0.05)


async def test_a_get_never_signs_and_the_checkpointer_answers_it(
    own_database_url: str, pool: asyncpg.Pool, tmp_path: Path, monkeypatch: Any
) -> None:
    tenant = f"t-{secrets.token_hex(4)}"
    settings = Settings(
        database_url=own_database_url,
        nats_url=None,
        bootstrap_key=KEY,
        bootstrap_tenant=tenant,
        audit_key_file=tmp_path / "api-signing-key.pem",
        write_pool_size=2,
        read_pool_size=2,
    )
    follower = LogFollower(pool, own_database_url, audit_log.NAME, audit_log.append, raw=True)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        assert client.post("/v1/purposes", headers=AUTH, json={
            "code": PURPOSE, "title": "Foto", "basis": "consent", "notice": NOTICE,
            "effective_at": "2025-01-01T00:00:00Z",
        }).status_code == 201  # fmt: skip
        assert client.put(f"/v1/subjects/{REF}", headers=AUTH, json={}).status_code == 201
        first = client.post(f"/v1/subjects/{REF}/consents", headers=AUTH, json=CONSENT)
        assert first.status_code == 201, first.text
        await follower.setup()
        logged = await follower.catch_up()  # in the log: a proof needs a checkpoint now
        assert logged > 0

        # -- no checkpointer runs: every GET waits a moment, answers 503, writes nothing --
        monkeypatch.setattr(audit, "CHECKPOINT_WAIT_SECONDS", 0.3)
        pepper = client.app.state.key_pepper
        auditor = (await create_key(pool, tenant, ["auditor"], pepper=pepper)).key
        cookie = await asyncio.to_thread(signed_in, client, auditor)
        is_pending(client.get("/v1/audit/checkpoints/latest", headers=AUTH))
        is_pending(client.get(f"/v1/audit/proofs/{first.json()['event_id']}", headers=AUTH))
        is_pending(client.get("/v1/audit/export", headers=AUTH, params={"subject_ref": REF}))
        is_pending(client.get(f"/audit/subjects/{REF}", headers=cookie), html=True)
        assert await checkpoints(pool, tenant) == 0

        # -- the checkpointer runs (with a key of its own): it signs what is asked for --
        monkeypatch.setattr(audit, "CHECKPOINT_WAIT_SECONDS", 5.0)
        key = signing.load_or_create(tmp_path / "projector-signing-key.pem")
        api_key = signing.load_or_create(settings.signing_key_path)
        assert key.key_id != api_key.key_id
        checkpointer = Checkpointer(pool, own_database_url, key, interval=3600, heartbeat=3600)
        await checkpointer.setup()
        running = asyncio.create_task(checkpointer.run())
        try:
            await listening(pool)
            while await checkpoints(pool, tenant) == 0:  # its first round signs what grew
                await asyncio.sleep(0.05)
            second = client.post(
                f"/v1/subjects/{REF}/consents/{PURPOSE}/withdrawal",
                headers=AUTH,
                json={"method": "email", "recorded_by": "staff:test"},
            )
            assert second.status_code == 201, second.text
            logged += await follower.catch_up()  # a leaf no checkpoint covers yet
            before = await checkpoints(pool, tenant)
            proof = await asyncio.to_thread(
                client.get, f"/v1/audit/proofs/{second.json()['event_id']}", headers=AUTH
            )
            assert proof.status_code == 200, proof.text
            assert proof.json()["tree_size"] == logged
            assert proof.json()["checkpoint"]["key_id"] == key.key_id  # not the API's
            assert await checkpoints(pool, tenant) == before + 1
            # asked again, the checkpoint that covers it is read, not signed anew
            again = await asyncio.to_thread(
                client.get, "/v1/audit/checkpoints/latest", headers=AUTH
            )
            assert again.json()["checkpoint"] == proof.json()["checkpoint"]
            assert await checkpoints(pool, tenant) == before + 1
        finally:
            running.cancel()
            with pytest.raises(asyncio.CancelledError):
                await running
