"""Helpers of the newsletter tests: the purposes (a newsletter and events invitations on
consent, e-mail tips on legitimate interest, invoicing on a legal obligation), subscribers,
unsubscribe links and their tokens, signups for double opt-in, the one-click POST, reads of
history and standing, counts of stored events and link tokens, the checks of an HTML page and
of a problem, and a second app with its own settings."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
from litestar.testing import TestClient

from grondslag.ledger.api.app import create_app
from grondslag.ledger.persistence.postgres import EVENTS_TABLE
from grondslag.ledger.settings import Settings

from api_support import TEST_PEPPER

NEWSLETTER = "newsletter"
NEWSLETTER_TITLE = "Nieuwsbrief van de praktijk"
EVENTS = "events-invitations"
TIPS = "email-tips"  # direct marketing on legitimate interest (soft opt-in, R19)
INVOICING = "invoicing"  # neither consent nor direct marketing
ASSESSMENT = (
    "Belangenafweging 2025-02: clients expect news of similar services; only the e-mail "
    "address; a free opt-out is offered at intake and in every mail."
)
ONE_CLICK = "List-Unsubscribe=One-Click"
FORM = "application/x-www-form-urlencoded"
BOUNDARY = "----grondslag-test-boundary"
MULTIPART_BODY = (
    f"--{BOUNDARY}\r\n"
    'Content-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
    f"One-Click\r\n--{BOUNDARY}--\r\n"
).encode()


def path_of(url: str) -> str:
    assert url.startswith(Settings().public_url + "/"), url
    return urlsplit(url).path


def register_newsletter(tenant, code: str = NEWSLETTER, title: str = NEWSLETTER_TITLE) -> None:
    tenant.register_purpose(code, title=title, basis="consent", direct_marketing=True)


def register_tips(tenant) -> None:
    tenant.register_purpose(
        TIPS,
        title="Tips per e-mail",
        basis="legitimate_interest",
        direct_marketing=True,
        matter="other",
        legitimate_interest_assessment=ASSESSMENT,
    )


def register_invoicing(tenant) -> None:
    tenant.register_purpose(
        INVOICING,
        title="Facturatie",
        basis="legal_obligation",
        legal_provision="AWR art. 52",
        matter="property",
        retention={"term": "P7Y", "starts": "basis_end"},
    )


def subscriber(tenant, ref: str = "client-1", purpose: str = NEWSLETTER, **fields: Any) -> None:
    """A subject with an opt-in consent to the purpose."""
    tenant.put_subject(ref, **fields)
    given = tenant.consent(ref, purpose, method="email", explicit=False)
    assert given.status_code == 201, given.text


def link(tenant, ref: str = "client-1", purpose: str = NEWSLETTER, **kwargs: Any):
    return tenant.call(
        "POST", f"/v1/subjects/{ref}/unsubscribe-links", json={"purpose": purpose}, **kwargs
    )


def unsubscribe_path(tenant, ref: str = "client-1", purpose: str = NEWSLETTER) -> str:
    response = link(tenant, ref, purpose)
    assert response.status_code == 200, response.text
    return path_of(response.json()["url"])


def token_of(path: str) -> str:
    return path.rsplit("/", 1)[1]


def history(tenant, ref: str = "client-1") -> list[dict]:
    response = tenant.call("GET", f"/v1/subjects/{ref}/history")
    assert response.status_code == 200, response.text
    return response.json()["events"]


def events_of(tenant, type_: str, ref: str = "client-1") -> list[dict]:
    return [e for e in history(tenant, ref) if e["type"] == type_]


def standing(tenant, ref: str = "client-1", purpose: str = NEWSLETTER) -> tuple[str, str | None]:
    response = tenant.call("GET", f"/v1/subjects/{ref}/standing/{purpose}")
    assert response.status_code == 200, response.text
    body = response.json()
    return body["status"], body["reason"]


def one_click(client: TestClient, path: str, **headers: str):
    return client.post(
        path,
        content=ONE_CLICK.encode(),
        headers={"Content-Type": FORM, **headers},
        follow_redirects=False,
    )


def event_count(database_url: str) -> int:
    """Every event the ledger has stored, in every tenant."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(f"SELECT count(*) FROM {EVENTS_TABLE}").fetchone()
    assert row is not None
    return row[0]


def link_token_rows(database_url: str) -> list[tuple]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT token_id, kind, used_at FROM grondslag_link_tokens ORDER BY token_id"
        ).fetchall()


def assert_html(response, status: int, lang: str = "nl") -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert f'<html lang="{lang}">' in response.text
    assert response.headers["cache-control"] == "no-store"
    assert "set-cookie" not in response.headers
    return response.text


def assert_problem(response, status: int, rule: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    if rule:
        assert body["rule"] == rule, body
    return body


@contextlib.contextmanager
def other_app(database_url: str, **settings: Any) -> Iterator[TestClient]:
    """A second app on the same database with its own settings (no projector needed)."""
    settings.setdefault("audit_key_file", Path(tempfile.mkdtemp()) / "audit-signing-key.pem")
    settings.setdefault("key_pepper", TEST_PEPPER)  # the session's keys work here too
    app = create_app(
        Settings(database_url=database_url, write_pool_size=2, read_pool_size=2, **settings)
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def signup(tenant, email: str, purpose: str = NEWSLETTER, client=None, **fields: Any):
    headers = {"Authorization": f"Bearer {tenant.key}"}
    return (client or tenant.client).post(
        "/v1/newsletter/signups",
        json={"purpose": purpose, "email": email, **fields},
        headers=headers,
    )
