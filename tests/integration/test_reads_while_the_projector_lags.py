"""With the projector stopped after it caught up, the writes that follow are lag: every read
that the read models serve still answers as the log has it — checks and standings fold
where a row is stale, the register and the requests list show what was just recorded, a
proof of an event not yet in the audit log is the documented 404 and an export of it the
documented 409 — and the API stays ready (200, degraded, naming the projection behind),
since it can answer."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from litestar.testing import TestClient

from grondslag.ledger.api.app import create_app
from grondslag.ledger.persistence.postgres import EVENTS_TABLE
from grondslag.ledger.settings import Settings
from grondslag.projector.runner import Projector

from api_support import CONSENT, PURPOSE, purpose_body
from requests_support import days_ago, request_body

KEY = "lagging-bootstrap-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
WATCHED = ("current_standing", "audit_log", "subject_requests")


@pytest.fixture
def settings(new_database: Callable[[str], Any], tmp_path: Path) -> Iterator[Settings]:
    with new_database("lagging") as url:
        yield Settings(
            database_url=url,
            data_dir=tmp_path / "data",
            bootstrap_key=KEY,
            projection_poll_seconds=0.1,
            ready_max_lag_seconds=0.0,  # any event not yet handled is "behind"
            audit_key_file=tmp_path / "audit-signing-key.pem",
            write_pool_size=2,
            read_pool_size=2,
        )


async def project_until_caught_up(settings: Settings, within: float = 20.0) -> None:
    """Run the projector until every projection the reads use is at the log's head (and a
    checkpoint covers the audit log), then stop it: what is written next is lag."""
    projector = Projector(replace(settings, checkpoint_seconds=0.1))
    await projector.start()
    conn = await asyncpg.connect(settings.database_url)
    try:
        deadline = time.monotonic() + within
        while not await conn.fetchval(
            f"SELECT count(DISTINCT projection) = {len(WATCHED)} AND bool_and(position >= "
            f"(SELECT max(notification_id) FROM {EVENTS_TABLE})) FROM grondslag_tracking "
            "WHERE projection = ANY($1::text[])",
            list(WATCHED),
        ) or not await conn.fetchval("SELECT count(*) FROM grondslag_audit_checkpoints"):
            assert time.monotonic() < deadline, "the projector did not catch up"
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
        await projector.stop()


def ok(response: Any) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


def test_every_read_answers_from_the_log_while_the_projector_lags(settings: Settings) -> None:
    with TestClient(create_app(settings), raise_server_exceptions=False) as api:
        ok(api.post("/v1/purposes", json=purpose_body(), headers=AUTH))
        for ref in ("client-1", "client-2"):
            ok(api.put(f"/v1/subjects/{ref}", json={"birth_date": "1990-05-01"}, headers=AUTH))
            ok(api.post(f"/v1/subjects/{ref}/consents", json=CONSENT, headers=AUTH))
        path = "/v1/subjects/client-1/requests"
        first = ok(api.post(path, json=request_body(received_at=days_ago(3)), headers=AUTH))
        asyncio.run(project_until_caught_up(settings))

        # the projector is away: everything below is lag
        withdrawal = {"method": "email", "recorded_by": "staff:a"}
        withdrawn = ok(
            api.post(
                f"/v1/subjects/client-1/consents/{PURPOSE}/withdrawal",
                json=withdrawal,
                headers=AUTH,
            )
        )
        ok(api.post("/v1/purposes", json=purpose_body("newsletter"), headers=AUTH))
        path = "/v1/subjects/client-2/requests"
        second = ok(api.post(path, json=request_body(received_at=days_ago(10)), headers=AUTH))
        answer = {"outcome": "fulfilled", "reasons": "sent"}
        ok(api.post(f"/v1/requests/{first['request_id']}/answer", json=answer, headers=AUTH))

        # checks: client-1's row in the read model says lawful, the log says withdrawn
        body = {"purpose": PURPOSE, "subject_refs": ["client-1", "client-2"]}
        check = ok(api.post("/v1/checks", json=body, headers=AUTH))
        assert check["allowed"] == ["client-2"]
        assert [d["subject_ref"] for d in check["denied"]] == ["client-1"]
        standing = ok(api.get(f"/v1/subjects/client-1/standing/{PURPOSE}", headers=AUTH))
        assert standing["lawful"] is False
        # the register: the purpose just registered
        codes = [p["code"] for p in ok(api.get("/v1/purposes", headers=AUTH))["purposes"]]
        assert codes == ["newsletter", PURPOSE]
        # requests: the index lists the first as open and lacks the second; the log decides
        listed = ok(api.get("/v1/requests", headers=AUTH))["requests"]
        assert [r["request_id"] for r in listed] == [second["request_id"]]
        every = ok(api.get("/v1/requests", params={"status": "all"}, headers=AUTH))
        by_due_date = [second["request_id"], first["request_id"]]  # received 10, 3 days ago
        assert [r["request_id"] for r in every["requests"]] == by_due_date
        page = ok(api.get("/v1/requests", params={"status": "all", "limit": 1}, headers=AUTH))
        assert [r["request_id"] for r in page["requests"]] == by_due_date[:1]
        following = {"status": "all", "limit": 1, "cursor": page["next"]}
        page = ok(api.get("/v1/requests", params=following, headers=AUTH))
        assert [r["request_id"] for r in page["requests"]] == by_due_date[1:]
        assert page["next"] is None
        # the audit log trails: a proof of what it lacks is not found yet, an export of it a
        # 409 not-yet-logged (both documented: ask again)
        proof = api.get(f"/v1/audit/proofs/{withdrawn['event_id']}", headers=AUTH)
        assert proof.status_code == 404, proof.text
        assert "logged within seconds" in proof.json()["detail"]
        export = api.get("/v1/audit/export", params={"subject_ref": "client-1"}, headers=AUTH)
        assert export.status_code == 409, export.text
        assert export.json()["type"] == "urn:grondslag:problem:not-yet-logged"
        assert int(export.headers["retry-after"]) > 0
        # ready all the same (it can answer), reporting how far the projections trail
        ready = api.get("/health/ready")
        assert ready.status_code == 200, ready.text
        assert ready.json()["status"] == "degraded"
        checks = ready.json()["checks"]
        assert checks["database"] == "ok"
        for projection in ("current_standing", "audit_log"):
            assert checks[f"projection:{projection}"].startswith("behind by "), checks
        metrics = api.get("/metrics", headers=AUTH).text
        assert re.search(r'lag_events\{projection="current_standing"\} [1-9]', metrics)
