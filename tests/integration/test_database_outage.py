"""PostgreSQL going away under a running service: every route answers 503 with Retry-After
(problem+json; an HTML page on the public and auditor pages) within a few seconds, never 500
or 401; `/health/ready` names the failing check; once the database is back the service
answers again without a restart; and a write around the outage is either committed and
acknowledged (201) or refused (503) and absent from the log.

Each test runs a PostgreSQL of its own on a fixed free port, which it stops and starts under
the running app: never the shared one.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from grondslag.ledger.api.app import create_app
from grondslag.ledger.domain.ids import standing_id
from grondslag.ledger.keys import create_key
from grondslag.ledger.persistence.postgres import EVENTS_TABLE
from grondslag.ledger.settings import Settings
from litestar.testing import TestClient

from grondslag.embedded import EmbeddedPostgres

KEY = "outage-bootstrap-key"
TENANT = "demo"
PURPOSE = "photo-in-dossier"
AUTH = {"Authorization": f"Bearer {KEY}"}
NOTICE = {"version": "2025-01", "url": "https://praktijk.example/privacy", "sha256": "a" * 64}
CONSENT = {
    "purpose": PURPOSE,
    "method": "written",
    "explicit": True,
    "notice_version": "2025-01",
    "evidence": {"document_ref": "intake.pdf"},
    "recorded_by": "staff:jdevries",
}
PROBLEM_JSON = "application/problem+json"
UNAVAILABLE = "urn:grondslag:problem:database-unavailable"
CONSENT_GIVEN = "ledger.domain.standing:Standing.ConsentGiven"
ANSWER_WITHIN = 8.0  # seconds: a request during an outage answers 503 at least this fast
HANG = 60.0  # a request that has not answered after this long has hung: the test fails
RECOVER_WITHIN = 30.0

_calls = ThreadPoolExecutor(max_workers=16, thread_name_prefix="outage-call")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


async def _fetch(url: str, query: str, *args: Any) -> list[asyncpg.Record]:
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
    return _calls.submit(timed_here, call, *args, **kwargs).result(timeout=HANG)


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


@pytest.fixture
def postgres(private_dir: Path) -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL of this test's own, on one port across its restarts."""
    pg = EmbeddedPostgres(private_dir, port=_free_port())
    with pg:
        yield pg


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
    purpose = {
        "code": PURPOSE,
        "title": "Pasfoto in het dossier",
        "basis": "consent",
        "notice": NOTICE,
        "effective_at": "2025-01-01T00:00:00Z",
    }
    assert client.post("/v1/purposes", json=purpose, headers=AUTH).status_code == 201
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


def wait_projected(url: str, within: float = RECOVER_WITHIN) -> None:
    """Every projection of the running projector has reached the head of the log."""
    query = (
        f"SELECT bool_and(position >= (SELECT max(notification_id) FROM {EVENTS_TABLE})) "
        "FROM grondslag_tracking WHERE projection IN ('current_standing', 'audit_log')"
    )
    deadline = time.monotonic() + within
    while not run(_fetch(url, query))[0][0]:
        assert time.monotonic() < deadline, "a projection stopped following the log"
        time.sleep(0.1)


class Writer:
    """Gives consents for s-1, s-2, … one after the other, noting each answer, until told
    to stop: the writes in flight when the database goes away and comes back."""

    def __init__(self, client: TestClient, subjects: int):
        self.client, self.subjects = client, subjects
        self.answers: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        for n in range(1, self.subjects):
            if self._stop.is_set():
                return
            ref = f"s-{n}"
            response = self.client.post(f"/v1/subjects/{ref}/consents", json=CONSENT, headers=AUTH)
            self.answers[ref] = response.status_code
            time.sleep(0.05)

    def __enter__(self) -> Writer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(HANG)
        assert not self._thread.is_alive(), "a write hung"


def consents_in_log(url: str, refs: list[str]) -> set[str]:
    """The subjects whose standing holds a recorded consent."""
    streams = {standing_id(TENANT, ref, PURPOSE): ref for ref in refs}
    rows = run(
        _fetch(
            url,
            f"SELECT DISTINCT originator_id FROM {EVENTS_TABLE} "
            "WHERE originator_id = ANY($1) AND topic = $2",
            list(streams),
            CONSENT_GIVEN,
        )
    )
    return {streams[row["originator_id"]] for row in rows}


