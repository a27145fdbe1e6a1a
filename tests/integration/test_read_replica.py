"""Reads from a streaming replica (DATABASE_READ_URL), with read-your-writes: a write's
``Grondslag-Log-Position`` sent back as ``Grondslag-Min-Position`` is never answered from a
replica that has not replayed it; a replica that is stopped leaves every read to the
primary, without a 500, and readiness says so (still 200)."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from replica_support import Server, replay_paused, replayed, streaming_pair

from grondslag.ledger.api.app import create_app
from grondslag.ledger.settings import Settings

from api_support import CONSENT, PURPOSE, purpose_body

KEY = "replica-bootstrap-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
REF = "client-1"
STANDING = f"/v1/subjects/{REF}/standing/{PURPOSE}"
POSITION = re.compile(r"^[0-9A-F]{1,8}/[0-9A-F]{1,8}$")


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[Server, Server]]:
    folder = Path(tempfile.mkdtemp(prefix="grondslag-replica-"))
    try:
        with streaming_pair(folder) as servers:
            yield servers
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def api(pair: tuple[Server, Server]) -> Iterator[TestClient]:
    primary, replica = pair
    data = Path(tempfile.mkdtemp(prefix="grondslag-replica-data-"))
    settings = Settings(
        database_url=primary.url,
        database_read_url=replica.url,
        data_dir=data,
        bootstrap_key=KEY,
        bootstrap_tenant="demo",
        audit_key_file=data / "audit-signing-key.pem",
        write_pool_size=2,
        read_pool_size=2,
    )
    try:
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            yield client
    finally:
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="module")
def registered(api: TestClient) -> None:
    """The purpose and the subject the tests read, registered once on the module's servers
    (each test takes it: a test run on its own, or first on a worker, finds them too)."""
    written(api.post("/v1/purposes", json=purpose_body(), headers=AUTH))
    written(api.put(f"/v1/subjects/{REF}", json={"birth_date": "1990-05-01"}, headers=AUTH))


def written(response: Any) -> str:
    """The write's log position, after asserting it succeeded."""
    assert response.status_code in (200, 201), response.text
    position = response.headers["grondslag-log-position"]
    assert POSITION.match(position), position
    return str(position)


def lawful(client: TestClient, **headers: str) -> bool:
    answer = client.get(STANDING, headers=AUTH | headers)
    assert answer.status_code == 200, answer.text
    return bool(answer.json()["lawful"])


def allowed(client: TestClient, **headers: str) -> list[str]:
    body = {"purpose": PURPOSE, "subject_refs": [REF]}
    answer = client.post("/v1/checks", json=body, headers=AUTH | headers)
    assert answer.status_code == 200, answer.text
    assert "grondslag-log-position" not in answer.headers  # a question records nothing
    return list(answer.json()["allowed"])


def test_reads_come_from_the_replica_and_a_position_is_never_read_stale(
    api: TestClient, pair: tuple[Server, Server], registered: None
) -> None:
    _, replica = pair
    given = written(api.post(f"/v1/subjects/{REF}/consents", json=CONSENT, headers=AUTH))
    replayed(replica, given)
    assert api.get("/health/ready").json()["checks"]["read_replica"] == "ok"
    metrics = api.get("/metrics", headers=AUTH).text
    assert re.search(r"^grondslag_read_replica_up 1\.0$", metrics, re.M), metrics
    assert re.search(r"^grondslag_read_replica_lag_bytes \d+\.0$", metrics, re.M), metrics
    with replay_paused(replica):
        withdrawal = {"method": "email", "recorded_by": "staff:a"}
        path = f"/v1/subjects/{REF}/consents/{PURPOSE}/withdrawal"
        withdrawn = written(api.post(path, json=withdrawal, headers=AUTH))
        # without a position: the replica as it replayed (before the withdrawal) — proof
        # that it answers the reads
        assert lawful(api) is True
        assert allowed(api) == [REF]
        # with the withdrawal's position: never from the replica that has not replayed it
        assert lawful(api, **{"Grondslag-Min-Position": withdrawn}) is False
        assert allowed(api, **{"Grondslag-Min-Position": withdrawn}) == []
    # replaying again: the read waits for the replica to reach the position (or the primary)
    assert lawful(api, **{"Grondslag-Min-Position": withdrawn}) is False
    replayed(replica, withdrawn)
    assert lawful(api) is False


