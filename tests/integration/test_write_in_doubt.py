"""A write whose connection is lost after its append was sent (``persistence.in_doubt``):
the append may commit after the client saw the connection go. The ledger then asks the
database what happened before it answers: committed → the write's own answer, once; not
committed → 503 ``database-unavailable``, nothing stored; cannot be told in time → 503
``write-in-doubt`` (never "nothing was recorded"), and a retry under the same
``Idempotency-Key`` answers what was recorded, once.

The connection is cut by a TCP proxy between the ledger and PostgreSQL while the append
waits for the event table's lock, held by a session of the test's own: the server's
session carries on, and commits when the lock is released. The module runs on a database
of its own (``own_database_url``).
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from eventsourcing.persistence import OperationalError
from proxy_support import CuttableProxy, cuttable

from grondslag.ledger.application import Ledger
from grondslag.ledger.bootstrap import build_ledger
from grondslag.ledger.domain.ids import event_id, standing_id
from grondslag.ledger.domain.values import PersonalData
from grondslag.ledger.persistence import in_doubt
from grondslag.ledger.persistence.in_doubt import CommitInDoubt
from grondslag.ledger.persistence.postgres import EVENTS_TABLE
from grondslag.ledger.settings import Settings

from api_support import CONSENT, PURPOSE, purpose_body
from outage_support import AUTH, KEY, TENANT, serving
from projector_support import PURPOSE as PHOTO
from projector_support import give, new_tenant

CONSENT_GIVEN = "ledger.domain.standing:Standing.ConsentGiven"
WAITING_APPEND = (
    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
    "AND query LIKE 'SELECT grondslag_append(%%'"
)


def through(url: str, proxy: CuttableProxy) -> str:
    """``url`` by way of the proxy: its user and password, the proxy's address."""
    parts = urlsplit(url)
    user = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{user}@127.0.0.1:{proxy.port}"))


@pytest.fixture
def proxy(own_database_url: str) -> Iterator[CuttableProxy]:
    with cuttable(urlsplit(own_database_url).port or 5432) as proxy:
        yield proxy


@pytest.fixture
def proxied(own_database_url: str, proxy: CuttableProxy, ledger: Ledger) -> Iterator[Ledger]:
    """A ledger whose connections pass the proxy (``ledger`` made the tables first)."""
    cut_off = build_ledger(Settings(database_url=through(own_database_url, proxy)), 2)
    yield cut_off
    cut_off.close()


class TableLock:
    """The event table locked by a session of the test's own until ``release``."""

    def __init__(self, url: str):
        self.url = url
        self.conn = psycopg.connect(url)
        self.conn.execute(f"LOCK TABLE {EVENTS_TABLE} IN EXCLUSIVE MODE")

    def wait_for_an_append(self, within: float = 20.0) -> None:
        deadline = time.monotonic() + within
        with psycopg.connect(self.url, autocommit=True) as look:
            while (look.execute(WAITING_APPEND).fetchone() or [0])[0] == 0:
                if time.monotonic() > deadline:
                    sessions = look.execute(
                        "SELECT state, wait_event_type, query FROM pg_stat_activity "
                        "WHERE datname = current_database()"
                    ).fetchall()
                    raise AssertionError(f"no append came to wait for the lock: {sessions}")
                time.sleep(0.02)

    def release(self) -> None:
        self.conn.rollback()
        self.conn.close()


def consent_ids(url: str, tenant: str, ref: str, purpose: str = PHOTO) -> list[Any]:
    """The event ids of the standing's stored consents."""
    stream = standing_id(tenant, ref, purpose)
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            f"SELECT originator_version FROM {EVENTS_TABLE} "
            "WHERE originator_id = %s AND topic = %s",
            (stream, CONSENT_GIVEN),
        ).fetchall()
    return [event_id(stream, version) for (version,) in rows]


def consents(url: str, tenant: str, ref: str, purpose: str = PHOTO) -> int:
    return len(consent_ids(url, tenant, ref, purpose))


def new_subject(ledger: Ledger) -> tuple[str, str]:
    """A tenant of its own with the purpose, and a subject in it."""
    tenant, ref = new_tenant(ledger), f"client-{secrets.token_hex(3)}"
    ledger.put_subject(tenant, ref, PersonalData())
    return tenant, ref


def in_background(call: Any, *args: Any) -> Future[Any]:
    return ThreadPoolExecutor(max_workers=1).submit(call, *args)