def assert_acknowledged_exactly(writer: Writer, url: str) -> None:
    """Every 201 is in the log, every refused write is not, and nothing else was answered."""
    answers = writer.answers
    assert set(answers.values()) <= {201, 503}, answers
    assert 503 in answers.values(), f"no write fell into the outage: {answers}"
    acknowledged = {ref for ref, status in answers.items() if status == 201}
    assert consents_in_log(url, list(answers)) == acknowledged, answers


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
    auditor_cookie = {"Cookie": f"grondslag_auditor={KEY}"}
    with serving(app_settings(postgres, tmp_path)) as client:
        pages = prepare(client, subjects)
        unused_key = run(_create_key(postgres.url))  # never looked up: not in the key cache
        wait_ready(client)
        assert client.get("/audit/subjects/s-0", headers=auditor_cookie).status_code == 200

        release, locker = lock_events(postgres.url)
        in_flight_read = _calls.submit(
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
                ("GET", "/metrics", {}, None),
                ("GET", read, unknown, None),  # not 401: the key may well be valid
            ]
            pages_html = [  # the public links and the auditor's page serve HTML
                ("GET", pages["unsubscribe"], {}, None),
                ("POST", pages["unsubscribe"], {}, None),
                ("GET", "/audit/subjects/s-0", auditor_cookie, None),
            ]
            answers = [
                _calls.submit(timed_here, client.request, method, path, headers=headers, json=body)
                for method, path, headers, body in problems + pages_html
            ]
            for n, answer in enumerate(answers):
                assert_unavailable(*answer.result(timeout=HANG), html=n >= len(problems))

            ready, took = timed(client.get, "/health/ready")
            assert_unavailable_health(ready, took)
            assert timed(client.get, "/health/live")[0].status_code == 200
            time.sleep(2)  # a few more seconds of outage under the writer

            # -- the database is back: the same process answers again ----------------------
            postgres.start()
            restarted, before = time.monotonic(), len(writer.answers)
            wait_ready(client)
            answer, _ = timed(client.get, read, headers=AUTH)
            assert answer.status_code == 200, answer.text
            assert answer.json()["status"] == "lawful"
            fresh = client.put(
                "/v1/subjects/s-after", json={"birth_date": "1980-01-01"}, headers=AUTH
            )
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


def assert_unavailable_health(response: Any, elapsed: float) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) > 0
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"].startswith("failing"), body
    assert elapsed < ANSWER_WITHIN


async def _create_key(url: str) -> str:
    pool = await asyncpg.create_pool(url, min_size=1, max_size=1)
    try:
        return await create_key(pool, TENANT, ["reader", "writer"])
    finally:
        await pool.close()


# -- out of connections -----------------------------------------------------------------------

APP_ROLE = "ledger"  # an ordinary role, as in production: the superuser slots are not its
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
        port=_free_port(),
        settings={"max_connections": "12", "superuser_reserved_connections": "5"},
    )
    with contextlib.ExitStack() as stack:
        stack.enter_context(pg)
        run(_fetch(pg.url, f"CREATE ROLE {APP_ROLE} LOGIN"))
        run(_fetch(pg.url, f"ALTER DATABASE grondslag OWNER TO {APP_ROLE}"))
        service_url = pg.url.replace("postgres@", f"{APP_ROLE}@")
        settings = app_settings(pg, tmp_path, write_pool_size=2, read_pool_size=2)
        settings = dataclasses.replace(settings, database_url=service_url)
        client = stack.enter_context(serving(settings, projector=False))
        prepare(client, 3)
        unused_key = run(_create_key(pg.url))
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
            in_flight = _calls.submit(
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


# -- the projector's follower outlives what an outage throws at it ----------------------------


class _BrokenCounting:
    """The pool, except that counting a failure meets a connection the server dropped (what
    asyncpg raises then is neither a PostgresError nor an OSError)."""

    def __init__(self, pool: asyncpg.Pool):
        self._pool = pool

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)

    async def execute(self, query: str, *args: Any) -> Any:
        if "failures = failures + 1" in query:
            raise asyncpg.InternalClientError(
                "cannot switch to state 11; another operation (2) is in progress"
            )
        return await self._pool.execute(query, *args)


async def test_a_follower_goes_on_when_counting_its_failure_fails(
    own_database_url: str, pool: asyncpg.Pool, ledger: Any
) -> None:
    from grondslag.ledger.domain.values import PersonalData
    from grondslag.projector.follower import LogFollower

    await asyncio.to_thread(ledger.put_subject, "outage", "client-1", PersonalData())
    handled: list[int] = []

    async def handler(conn: Any, batch: list[tuple[int, Any]]) -> None:
        if not handled:
            handled.append(0)
            raise ConnectionResetError("the database went away mid-batch")
        handled.extend(notification_id for notification_id, _ in batch)

    follower = LogFollower(
        _BrokenCounting(pool),  # type: ignore[arg-type]
        own_database_url,
        f"outage-{secrets.token_hex(4)}",
        handler,
        poll_seconds=0.05,
        raw=True,
    )
    await follower.setup()
    task = asyncio.create_task(follower.run())
    try:
        deadline = time.monotonic() + 10
        while len(handled) < 2:
            assert not task.done(), f"the follower stopped: {task.exception()!r}"
            assert time.monotonic() < deadline, "the follower did not try the batch again"
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
