"""Operations: /metrics in Prometheus text, /health/ready reporting a projection behind (and
staying ready: the answers fold from the log where a read model trails)."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import asyncpg
from litestar.testing import TestClient

from grondslag.ledger.api.app import create_app
from grondslag.ledger.settings import Settings

from api_support import TEST_PEPPER


def test_health_answers_head_as_get_does_without_a_body(client) -> None:
    """Monitors that ask with HEAD (uptime checkers, some load balancers) get GET's status."""
    for path in ("/health/live", "/health/ready"):
        head = client.head(path)
        assert head.status_code == client.get(path).status_code == 200, path
        assert head.content == b"", path


def test_metrics_expose_lag_backlog_deadlines_and_failures(client, tenant) -> None:
    tenant.register_purpose()
    response = tenant.call("GET", "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    for name in (
        "grondslag_projection_lag_events",
        "grondslag_projection_lag_seconds",
        "grondslag_batch_failures_total",
        "grondslag_deadlines_due",
    ):
        assert f"# TYPE {name}" in text
    assert re.search(
        r'grondslag_projection_lag_events\{projection="current_standing"\} \d+\.0$', text, re.M
    )
    assert re.search(r"^grondslag_deadlines_due \d+\.0$", text, re.M)


def test_ready_reports_the_relay_behind_and_stays_ready(
    database_url: str, tenant, audit_key_file: Path
) -> None:
    tenant.register_purpose()  # the log holds at least one event the relay has not sent

    async def execute(sql: str) -> int | None:
        conn = await asyncpg.connect(database_url)
        try:
            return await conn.fetchval(sql)
        finally:
            await conn.close()

    # an API configured with NATS watches the relay (the session's projector runs without one)
    settings = Settings(
        database_url=database_url,
        nats_url="nats://127.0.0.1:1",
        ready_max_lag_seconds=0.0,
        audit_key_file=audit_key_file,
        key_pepper=TEST_PEPPER,
        write_pool_size=1,
        read_pool_size=1,
    )
    with TestClient(create_app(settings)) as strict:
        # another test may have left a relay's row: put it back as it was afterwards
        before = asyncio.run(
            execute("SELECT min(position) FROM grondslag_tracking WHERE projection = 'nats_relay'")
        )
        asyncio.run(
            execute(
                "INSERT INTO grondslag_tracking (projection, position) VALUES ('nats_relay', 0) "
                "ON CONFLICT (projection, partition) DO UPDATE SET position = 0"
            )
        )
        try:
            answer = strict.get("/health/ready")
            assert answer.status_code == 200, answer.text  # a projector's trouble, not the API's
            assert answer.json()["status"] == "degraded"
            assert answer.json()["checks"]["projection:nats_relay"].startswith("behind by")
            assert answer.json()["checks"]["database"] == "ok"
            metrics = strict.get("/metrics", headers={"Authorization": f"Bearer {tenant.key}"}).text
            assert re.search(r'lag_events\{projection="nats_relay"\} [1-9]\d*', metrics)
            assert re.search(r"^grondslag_relay_backlog [1-9]\d*\.0$", metrics, re.M)
        finally:
            restore = (
                f"UPDATE grondslag_tracking SET position = {int(before)} "
                if before is not None
                else "DELETE FROM grondslag_tracking "
            )
            asyncio.run(execute(restore + "WHERE projection = 'nats_relay'"))
        if before is None:  # (the session's projector may still catch up: assert the relay)
            assert "projection:nats_relay" not in strict.get("/health/ready").json()["checks"]


def test_metrics_count_events_no_checkpoint_covers_yet(client, tenant) -> None:
    """Logged but unsigned events show until a checkpoint is signed (then they drop by as
    many); the audit log is a projection like the others."""

    def unsigned() -> int:
        text = tenant.call("GET", "/metrics").text
        line = rf'^grondslag_audit_unsigned_events\{{tenant="{tenant.name}"\}} (\d+)\.0$'
        match = re.search(line, text, re.M)
        assert "# TYPE grondslag_audit_unsigned_events gauge" in text
        assert re.search(r"^grondslag_audit_unpublished_checkpoints \d+\.0$", text, re.M)
        assert re.search(r'grondslag_projection_lag_events\{projection="audit_log"\} \d+', text)
        return int(match.group(1)) if match else 0  # no line before its first logged event

    tenant.register_purpose()
    tenant.put_subject("client-1")
    deadline = time.monotonic() + 10
    while unsigned() < 2:  # logged, not signed yet (the projector signs every 60 s here)
        assert time.monotonic() < deadline
        time.sleep(0.1)
    before = unsigned()
    signed = tenant.call("POST", "/v1/audit/checkpoints")
    assert signed.status_code == 201, signed.text
    assert unsigned() <= before - 2
