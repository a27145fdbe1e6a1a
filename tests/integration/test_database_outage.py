"""PostgreSQL stopped under a running service, fast or immediately: every route answers 503
with Retry-After (problem+json; an HTML page on the public and auditor pages) within a few
seconds, never 500 or 401; `/health/ready` names the failing check; once the database is
back the same process answers again without a restart, its projector follows the log
again; and a write around the outage is either committed and acknowledged (201) or refused
(503) and absent from the log.

Each test runs a PostgreSQL of its own on a fixed free port, which it stops and starts under
the running app: never the shared one.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from auditor_support import signed_in
from litestar.testing import TestClient

from grondslag.embedded import EmbeddedPostgres
from grondslag.ledger.persistence.postgres import EVENTS_TABLE

from api_support import CONSENT, PURPOSE
from outage_support import (
    AUTH,
    HANG,
    IN_DOUBT,
    RECOVER_WITHIN,
    UNAVAILABLE,
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
    timed_here,
    wait_ready,
)


@pytest.fixture
def postgres(private_dir: Path) -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL of this test's own, on one port across its restarts."""
    pg = EmbeddedPostgres(private_dir, port=free_port())
    with pg:
        yield pg


def wait_projected(url: str, within: float = RECOVER_WITHIN) -> None:
    """Every projection of the running projector has reached the head of the log."""
    query = (
        f"SELECT bool_and(position >= (SELECT max(notification_id) FROM {EVENTS_TABLE})) "
        "FROM grondslag_tracking WHERE projection IN ('current_standing', 'audit_log')"
    )
    deadline = time.monotonic() + within
    while not run(fetch(url, query))[0][0]:
        assert time.monotonic() < deadline, "a projection stopped following the log"
        time.sleep(0.1)


class Writer:
    """Gives consents for s-1, s-2, … one after the other, noting each answer, until told
    to stop: the writes in flight when the database goes away and comes back."""

    def __init__(self, client: TestClient, subjects: int):
        self.client, self.subjects = client, subjects
        self.answers: dict[str, int] = {}
        self.problems: dict[str, str] = {}  # the type of each 503
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        for n in range(1, self.subjects):
            if self._stop.is_set():
                return
            ref = f"s-{n}"
            response = self.client.post(f"/v1/subjects/{ref}/consents", json=CONSENT, headers=AUTH)
            self.answers[ref] = response.status_code
            if response.status_code == 503:
                self.problems[ref] = response.json()["type"]
            time.sleep(0.05)

    def __enter__(self) -> Writer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(HANG)
        assert not self._thread.is_alive(), "a write hung"


def assert_acknowledged_exactly(writer: Writer, url: str) -> None:
    """Every 201 is in the log, every write refused as unavailable is not, and nothing else
    was answered but 503s in doubt (the database went away between the write and its
    answer: ``persistence.in_doubt``), which may be either."""
    answers, problems = writer.answers, writer.problems
    assert set(answers.values()) <= {201, 503}, answers
    assert 503 in answers.values(), f"no write fell into the outage: {answers}"
    assert set(problems.values()) <= {UNAVAILABLE, IN_DOUBT}, problems
    acknowledged = {ref for ref, status in answers.items() if status == 201}
    doubtful = {ref for ref, kind in problems.items() if kind == IN_DOUBT}
    stored = consents_in_log(url, list(answers))
    assert acknowledged <= stored <= acknowledged | doubtful, (answers, problems)


def lock_events(url: str) -> tuple[threading.Event, threading.Thread]:
    """Hold the event table locked from a session of our own, so that a write (and a read)
    sent now is still running when the server goes away; the lock goes with the server."""
    locked, release = threading.Event(), threading.Event()

    async def hold() -> None:
        conn = await asyncpg.connect(url)
        try:
            async with conn.transaction():
                await conn.execute(f"LOCK TABLE {EVENTS_TABLE} IN ACCESS EXCLUSIVE MODE")
                locked.set()
                while not release.is_set():
                    await asyncio.sleep(0.05)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            pass  # the server went away with our session, as intended
        finally:
            with contextlib.suppress(Exception):
                await conn.close(timeout=1)

    thread = threading.Thread(target=lambda: run(hold()), daemon=True)
    thread.start()
    assert locked.wait(10)
    return release, thread


