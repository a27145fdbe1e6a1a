"""The event store's pooled connections are checked before use without a round trip while
the server said nothing (``persistence.pool_check``): a run of commands asks the server
nothing on checkout, and connections the server ended meanwhile are still replaced before
a command sees them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from grondslag.ledger.application import Ledger
from grondslag.ledger.bootstrap import build_ledger
from grondslag.ledger.domain.values import PersonalData
from grondslag.ledger.settings import Settings

from projector_support import give, new_tenant

OTHER_SESSIONS = """
SELECT pid FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
"""


@pytest.fixture
def small_ledger(own_database_url: str) -> Iterator[Ledger]:
    ledger = build_ledger(Settings(database_url=own_database_url), 2)
    yield ledger
    ledger.close()


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The connections a check before use sent its empty query on (the pool's ping)."""
    calls: list[Any] = []
    execute = psycopg.Connection.execute

    def counted(conn: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        if query == "":
            calls.append(conn)
        return execute(conn, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Connection, "execute", counted)
    return calls


def test_commands_ask_the_server_nothing_on_checkout_while_it_said_nothing(
    small_ledger: Ledger, asked: list[Any]
) -> None:
    tenant = new_tenant(small_ledger)
    refs = [f"client-{i}" for i in range(10)]
    for ref in refs:
        small_ledger.put_subject(tenant, ref, PersonalData())
    asked.clear()
    for ref in refs:
        give(small_ledger, tenant, ref)  # a load and a save each: two checkouts
    assert asked == []


def test_connections_the_server_ended_are_replaced_before_a_command_sees_them(
    small_ledger: Ledger, own_database_url: str, asked: list[Any]
) -> None:
    tenant = new_tenant(small_ledger)
    small_ledger.put_subject(tenant, "client-1", PersonalData())  # the pool's sessions in use
    with psycopg.connect(own_database_url, autocommit=True) as conn:
        ended = [row[0] for row in conn.execute(OTHER_SESSIONS).fetchall()]
        assert ended
        for pid in ended:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        deadline = time.monotonic() + 10
        while {row[0] for row in conn.execute(OTHER_SESSIONS).fetchall()} & set(ended):
            assert time.monotonic() < deadline, "the sessions did not end"
            time.sleep(0.02)
    asked.clear()
    give(small_ledger, tenant, "client-1")  # not an OperationalError (503)
    assert asked  # the ended sessions' sockets had something to say: they were asked
    assert small_ledger.standing(tenant, "client-1", "photo").lawful
