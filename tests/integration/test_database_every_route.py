"""Every route that needs the database answers 503 with Retry-After (problem+json; its own
page where it serves HTML) while the database refuses it — stopped (connection refused) or
out of connection slots ("too many connections") — never 500, and each within seconds
although 60 requests come at once and commands run on two connections (they queued, each
waiting for a connection in turn: up to 15 s): the writes, the reads, the auditor's API
and pages, the public links, keys, metrics and readiness. A route added to the app without
a request here fails the first test.

Each case runs a PostgreSQL of its own with few slots: never the shared one.
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path

import pytest

from grondslag.embedded import EmbeddedPostgres
from grondslag.ledger.api.app import create_app
from grondslag.ledger.settings import Settings

from outage_support import (
    AUTH,
    HANG,
    app_settings,
    assert_unavailable,
    assert_unavailable_health,
    calls,
    every_route,
    fetch,
    free_port,
    prepare_every_route,
    run,
    served_routes,
    serving,
    timed,
    uncovered,
    wait_ready,
)

APP_ROLE, APP_PASSWORD = "ledger", "ledger-password"  # an ordinary role, as in production
END_SERVICE_SESSIONS = (
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = $1"
)


def test_every_route_of_the_app_that_needs_the_database_is_sent_a_request() -> None:
    app = create_app(Settings(database_url="postgresql://unused/unused"))
    references = dict.fromkeys(["request_id", "key_id", "event_id", "auditor_key"], "x")
    references |= {"unsubscribe": "/u/x", "confirm": "/c/x"}
    assert uncovered(every_route(references, {}), served_routes(app)) == set()


@pytest.mark.parametrize("refusal", ["stopped", "out-of-connections"])
def test_every_route_answers_503_while_the_database_refuses_it(
    private_dir: Path, tmp_path: Path, refusal: str
) -> None:
    pg = EmbeddedPostgres(private_dir, port=free_port(), settings={"max_connections": "40"})
    with contextlib.ExitStack() as stack:
        stack.enter_context(pg)
        run(fetch(pg.url, f"CREATE ROLE {APP_ROLE} LOGIN PASSWORD '{APP_PASSWORD}'"))
        run(fetch(pg.url, f"ALTER DATABASE grondslag OWNER TO {APP_ROLE}"))
        service_url = pg.display_url.replace("postgres@", f"{APP_ROLE}:{APP_PASSWORD}@")
        settings = app_settings(pg, tmp_path, write_pool_size=2, read_pool_size=2)
        client = stack.enter_context(
            serving(dataclasses.replace(settings, database_url=service_url))
        )
        references, auditor_cookie = prepare_every_route(client, 2, pg.url)
        wait_ready(client)  # the checkpointer has signed: the auditor's pages answer
        assert client.get("/audit/subjects/s-0", headers=auditor_cookie).status_code == 200

        try:
            if refusal == "stopped":
                pg.stop(immediate=True)
            else:  # every new session of the service's role refused: "too many connections"
                run(fetch(pg.url, f"ALTER ROLE {APP_ROLE} CONNECTION LIMIT 0"))
                run(fetch(pg.url, END_SERVICE_SESSIONS, APP_ROLE))
            requests = every_route(references, auditor_cookie)
            answers = [calls.submit(request.send, client) for request in requests]
            refused = []
            for request, answer in zip(requests, answers, strict=True):
                response, took = answer.result(timeout=HANG)
                try:
                    if request.path == "/health/ready":
                        assert_unavailable_health(response, took)
                    else:
                        assert_unavailable(response, took, html=request.html)
                except (AssertionError, KeyError, ValueError) as error:
                    refused.append(
                        f"{request.method} {request.path}: {response.status_code} "
                        f"{response.headers.get('content-type')} {error!r:.300}"
                    )
            assert refused == [], "\n".join(refused)
        finally:
            if refusal == "stopped":
                pg.start()
            else:
                run(fetch(pg.url, f"ALTER ROLE {APP_ROLE} CONNECTION LIMIT -1"))

        wait_ready(client)
        answer, _ = timed(client.get, "/v1/subjects/s-0/standing", headers=AUTH)
        assert answer.status_code == 200, answer.text
