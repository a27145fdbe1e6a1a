"""The API on real PostgreSQL, driven through litestar's test client, one tenant per test."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import parallel_workers
import pytest
from contract_support import Traffic, recording
from litestar.testing import TestClient

from grondslag.ledger.api.app import create_app
from grondslag.ledger.keys import ROLES, create_key
from grondslag.ledger.settings import Settings

from api_support import PURPOSE, REF, TEST_PEPPER, consent_body, purpose_body


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A module with ``RUNS_LAST = True`` (the check of every answer against the OpenAPI
    document) runs after every other test, so that it sees every answer they got."""
    last = [item for item in items if getattr(getattr(item, "module", None), "RUNS_LAST", False)]
    items[:] = [item for item in items if item not in last] + last


@pytest.fixture(scope="session", autouse=True)
def traffic(pytestconfig: pytest.Config) -> Iterator[Traffic]:
    """Every answer of every app in the session (``contract_support``); a parallel worker
    leaves its answers for the controller, which checks those of every worker."""
    with recording() as seen:
        yield seen
    parallel_workers.leave(pytestconfig, "traffic", seen.kinds())


@pytest.fixture
def private_dir() -> Iterator[Path]:
    """A folder of this test's own outside pytest's numbered temporary folders, which a
    concurrent pytest run on the same machine may rotate away under a long test (a server
    that is stopped and started again must find its data folder)."""
    path = Path(tempfile.mkdtemp(prefix="grondslag-test-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def settings(database_url: str, audit_key_file: Path) -> Settings:
    return Settings(
        database_url=database_url,
        nats_url=None,
        projection_poll_seconds=0.2,
        audit_key_file=audit_key_file,
        key_pepper=TEST_PEPPER,  # the same in every app of the session (other_app, ...)
        # small pools: the suite keeps to a connection budget (tests/conftest.py, README)
        write_pool_size=2,
        read_pool_size=2,
    )


@pytest.fixture(scope="session")
def client(settings: Settings) -> Iterator[TestClient]:
    """One running app (with its projector) for the session."""
    from grondslag.projector.runner import Projector

    projector = Projector(settings)

    async def run_projector(_: Any) -> Any:
        await projector.start()
        try:
            yield
        finally:
            await projector.stop()

    import contextlib

    app = create_app(settings, lifespans=[contextlib.asynccontextmanager(run_projector)])
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _make_key(database_url: str, pepper: bytes, tenant: str, roles: list[str]) -> str:
    async def run() -> str:
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
        try:
            return (await create_key(pool, tenant, roles, pepper=pepper)).key
        finally:
            await pool.close()

    return asyncio.run(run())


class Tenant:
    """A fresh tenant with a key per role set; ``call`` sends authenticated requests."""

    def __init__(self, client: TestClient, database_url: str):
        self.client, self.database_url = client, database_url
        self.name = f"t-{secrets.token_hex(4)}"
        self.pepper: bytes = client.app.state.key_pepper
        self.key = _make_key(database_url, self.pepper, self.name, list(ROLES))

    def key_with(self, *roles: str) -> str:
        return _make_key(self.database_url, self.pepper, self.name, list(roles))

    def call(self, method: str, path: str, *, key: str | None = None, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {key or self.key}", **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)

    def register_purpose(self, code: str = PURPOSE, **fields: Any) -> Any:
        response = self.call("POST", "/v1/purposes", json=purpose_body(code, **fields))
        assert response.status_code == 201, response.text
        return response.json()

    def put_subject(self, ref: str = REF, **fields: Any) -> Any:
        response = self.call("PUT", f"/v1/subjects/{ref}", json=fields)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def consent(self, ref: str = REF, purpose: str = PURPOSE, **fields: Any) -> Any:
        return self.call(
            "POST", f"/v1/subjects/{ref}/consents", json=consent_body(purpose, **fields)
        )


@pytest.fixture
def tenant(client: TestClient, database_url: str) -> Tenant:
    return Tenant(client, database_url)


@pytest.fixture
def ready(tenant: Tenant) -> Tenant:
    """A tenant with one consent purpose and one subject (``client-1``), nothing recorded yet."""
    tenant.register_purpose()
    tenant.put_subject(REF, birth_date="1990-05-01")
    return tenant


@pytest.fixture
def make_tenant(client: TestClient, database_url: str) -> Callable[[], Tenant]:
    return lambda: Tenant(client, database_url)


# -- for tests that run projector parts themselves: a database of the module's own, so the
# session's in-process projector (of `client`) cannot take their work -----------------------
@pytest.fixture(scope="module")
def own_database_url(new_database: Callable[[str], Any]) -> Iterator[str]:
    with new_database("grondslag_module") as url:
        yield url


@pytest.fixture(scope="module")
def ledger(own_database_url: str) -> Iterator[Any]:
    from grondslag.ledger.bootstrap import build_ledger

    ledger = build_ledger(Settings(database_url=own_database_url), 4)
    yield ledger
    ledger.close()


@pytest.fixture(scope="module")
async def pool(own_database_url: str, ledger: Any) -> Any:
    from grondslag.ledger.reads.pool import create_read_pool
    from grondslag.projector import current_standing
    from grondslag.projector.follower import TRACKING_DDL

    pool = await create_read_pool(own_database_url, min_size=1, max_size=6)
    await current_standing.create_tables(pool)
    await pool.execute(TRACKING_DDL)
    yield pool
    await pool.close()


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[Any]:
    """The session's NATS (JetStream), with the relay's stream in place."""
    from grondslag.projector import relay

    nc = await relay.connect(nats_url)
    js = nc.jetstream()
    await relay.ensure_stream(js)
    yield js
    await nc.drain()


@pytest.fixture
async def store(new_database: Callable[[str], Any], tmp_path: Path) -> Any:
    """A database of this test's own, with the ledger's tables (the quarantine tests)."""
    from grondslag.ledger.bootstrap import build_ledger

    from projector_support import Store

    with new_database("grondslag_quarantine") as url:
        ledger = await asyncio.to_thread(build_ledger, Settings(database_url=url), 4)
        try:
            yield Store(url, ledger, tmp_path / "audit-signing-key.pem")
        finally:
            ledger.close()


@pytest.fixture
async def store_pool(store: Any) -> Any:
    """A read pool on the ``store``'s database, with the read model's tables."""
    from grondslag.ledger.reads.pool import create_read_pool
    from grondslag.projector import current_standing

    pool = await create_read_pool(store.url, min_size=1, max_size=4)
    await current_standing.create_tables(pool)
    yield pool
    await pool.close()