@pytest.mark.parametrize("immediate", [False, True], ids=["fast-stop", "immediate-stop"])
def test_an_outage_answers_503_everywhere_and_the_service_recovers(
    postgres: EmbeddedPostgres, tmp_path: Path, immediate: bool
) -> None:
    subjects = 150
    with serving(app_settings(postgres, tmp_path)) as client:
        pages = prepare(client, subjects)
        pepper = client.app.state.key_pepper
        auditor_cookie = signed_in(client, run(new_key(postgres.url, pepper, ("auditor",))))
        unused_key = run(new_key(postgres.url, pepper))  # never looked up: not in the key cache
        wait_ready(client)
        assert client.get("/audit/subjects/s-0", headers=auditor_cookie).status_code == 200

        release, locker = lock_events(postgres.url)
        in_flight_read = calls.submit(
            client.get, f"/v1/subjects/s-0/standing/{PURPOSE}", headers=AUTH
        )
        with Writer(client, subjects) as writer:
            time.sleep(0.5)  # the writer's first consent waits on the lock: in flight
            postgres.stop(immediate=immediate)
            release.set()
            locker.join(10)
            read_then = in_flight_read.result(timeout=HANG)
            if read_then.status_code != 200:  # it may have finished before its session ended
                assert_unavailable(read_then, 0.0)

            # -- the database is away: every route at once -----------------------------------
            read = f"/v1/subjects/s-0/standing/{PURPOSE}"
            unknown = {"Authorization": f"Bearer {unused_key}"}  # the database must say
            idempotent = {**AUTH, "Idempotency-Key": "during-the-outage"}
            problems = [
                ("GET", read, AUTH, None),
                ("GET", "/v1/subjects/s-0/standing", AUTH, None),
                ("GET", "/v1/subjects/s-0/history", AUTH, None),
                ("GET", "/v1/purposes", AUTH, None),
                ("POST", "/v1/checks", AUTH, {"purpose": PURPOSE, "subject_refs": ["s-0"]}),
                ("POST", "/v1/subjects/s-0/consents", AUTH, CONSENT),
                ("PUT", "/v1/subjects/s-new", AUTH, {"birth_date": "1980-01-01"}),
                ("POST", "/v1/subjects/s-0/consents", idempotent, CONSENT),
                ("GET", "/v1/audit/checkpoints/latest", AUTH, None),
                ("GET", "/metrics", AUTH, None),
                ("GET", read, unknown, None),  # not 401: the key may well be valid
            ]
            pages_html = [  # the public links and the auditor's page serve HTML
                ("GET", pages["unsubscribe"], {}, None),
                ("POST", pages["unsubscribe"], {}, None),
                ("GET", "/audit/subjects/s-0", auditor_cookie, None),
            ]
            answers = [
                calls.submit(timed_here, client.request, method, path, headers=headers, json=body)
                for method, path, headers, body in problems + pages_html
            ]
            for n, answer in enumerate(answers):
                assert_unavailable(*answer.result(timeout=HANG), html=n >= len(problems))

            ready, took = timed(client.get, "/health/ready")
            assert_unavailable_health(ready, took)
            assert timed(client.get, "/health/live")[0].status_code == 200
            head = client.head("/health/ready")  # as GET says, without the body
            assert (head.status_code, head.content) == (503, b""), head.text
            assert head.headers["retry-after"]
            assert client.head("/health/live").status_code == 200
            time.sleep(2)  # a few more seconds of outage under the writer

            # -- the database is back: the same process answers again ----------------------
            postgres.start()
            restarted, before = time.monotonic(), len(writer.answers)
            wait_ready(client)
            answer, _ = timed(client.get, read, headers=AUTH)
            assert answer.status_code == 200, answer.text
            assert answer.json()["status"] == "lawful"
            # the first write as a client sends it: again after a 503's Retry-After, for the
            # write pool reconnects on its own back-off, which may trail the readiness check
            # by a second or two (and a wait that began in the outage may still run out)
            while (
                fresh := client.put(
                    "/v1/subjects/s-after", json={"birth_date": "1980-01-01"}, headers=AUTH
                )
            ).status_code == 503:
                assert fresh.headers["retry-after"], fresh.text
                assert time.monotonic() - restarted < RECOVER_WITHIN, fresh.text
                time.sleep(0.5)
            assert fresh.status_code == 201, fresh.text
            assert timed(client.get, read, headers=unknown)[0].status_code == 200
            assert client.get(pages["unsubscribe"]).status_code == 200
            assert client.get("/audit/subjects/s-0", headers=auditor_cookie).status_code == 200
            # the write refused under its Idempotency-Key claimed nothing: it runs now
            retried = client.post("/v1/subjects/s-0/consents", json=CONSENT, headers=idempotent)
            assert retried.status_code == 201, retried.text
            while 201 not in list(writer.answers.values())[before:]:
                assert time.monotonic() - restarted < RECOVER_WITHIN, writer.answers
                time.sleep(0.1)
        assert_acknowledged_exactly(writer, postgres.url)
        # the projector follows the log again: the writes since are projected, not only read
        assert client.put("/v1/subjects/s-last", json={}, headers=AUTH).status_code == 201
        wait_projected(postgres.url)