@contextlib.contextmanager
def consent_cut_off(
    ledger: Ledger, proxied: Ledger, proxy: CuttableProxy, url: str
) -> Iterator[tuple[str, str, Future[Any]]]:
    """A consent given through the proxy, its append waiting for the table lock, and its
    connection cut: (tenant, ref, the write's future); the lock goes when the block ends."""
    tenant, ref = new_subject(ledger)
    lock = TableLock(url)
    try:
        writing = in_background(give, proxied, tenant, ref)
        lock.wait_for_an_append()
        proxy.cut()  # the client's connection is gone; the server's session waits on
        yield tenant, ref, writing
    finally:
        lock.release()


def test_an_append_that_committed_after_its_connection_was_lost_answers_as_stored(
    ledger: Ledger, proxied: Ledger, proxy: CuttableProxy, own_database_url: str
) -> None:
    with consent_cut_off(ledger, proxied, proxy, own_database_url) as (tenant, ref, writing):
        time.sleep(0.3)
    # the lock released: the lost session commits now, with no one to answer
    event = writing.result(timeout=30)  # old code: OperationalError, the consent stored
    assert consent_ids(own_database_url, tenant, ref) == [event]  # once, and its own answer


def test_an_append_still_running_when_the_time_is_up_is_in_doubt_never_not_recorded(
    ledger: Ledger,
    proxied: Ledger,
    proxy: CuttableProxy,
    own_database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(in_doubt, "RESOLVE_SECONDS", 1.0)
    with (
        consent_cut_off(ledger, proxied, proxy, own_database_url) as (tenant, ref, writing),
        pytest.raises(CommitInDoubt, match="could not be told within 1 s"),
    ):
        writing.result(timeout=30)
    deadline = time.monotonic() + 10
    while consents(own_database_url, tenant, ref) == 0:  # it did commit after all
        assert time.monotonic() < deadline, "the lost append never committed"
        time.sleep(0.05)
    assert consents(own_database_url, tenant, ref) == 1


def test_an_append_rolled_back_with_its_session_answers_nothing_was_stored(
    ledger: Ledger, proxied: Ledger, proxy: CuttableProxy, own_database_url: str
) -> None:
    with consent_cut_off(ledger, proxied, proxy, own_database_url) as (tenant, ref, writing):
        with psycopg.connect(own_database_url, autocommit=True) as admin:  # its session ends
            admin.execute(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                "WHERE query LIKE 'SELECT grondslag_append(%%' AND wait_event_type = 'Lock'"
            )
        with pytest.raises(OperationalError):  # the API's 503 database-unavailable
            writing.result(timeout=30)
    assert consents(own_database_url, tenant, ref) == 0


def test_a_write_in_doubt_is_a_503_of_its_own_and_its_retry_under_the_key_answers_once(
    ledger: Ledger,
    proxy: CuttableProxy,
    own_database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(in_doubt, "RESOLVE_SECONDS", 1.0)
    settings = Settings(
        database_url=through(own_database_url, proxy),
        data_dir=tmp_path / "data",
        bootstrap_key=KEY,
        bootstrap_tenant=TENANT,
        audit_key_file=tmp_path / "audit-signing-key.pem",
        write_pool_size=2,
        read_pool_size=2,
    )
    ref = f"client-{secrets.token_hex(3)}"
    keyed = AUTH | {"Idempotency-Key": secrets.token_hex(8)}
    with serving(settings, projector=False) as client:
        client.post("/v1/purposes", json=purpose_body(), headers=AUTH)  # 201, or 409 again
        assert client.put(f"/v1/subjects/{ref}", json={}, headers=AUTH).status_code == 201
        lock = TableLock(own_database_url)
        answered: dict[str, Any] = {}

        def post() -> None:
            answered["first"] = client.post(
                f"/v1/subjects/{ref}/consents", json=CONSENT, headers=keyed
            )

        writer = threading.Thread(target=post)
        writer.start()
        try:
            lock.wait_for_an_append()
            proxy.cut()
            writer.join(30)
        finally:
            lock.release()
        first = answered["first"]
        assert first.status_code == 503, first.text
        assert first.json()["type"] == "urn:grondslag:problem:write-in-doubt"
        assert "may have been recorded" in first.json()["detail"]
        assert first.headers["Retry-After"]

        again = client.post(f"/v1/subjects/{ref}/consents", json=CONSENT, headers=keyed)
        assert again.status_code == 201, again.text
        assert again.headers["Idempotent-Replayed"] == "true"
    assert consents(own_database_url, TENANT, ref, PURPOSE) == 1
