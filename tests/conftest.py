"""Shared fixtures: real PostgreSQL and NATS servers, never mocks.

PostgreSQL on 127.0.0.1:5432 and NATS on 127.0.0.1:4222 are used when they answer (a fresh
database per test session) and PostgreSQL has the suite's connections free
(``connection_budget``); otherwise the embedded servers start under a temporary folder, so
a fresh machine needs nothing but Python.
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import contract_support
import parallel_workers
import psycopg
import pytest
from connection_budget import enough_slots
from parallel_workers import pytest_xdist_auto_num_workers  # noqa: F401 (a hook)

LOCAL_PG = ("127.0.0.1", 5432)
LOCAL_NATS = ("127.0.0.1", 4222)

# One keyring of key-encryption keys for every process of the session: the apps built here
# (``Settings()``'s default data folder) and the servers and projectors tests start as
# processes of their own with other data folders all read the keys the others wrapped
# (README, Security). A test that wants its own keyring names its own file.
os.environ.setdefault("GRONDSLAG_MASTER_KEY_FILE", str(Path(".grondslag/master-keys").resolve()))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test is marked by its folder — ``unit``, ``integration`` or ``e2e`` — so that
    ``pytest -m unit`` runs the domain's tests alone and ``-m "not e2e"`` leaves out the
    ones that start ``grondslag serve``."""
    for item in items:
        folder = item.path.parent.name
        if folder in ("unit", "integration", "e2e"):
            item.add_marker(folder)


def _answers(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=0.5):
            return True
    except OSError:
        return False


def _local_postgres() -> str | None:
    """The admin URL of the PostgreSQL the tests would use, if one answers."""
    env_pg = os.environ.get("TEST_DATABASE_ADMIN_URL")
    return env_pg or (
        "postgresql://postgres@127.0.0.1:5432/postgres" if _answers(LOCAL_PG) else None
    )


# -- parallel workers (parallel_workers): what the controller hands each, what each leaves --
def pytest_configure(config: pytest.Config) -> None:
    parallel_workers.configure_run(config)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    parallel_workers.configure_node(
        node, _local_postgres, lambda message: warnings.warn(message, stacklevel=1)
    )


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    contract_support.judge_the_run(session)  # in the controller, every worker done


@pytest.fixture(scope="session")
def embedded_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embedded")


@pytest.fixture(scope="session")
def server_urls(embedded_dir: Path, pytestconfig: pytest.Config) -> Iterator[dict[str, str]]:
    """``postgres`` (an admin URL) and ``nats`` for the whole session (of this worker)."""
    from grondslag.embedded import embedded_servers

    local_pg = _local_postgres()
    given = parallel_workers.local_postgres_decided(pytestconfig)
    if given is False:
        local_pg = None  # the controller left the local server to the other workers
    elif given is None and local_pg and not enough_slots(local_pg):
        local_pg = None  # a server too busy for the suite: an embedded one of its own
    local_nats = "nats://127.0.0.1:4222" if _answers(LOCAL_NATS) else None
    if local_pg and local_nats:
        yield {"postgres": local_pg, "nats": local_nats}
        return
    with embedded_servers(embedded_dir, postgres=local_pg is None, nats=local_nats is None) as urls:
        admin = local_pg or (urls.database_url or "").rsplit("/", 1)[0] + "/postgres"
        yield {"postgres": admin, "nats": local_nats or urls.nats_url or ""}


@contextlib.contextmanager
def fresh_database(admin: str, prefix: str) -> Iterator[str]:
    """A new database on the admin URL's server, dropped afterwards.

    Its commits do not wait for the disk (``synchronous_commit = off``): a commit is visible
    at once all the same, and these servers are never crashed under a test (a test that
    stops PostgreSQL starts its own), so nothing a test can see changes, while the suite no
    longer waits on the shared server's disk flushes, whose latency varied its run by
    minutes."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
        conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    try:
        yield admin.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def new_database(server_urls: dict[str, str]) -> Callable[[str], AbstractContextManager[str]]:
    """``with new_database("prefix") as url:`` — a database of a module's own."""
    return lambda prefix: fresh_database(server_urls["postgres"], prefix)


@pytest.fixture(scope="session")
def database_url(server_urls: dict[str, str]) -> Iterator[str]:
    """A fresh database for this test session, dropped afterwards."""
    with fresh_database(server_urls["postgres"], "grondslag_test") as url:
        yield url


@pytest.fixture(autouse=True)
def _no_quarantine_left(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that used the session's database leaves nothing quarantined in it: the
    session's readiness checks name a quarantine (``degraded``), so one left here failed
    another module's test. What was left is named here, at the test that left it (or whose
    processes did), and removed, so that the tests after it do not inherit it."""
    yield
    if "database_url" not in request.fixturenames:
        return
    with psycopg.connect(request.getfixturevalue("database_url"), autocommit=True) as conn:
        try:
            held = conn.execute(
                "DELETE FROM grondslag_quarantine RETURNING projection, scope, key, error"
            ).fetchall()
        except psycopg.errors.UndefinedTable:
            return
    assert not held, (
        f"left quarantined in the session's database: {held}; a test that quarantines (or "
        "serves with a keyring of its own) runs on a database of its own (new_database)"
    )


@pytest.fixture(scope="session")
def nats_url(server_urls: dict[str, str]) -> str:
    return server_urls["nats"]


@pytest.fixture(scope="session")
def audit_key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The audit signing key of the test session's apps and projectors (never the repo's)."""
    return tmp_path_factory.mktemp("audit-key") / "audit-signing-key.pem"
