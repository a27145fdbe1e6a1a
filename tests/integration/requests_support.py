"""Helpers of the data-subject request tests (R23): request bodies and the reads."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from grondslag.ledger.domain.subject_request import request_stream_id

REQUESTS = "/v1/requests"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def days_ago(days: float) -> str:
    return iso(datetime.now(UTC) - timedelta(days=days))


def request_body(**fields: Any) -> dict[str, Any]:
    """An access request by e-mail from the subject, identity known in person."""
    return {
        "kind": "access",
        "channel": "email",
        "identity": {"method": "known_in_person", "verified_by": "staff:jdevries"},
        **fields,
    }


def receive(tenant: Any, ref: str = "client-1", **fields: Any) -> Any:
    return tenant.call("POST", f"/v1/subjects/{ref}/requests", json=request_body(**fields))


def received(tenant: Any, ref: str = "client-1", **fields: Any) -> dict[str, Any]:
    response = receive(tenant, ref, **fields)
    assert response.status_code == 201, response.text
    return response.json()


def act(tenant: Any, request_id: str, action: str, **body: Any) -> Any:
    return tenant.call("POST", f"{REQUESTS}/{request_id}/{action}", json=body)


def shown(tenant: Any, request_id: str) -> dict[str, Any]:
    response = tenant.call("GET", f"{REQUESTS}/{request_id}")
    assert response.status_code == 200, response.text
    return response.json()


def listed(tenant: Any, **params: Any) -> dict[str, Any]:
    response = tenant.call("GET", REQUESTS, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def wait_until_listed(tenant: Any, count: int) -> None:
    """The projector's index holds ``count`` of the tenant's requests, each at its stream's
    version (the list shows requests before that, folded from the log: this waits for the
    index itself — a row still "open" for an answered request fills a page with one
    request fewer, which the page's fold then leaves out)."""
    deadline = time.monotonic() + 10
    while asyncio.run(_indexed(tenant.database_url, tenant.name)) < count:
        assert time.monotonic() < deadline, "the request index did not catch up"
        time.sleep(0.05)


async def _indexed(url: str, tenant: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT request_id, stream_version FROM grondslag_subject_requests WHERE tenant = $1",
            tenant,
        )
        current = {request_stream_id(tenant, r["request_id"]): r["stream_version"] for r in rows}
        versions = await conn.fetch(
            "SELECT originator_id, max(originator_version) AS version FROM grondslag_events "
            "WHERE originator_id = ANY($1::uuid[]) GROUP BY originator_id",
            list(current),
        )
        return sum(1 for v in versions if current[v["originator_id"]] == v["version"])
    finally:
        await conn.close()


def without_moment(answer: dict[str, Any]) -> dict[str, Any]:
    """An answer without ``at``, the moment it was folded at."""
    return {k: v for k, v in answer.items() if k != "at"}
