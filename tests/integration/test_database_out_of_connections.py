"""A PostgreSQL out of connections under a running service: a write whose session the
administrator ends, and every request while the server refuses new clients, answer 503 with
Retry-After, never 500; once slots are free again the service answers without a restart,
and neither the write ended mid-query nor the one refused for want of a connection is in
the log.

The test runs a PostgreSQL of its own with few connection slots: never the shared one.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from pathlib import Path

import asyncpg

from grondslag.embedded import EmbeddedPostgres
from grondslag.ledger.persistence.postgres import EVENTS_TABLE

from api_support import CONSENT, PURPOSE
from outage_support import (
    AUTH,
    HANG,
    app_settings,
    assert_unavailable,
    assert_unavailable_health,
    calls,
    consents_in_log,
    fetch,
    free_port,
    new_key,
    prepare,
    run,
    serving,
    timed,
    wait_ready,
)

APP_ROLE = "ledger"  # an ordinary role, as in production: the superuser slots are not its
APP_PASSWORD = "ledger-password"  # the embedded server asks every role for its password
END_SERVICE_SESSIONS = (
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = $1"
)


async def _take_every_slot(url: str, held: list[asyncpg.Connection]) -> None:
    """Connections of our own (a superuser's) until the server refuses one more."""
    with contextlib.suppress(asyncpg.TooManyConnectionsError):
        while len(held) < 100:
            held.append(await asyncpg.connect(url))


def test_a_server_out_of_connections_answers_503_and_the_service_recovers(
    private_dir: Path, tmp_path: Path
) -> None:
    # the service's role may take a slot only while more than 5 are free: once we hold
    # every other slot, the slots of its sessions we end never go back to it
    pg = EmbeddedPostgres(
        private_dir,
        port=free_port(),
        settings={"max_connections": "12", "superuser_reserved_connections": "5"},
    )
    with contextlib.ExitStack() as stack:
        stack.enter_context(pg)
        run(fetch(pg.url, f"CREATE ROLE {APP_ROLE} LOGIN PASSWORD '{APP_PASSWORD}'"))
        run(fetch(pg.url, f"ALTER DATABASE grondslag OWNER TO {APP_ROLE}"))
        service_url = pg.display_url.replace("postgres@", f"{APP_ROLE}:{APP_PASSWORD}@")
        settings = app_settings(pg, tmp_path, write_pool_size=2, read_pool_size=2)
        settings = dataclasses.replace(settings, database_url=service_url)
        client = stack.enter_context(serving(settings, projector=False))
        prepare(client, 3)
        unused_key = run(new_key(pg.url, client.app.state.key_pepper))
        read = f"/v1/subjects/s-0/standing/{PURPOSE}"
        assert client.get(read, headers=AUTH).status_code == 200

        loop = asyncio.new_event_loop()
        held: list[asyncpg.Connection] = []
        try:
            held.append(loop.run_until_complete(asyncpg.connect(pg.url)))
            # a write waits on a lock of ours when the administrator ends its session
            locker = held[0]
            loop.run_until_complete(locker.execute("BEGIN"))
            loop.run_until_complete(
                locker.execute(f"LOCK TABLE {EVENTS_TABLE} IN ACCESS EXCLUSIVE MODE")
            )
            in_flight = calls.submit(
                client.post, "/v1/subjects/s-1/consents", json=CONSENT, headers=AUTH
            )
            time.sleep(0.5)
            loop.run_until_complete(locker.fetchval(END_SERVICE_SESSIONS, APP_ROLE))
            loop.run_until_complete(locker.execute("ROLLBACK"))
            assert_unavailable(in_flight.result(timeout=HANG), 0.0)

            # the server full ('too many clients already'), the service's sessions ended
            loop.run_until_complete(_take_every_slot(pg.url, held))
            assert loop.run_until_complete(locker.fetchval(END_SERVICE_SESSIONS, APP_ROLE))
            loop.run_until_complete(_take_every_slot(pg.url, held))
            for method, path, body in [
                ("GET", read, None),
                ("POST", "/v1/checks", {"purpose": PURPOSE, "subject_refs": ["s-0"]}),
                ("POST", "/v1/subjects/s-2/consents", CONSENT),
            ]:
                response, took = timed(client.request, method, path, headers=AUTH, json=body)
                assert_unavailable(response, took)
            unknown = {"Authorization": f"Bearer {unused_key}"}
            assert_unavailable(*timed(client.get, read, headers=unknown))
            assert_unavailable_health(*timed(client.get, "/health/ready"))
        finally:
            for conn in held:
                loop.run_until_complete(conn.close())
            loop.close()

        wait_ready(client)
        assert client.get(read, headers=AUTH).status_code == 200
        assert client.get(read, headers=unknown).status_code == 200
        write = client.post("/v1/subjects/s-2/consents", json=CONSENT, headers=AUTH)
        assert write.status_code == 201, write.text
        # the write ended mid-query recorded nothing, nor the one refused for want of a
        # connection
        assert consents_in_log(pg.url, ["s-0", "s-1", "s-2"]) == {"s-0", "s-2"}