def test_every_read_runs_on_the_hot_standby(api: TestClient, registered: None) -> None:
    """No read writes (a hot standby refuses any write: it would be a 500 here), and none
    fell back to the primary for a replica that failed it."""
    identity = {"method": "known_in_person", "verified_by": "staff:a"}
    body = {"kind": "access", "channel": "email", "identity": identity}
    made = api.post(f"/v1/subjects/{REF}/requests", json=body, headers=AUTH)
    request_id = made.json()["request_id"]
    key_id = api.get("/v1/keys", headers=AUTH).json()["keys"][0]["key_id"]
    signed = api.post("/v1/audit/checkpoints", headers=AUTH)
    position = {"Grondslag-Min-Position": written(signed)}
    reads = [
        "/v1/purposes",
        f"/v1/purposes/{PURPOSE}",
        f"/v1/subjects/{REF}",
        f"/v1/subjects/{REF}/standing",
        STANDING,
        f"/v1/subjects/{REF}/history",
        f"/v1/subjects/{REF}/export",
        f"/v1/subjects/{REF}/access-log",
        "/v1/requests?status=all",
        f"/v1/requests/{request_id}",
        "/v1/tenant",
        "/v1/keys",
        f"/v1/keys/{key_id}",
        "/v1/audit/keys",
        "/v1/audit/checkpoints/latest",
        "/v1/audit/consistency?first=1&second=1",
        f"/v1/audit/export?subject_ref={REF}",
    ]
    for read in reads:
        answer = api.get(read, headers=AUTH | position)
        assert answer.status_code < 500, (read, answer.text)
        assert answer.status_code in (200, 404, 409), (read, answer.text)
    assert api.get("/v1/requests?status=all", headers=AUTH).json()["requests"]
    assert api.app.state.reads.failure is None  # served by the replica, none fell back


def test_a_malformed_position_is_a_400_naming_the_header(api: TestClient) -> None:
    answer = api.get(STANDING, headers=AUTH | {"Grondslag-Min-Position": "yesterday"})
    assert answer.status_code == 400, answer.text
    assert answer.json()["field"] == "Grondslag-Min-Position"


def test_with_the_replica_stopped_every_read_goes_to_the_primary(
    api: TestClient, pair: tuple[Server, Server], registered: None
) -> None:
    _, replica = pair
    replica.stop()
    given = written(api.post(f"/v1/subjects/{REF}/consents", json=CONSENT, headers=AUTH))
    assert lawful(api) is True  # the primary's answer: the replica stopped before it
    assert lawful(api, **{"Grondslag-Min-Position": given}) is True
    assert allowed(api) == [REF]
    assert api.get("/v1/purposes", headers=AUTH).status_code == 200
    ready = api.get("/health/ready")
    assert ready.status_code == 200, ready.text  # the primary answers: the service can
    assert ready.json()["status"] == "degraded"
    assert ready.json()["checks"]["read_replica"].startswith("failing: "), ready.text
    assert "reads go to the primary" in ready.json()["checks"]["read_replica"]
    metrics = api.get("/metrics", headers=AUTH).text
    assert re.search(r"^grondslag_read_replica_up 0\.0$", metrics, re.M), metrics


def test_without_a_replica_a_write_answers_no_position(tenant: Any) -> None:
    """Every read is the primary's then: the round trip for the position is saved."""
    answer = tenant.call("POST", "/v1/purposes", json=purpose_body())
    assert answer.status_code == 201, answer.text
    assert "grondslag-log-position" not in answer.headers
