"""``/metrics`` needs a key with the ``metrics`` role, and shows tenant-labelled series only
to keys that may see them: a tenant's own, or every tenant's to the operator's tenant."""

from __future__ import annotations

import asyncio
import re
import time

import asyncpg

from grondslag.ledger.keys import create_key

from api_support import TEST_PEPPER, assert_problem
from requests_support import days_ago, received

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def _make_key(database_url: str, tenant: str, roles: list[str]) -> str:
    async def run() -> str:
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
        try:
            return (await create_key(pool, tenant, roles, pepper=TEST_PEPPER.encode())).key
        finally:
            await pool.close()

    return asyncio.run(run())


def practice(tenant) -> None:
    tenant.register_purpose()
    tenant.put_subject("client-1")


def test_an_anonymous_scrape_is_refused(client) -> None:
    response = client.get("/metrics")
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "grondslag_" not in response.text


def test_a_key_without_the_metrics_role_is_refused(tenant) -> None:
    response = tenant.call("GET", "/metrics", key=tenant.key_with("reader", "writer", "admin"))
    assert_problem(response, 403)


def test_a_metrics_key_scrapes_prometheus_text(tenant) -> None:
    response = tenant.call("GET", "/metrics", key=tenant.key_with("metrics"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == PROMETHEUS_TEXT  # the charset once
    assert re.search(r"^grondslag_deadlines_due \d+\.0$", response.text, re.M)


def test_a_metrics_key_sees_its_own_tenant_only_and_the_operator_sees_all(
    make_tenant, database_url: str
) -> None:
    ours, theirs = make_tenant(), make_tenant()
    for tenant in (ours, theirs):
        practice(tenant)
        received(tenant, received_at=days_ago(1))
    own = ours.key_with("metrics")
    operator = _make_key(database_url, "demo", ["metrics"])  # the bootstrap tenant (default)
    deadline = time.monotonic() + 10
    while True:
        text = ours.call("GET", "/metrics", key=operator).text
        if all(f'requests_open{{tenant="{t.name}"}}' in text for t in (ours, theirs)):
            break
        assert time.monotonic() < deadline, text
        time.sleep(0.2)
    mine = ours.call("GET", "/metrics", key=own).text
    assert f'grondslag_requests_open{{tenant="{ours.name}"}} 1.0' in mine
    assert theirs.name not in mine
    assert f'grondslag_audit_unsigned_events{{tenant="{theirs.name}"}}' in text
    assert "grondslag_projection_lag_events" in mine  # series without a tenant: for every key
