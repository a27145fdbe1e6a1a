"""Helpers of the tests that take PostgreSQL away under a running service: the app with its
projector on a PostgreSQL of the test's own, its bootstrap key and tenant, requests timed
so that one that hangs fails the test, and what a refusal during an outage must look like
(503 with Retry-After, quickly)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from auditor_support import signed_in
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
IN_DOUBT = "urn:grondslag:problem:write-in-doubt"
CONSENT_GIVEN = "ledger.domain.standing:Standing.ConsentGiven"
ANSWER_WITHIN = 8.0  # seconds: a request during an outage answers 503 at least this fast
HANG = 60.0  # a request that has not answered after this long has hung: the test fails
RECOVER_WITHIN = 30.0

IDENTITY_CHECK = {"method": "known_in_person", "verified_by": "staff:x"}
TENANT_IDENTITY = {
    "display_name": "Praktijk De Linde",
    "postal_address": "Lindelaan 4\n7511 AB Enschede",
    "email": "privacy@praktijkdelinde.example",
    "privacy_statement_url": "https://praktijkdelinde.example/privacy",
}

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


@dataclass(frozen=True)
class Call:
    """One request to a route; ``html``: the route serves a page, its 503 too."""

    method: str
    path: str
    body: Any = None
    headers: dict[str, str] = field(default_factory=lambda: dict(AUTH))
    html: bool = False
    form: dict[str, str] | None = None

    def send(self, client: TestClient) -> tuple[Any, float]:
        return timed_here(
            client.request,
            self.method,
            self.path,
            headers=self.headers,
            json=self.body,
            data=self.form,
            follow_redirects=False,
        )


# routes that answer without the database (the OpenAPI document and its viewers)
WITHOUT_DATABASE = ("/health/live", "/schema")


def every_route(pages: dict[str, str], auditor_cookie: dict[str, str]) -> list[Call]:
    """A request, valid as far as the API checks before it asks the database, to every route
    of the app that needs the database: the writes, the reads, the auditor's API and pages,
    the public links, keys, metrics (``served_routes`` holds this list to the app's)."""
    s, p, r = "/v1/subjects/s-0", PURPOSE, pages["request_id"]
    now = "2026-01-05T09:00:00Z"
    auditor = {**auditor_cookie, "Origin": "http://testserver.local"}
    return [
        Call("GET", "/v1/purposes"),
        Call("POST", "/v1/purposes", purpose_body("other-purpose")),
        Call("GET", f"/v1/purposes/{p}"),
        Call("POST", f"/v1/purposes/{p}/revisions", {"material": False, "title": "Foto"}),
        Call("PUT", "/v1/subjects/s-new", {"birth_date": "1980-01-01"}),
        Call("GET", s),
        Call("GET", f"{s}/standing"),
        Call("GET", f"{s}/standing/{p}"),
        Call("GET", f"{s}/history"),
        Call("GET", f"{s}/access-log"),
        Call("GET", f"{s}/export", headers={**AUTH, "Accept": "application/json"}),
        Call("POST", f"{s}/consents", CONSENT),
        Call("POST", f"{s}/consents", CONSENT, {**AUTH, "Idempotency-Key": "in-the-outage"}),
        Call("POST", f"{s}/consents/{p}/withdrawal", {"method": "email", "recorded_by": "x"}),
        Call("POST", f"{s}/bases", {"purpose": p, "basis": "contract", "reference": "c-1"}),
        Call("POST", f"{s}/bases/{p}/end", {"reason": "ended"}),
        Call("POST", f"{s}/objections", {"purpose": p, "grounds": "no"}),
        Call("POST", f"{s}/objections/{p}/decision", {"upheld": True, "reasons": "r"}),
        Call("POST", f"{s}/restrictions", {"purposes": [p], "reasons": "disputed"}),
        Call("POST", f"{s}/restrictions/{p}/lift", {"reasons": "settled"}),
        Call("POST", f"{s}/legal-claims", {"claim_ref": "c", "purpose": p, "reference": "x"}),
        Call("POST", f"{s}/legal-claims/c/end", {"reason": "settled"}),
        Call(
            "POST",
            f"{s}/representatives",
            {
                "representative_ref": "mentor-1",
                "kind": "mentor",
                "valid_from": now,
                "evidence": {"document_ref": "beschikking"},
            },
        ),
        Call("POST", f"{s}/representatives/mentor-1/end", {"reason": "ended"}),
        Call("POST", f"{s}/erasure", {"recorded_by": "staff:x"}),
        Call("POST", f"{s}/unsubscribe-links", {"purpose": p}),
        Call(
            "POST",
            f"{s}/requests",
            {"kind": "access", "channel": "email", "identity": IDENTITY_CHECK},
        ),
        Call("GET", "/v1/requests"),
        Call("GET", f"/v1/requests/{r}"),
        Call("POST", f"/v1/requests/{r}/extension", {"months": 1, "reasons": "complex"}),
        Call("POST", f"/v1/requests/{r}/answer", {"outcome": "fulfilled", "reasons": "sent"}),
        Call("POST", f"/v1/requests/{r}/confirmations", {"system": "crm", "what": "erased"}),
        Call("POST", "/v1/checks", {"purpose": p, "subject_refs": ["s-0"]}),
        Call("POST", "/v1/newsletter/signups", {"purpose": p, "email": "new@example.org"}),
        Call("GET", "/v1/tenant"),
        Call("PUT", "/v1/tenant", TENANT_IDENTITY),
        Call("GET", "/v1/keys"),
        Call("POST", "/v1/keys", {"roles": ["reader"]}),
        Call("GET", f"/v1/keys/{pages['key_id']}"),
        Call("POST", f"/v1/keys/{pages['key_id']}/rotation", None),
        Call("POST", f"/v1/keys/{pages['key_id']}/revocation", None),
        Call("GET", "/v1/audit/checkpoints/latest"),
        Call("POST", "/v1/audit/checkpoints", None),
        Call("GET", "/v1/audit/keys"),
        Call("GET", f"/v1/audit/proofs/{pages['event_id']}"),
        Call("GET", "/v1/audit/consistency?first=1&second=2"),
        Call("GET", "/v1/audit/export?subject_ref=s-0"),
        Call("GET", "/metrics"),
        Call("GET", "/health/ready"),
        Call("GET", pages["unsubscribe"], headers={}, html=True),
        Call("POST", pages["unsubscribe"], headers={}, html=True),
        Call("GET", pages["confirm"], headers={}, html=True),
        Call("POST", pages["confirm"], headers={}, html=True),
        Call("GET", "/audit", headers=auditor_cookie, html=True),
        Call("GET", "/audit/subjects/s-0", headers=auditor_cookie, html=True),
        Call("GET", "/audit/subjects/s-0/bundle", headers=auditor_cookie),
        Call("GET", f"/audit/proofs/{pages['event_id']}", headers=auditor_cookie),
        Call(
            "POST", "/audit/sign-in", headers=auditor, html=True, form={"key": pages["auditor_key"]}
        ),
        Call("POST", "/audit/sign-out", headers=auditor, html=True),
    ]


def prepare_every_route(
    client: TestClient, subjects: int, url: str
) -> tuple[dict[str, str], dict[str, str]]:
    """``prepare``, and what ``every_route`` refers to: a request, a confirmation link, a
    key, an auditor's key (made on the database at ``url``) and signed-in session (its
    ``Cookie`` header)."""
    pages = prepare(client, subjects)
    request = client.post(
        "/v1/subjects/s-0/requests",
        json={"kind": "access", "channel": "email", "identity": IDENTITY_CHECK},
        headers=AUTH,
    )
    assert request.status_code == 201, request.text
    signup = client.post(
        "/v1/newsletter/signups", json={"purpose": PURPOSE, "email": "a@example.org"}, headers=AUTH
    )
    assert signup.status_code == 201, signup.text
    auditor_key = run(new_key(url, client.app.state.key_pepper, ("auditor",)))
    keys = client.get("/v1/keys", headers=AUTH)
    assert keys.status_code == 200, keys.text
    pages |= {
        "request_id": request.json()["request_id"],
        "confirm": "/c/" + signup.json()["confirm_url"].rsplit("/c/", 1)[1],
        "key_id": keys.json()["keys"][0]["key_id"],
        "event_id": str(uuid.uuid4()),
        "auditor_key": auditor_key,
    }
    return pages, signed_in(client, auditor_key)


def uncovered(calls: list[Call], routes: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """The routes none of ``calls`` reaches."""

    def pattern(template: str) -> re.Pattern[str]:
        return re.compile(re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(template)))

    return {
        (method, template)
        for method, template in routes
        if not any(
            c.method == method and pattern(template).fullmatch(c.path.split("?")[0]) for c in calls
        )
    }


def served_routes(app: Any) -> set[tuple[str, str]]:
    """(method, path template) of every route of the app that needs the database."""
    return {
        (method, route.path)
        for route in app.routes
        for handler in getattr(route, "route_handlers", ())
        for method in handler.http_methods
        if method not in ("OPTIONS", "HEAD") and not route.path.startswith(WITHOUT_DATABASE)
    }


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
