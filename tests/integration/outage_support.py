"""Helpers of the tests that take PostgreSQL away under a running service: the app with its
projector on a PostgreSQL of the test's own, its bootstrap key and tenant, requests timed
so that one that hangs fails the test, and what a refusal during an outage must look like
(503 with Retry-After, quickly)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
from litestar.testing import TestClient

from grondslag.embedded import EmbeddedPostgres
from grondslag.ledger.api.app import create_app
from grondslag.ledger.domain.ids import standing_id
from grondslag.ledger.keys import create_key
from grondslag.ledger.persistence.postgres import EVENTS_TABLE
from grondslag.ledger.settings import Settings

from api_support import CONSENT, PROBLEM_JSON, PURPOSE, purpose_body

KEY = "outage-bootstrap-key"
TENANT = "demo"
AUTH = {"Authorization": f"Bearer {KEY}"}
UNAVAILABLE = "urn:grondslag:problem:database-unavailable"
CONSENT_GIVEN = "ledger.domain.standing:Standing.ConsentGiven"
ANSWER_WITHIN = 8.0  # seconds: a request during an outage answers 503 at least this fast
HANG = 60.0  # a request that has not answered after this long has hung: the test fails
RECOVER_WITHIN = 30.0

calls = ThreadPoolExecutor(max_workers=16, thread_name_prefix="outage-call")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


async def fetch(url: str, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


def timed_here(call: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """The answer and how long it took."""
    start = time.monotonic()
    return call(*args, **kwargs), time.monotonic() - start


def timed(call: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """The answer and how long it took; a call that hangs fails the test instead of it."""
    return calls.submit(timed_here, call, *args, **kwargs).result(timeout=HANG)


def assert_unavailable(response: Any, elapsed: float, *, html: bool = False) -> None:
    """503 with Retry-After, as a problem (or, on a page, as HTML), answered quickly."""
    where = f"{response.request.method} {response.request.url.path}"
    assert response.status_code == 503, f"{where}: {response.status_code} {response.text[:300]}"
    assert int(response.headers["retry-after"]) > 0, where
    media = response.headers["content-type"].split(";")[0]
    if html:
        assert media == "text/html", where
        assert "<h1>" in response.text, where
    else:
        assert media == PROBLEM_JSON, where
        body = response.json()
        assert body["type"] == UNAVAILABLE and body["status"] == 503, (where, body)
        assert body["title"] and body["detail"], body
    assert elapsed < ANSWER_WITHIN, f"{where} took {elapsed:.1f} s to answer 503"


def app_settings(pg: EmbeddedPostgres, tmp_path: Path, **overrides: Any) -> Settings:
    fields: dict[str, Any] = {
        "database_url": pg.url,
        "nats_url": None,
        "data_dir": tmp_path / "data",
        "bootstrap_key": KEY,
        "bootstrap_tenant": TENANT,
        "projection_poll_seconds": 0.2,
        "audit_key_file": tmp_path / "audit-signing-key.pem",
        "write_pool_size": 4,
        "read_pool_size": 4,
    }
    return Settings(**(fields | overrides))


@contextlib.contextmanager
def serving(settings: Settings, *, projector: bool = True) -> Iterator[TestClient]:
    """The app (with its projector, as `grondslag serve` runs it) on the test's database."""
    lifespans = []
    if projector:
        from grondslag.projector.runner import Projector

        runner = Projector(settings)

        @contextlib.asynccontextmanager
        async def run_projector(_: Any) -> Any:
            await runner.start()
            try:
                yield
            finally:
                await runner.stop()

        lifespans.append(run_projector)
    app = create_app(settings, lifespans=lifespans)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def prepare(client: TestClient, subjects: int) -> dict[str, str]:
    """A purpose, ``subjects`` subjects, one consent; returns the pages' paths."""
    assert client.post("/v1/purposes", json=purpose_body(), headers=AUTH).status_code == 201
    for n in range(subjects):
        response = client.put(
            f"/v1/subjects/s-{n}", json={"birth_date": "1980-01-01"}, headers=AUTH
        )
        assert response.status_code == 201, response.text
    assert client.post("/v1/subjects/s-0/consents", json=CONSENT, headers=AUTH).status_code == 201
    link = client.post(
        "/v1/subjects/s-0/unsubscribe-links", json={"purpose": PURPOSE}, headers=AUTH
    )
    assert link.status_code == 200, link.text
    return {"unsubscribe": "/u/" + link.json()["url"].rsplit("/u/", 1)[1]}


def wait_ready(client: TestClient, within: float = RECOVER_WITHIN) -> float:
    """Seconds until /health/ready answers 200."""
    start = time.monotonic()
    while True:
        response, _ = timed(client.get, "/health/ready")
        if response.status_code == 200:
            return time.monotonic() - start
        assert time.monotonic() - start < within, f"not ready again: {response.text}"
        time.sleep(0.2)


def consents_in_log(url: str, refs: list[str]) -> set[str]:
    """The subjects whose standing holds a recorded consent."""
    streams = {standing_id(TENANT, ref, PURPOSE): ref for ref in refs}
    rows = run(
        fetch(
            url,
            f"SELECT DISTINCT originator_id FROM {EVENTS_TABLE} "
            "WHERE originator_id = ANY($1) AND topic = $2",
            list(streams),
            CONSENT_GIVEN,
        )
    )
    return {streams[row["originator_id"]] for row in rows}


def assert_unavailable_health(response: Any, elapsed: float) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) > 0
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"].startswith("failing"), body
    assert elapsed < ANSWER_WITHIN


async def new_key(url: str, pepper: bytes, roles: tuple[str, ...] = ("reader", "writer")) -> str:
    pool = await asyncpg.create_pool(url, min_size=1, max_size=1)
    try:
        return (await create_key(pool, TENANT, list(roles), pepper=pepper)).key
    finally:
        await pool.close()
