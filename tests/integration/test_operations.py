"""Operations: /metrics in Prometheus text, /health/ready turning unready when behind."""

from __future__ import annotations

import asyncio
import re

import asyncpg
import pytest
from ledger.api.app import create_app
from ledger.settings import Settings
from litestar.testing import TestClient

pytestmark = pytest.mark.integration


def test_metrics_expose_lag_backlog_deadlines_and_failures(client, tenant) -> None:
    tenant.register_purpose()
    response = client.get("/metrics")
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
    assert re.search(r'grondslag_projection_lag_events\{projection="current_standing"\} \d+', text)
    assert re.search(r"^grondslag_deadlines_due \d+$", text, re.M)


def test_ready_turns_unready_when_a_projection_is_behind(database_url: str, tenant) -> None:
    tenant.register_purpose()  # the log holds at least one event the stalled row has not seen

    async def tracking(sql: str) -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    settings = Settings(database_url=database_url, ready_max_lag_seconds=0.0)
    with TestClient(create_app(settings)) as strict:
        asyncio.run(
            tracking(
                "INSERT INTO grondslag_tracking (projection, position) VALUES ('stalled-test', 0) "
                "ON CONFLICT (projection) DO UPDATE SET position = 0"
            )
        )
        try:
            answer = strict.get("/health/ready")
            assert answer.status_code == 503
            assert answer.json()["checks"]["projection:stalled-test"].startswith("behind by")
            metrics = strict.get("/metrics").text
            assert re.search(r'lag_events\{projection="stalled-test"\} [1-9]\d*', metrics)
        finally:
            asyncio.run(
                tracking("DELETE FROM grondslag_tracking WHERE projection = 'stalled-test'")
            )
        final = strict.get("/health/ready")
        assert "projection:stalled-test" not in final.json()["checks"], final.json()
