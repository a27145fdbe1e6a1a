"""Newsletter links over the API and the public pages: the one-click unsubscribe link and its
headers (R20, RFC 8058), the pages a mail scanner may fetch without changing anything, the
POST that withdraws consent or lodges the absolute direct-marketing objection at once (R17),
tokens that cannot be forged, altered or moved, double opt-in (R19), expiry, the rate limit
on the public links and logs without e-mail addresses."""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import re
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from litestar.testing import TestClient

from grondslag.ledger.api.app import create_app
from grondslag.ledger.persistence.postgres import EVENTS_TABLE
from grondslag.ledger.settings import Settings

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


# -- helpers ---------------------------------------------------------------------------------


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
    app = create_app(
        Settings(database_url=database_url, write_pool_size=2, read_pool_size=2, **settings)
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


# -- the unsubscribe link --------------------------------------------------------------------


def test_unsubscribe_link_has_the_url_and_the_two_rfc_8058_headers(tenant) -> None:
    register_newsletter(tenant)
    subscriber(tenant)
    response = link(tenant)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"url", "headers"}
    url = body["url"]
    assert re.fullmatch(
        re.escape(Settings().public_url) + r"/u/\d{1,4}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}", url
    ), url
    assert body["headers"] == {
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def test_unsubscribe_link_is_stable_per_subject_and_purpose_and_differs_otherwise(tenant) -> None:
    register_newsletter(tenant)
    register_newsletter(tenant, EVENTS, "Uitnodigingen voor bijeenkomsten")
    subscriber(tenant, "client-1")
    subscriber(tenant, "client-2")
    first = unsubscribe_path(tenant, "client-1")
    assert unsubscribe_path(tenant, "client-1") == first
    assert unsubscribe_path(tenant, "client-1") == first
    assert unsubscribe_path(tenant, "client-2") != first
    assert unsubscribe_path(tenant, "client-1", EVENTS) != first


def _decodings(part: str) -> list[bytes]:
    decoded = [part.encode()]
    for candidate in (part, part + "=" * (-len(part) % 4)):
        with contextlib.suppress(binascii.Error, ValueError):
            decoded.append(base64.urlsafe_b64decode(candidate))
    return decoded


def test_unsubscribe_token_carries_no_readable_personal_data(tenant) -> None:
    register_newsletter(tenant)
    ref, email = "anna-jansen-1970", "anna.jansen@example.nl"
    subscriber(tenant, ref, email=email)
    token = token_of(unsubscribe_path(tenant, ref))
    signup = tenant.call(
        "POST", "/v1/newsletter/signups", json={"purpose": NEWSLETTER, "email": email}
    )
    assert signup.status_code == 201, signup.text
    confirm_token = token_of(path_of(signup.json()["confirm_url"]))
    secrets_ = [ref, tenant.name, NEWSLETTER, email, "anna", "jansen", "example"]
    for tok in (token, confirm_token):
        assert len(tok.split(".")) == 3
        for part in [tok, *tok.split(".")]:
            for decoded in _decodings(part):
                text = decoded.decode("latin-1").lower()
                for secret in secrets_:
                    assert secret.lower() not in text, (tok, part, secret)


def test_unsubscribe_link_needs_a_writer_key(tenant) -> None:
    register_newsletter(tenant)
    subscriber(tenant)
    no_key = tenant.client.post(
        "/v1/subjects/client-1/unsubscribe-links", json={"purpose": NEWSLETTER}
    )
    assert_problem(no_key, 401)
    bad_key = link(tenant, key="not-a-key")
    assert_problem(bad_key, 401)
    for role in ("reader", "auditor"):
        assert_problem(link(tenant, key=tenant.key_with(role)), 403)
    assert link(tenant, key=tenant.key_with("writer")).status_code == 200


def test_unsubscribe_link_for_unknown_subject_is_404(tenant) -> None:
    register_newsletter(tenant)
    assert_problem(link(tenant, "nobody"), 404)


def test_unsubscribe_link_for_unregistered_purpose_is_409_r2(tenant) -> None:
    tenant.put_subject("client-1")
    assert_problem(link(tenant, purpose="not-registered"), 409, rule="R2")


def test_unsubscribe_link_for_purpose_neither_consent_nor_direct_marketing_is_409_r20(
    tenant,
) -> None:
    register_invoicing(tenant)
    tenant.put_subject("client-1")
    assert_problem(link(tenant, purpose=INVOICING), 409, rule="R20")


# -- GET /u/: a page that changes nothing ----------------------------------------------------


def test_unsubscribe_page_is_dutch_by_default_and_changes_nothing(tenant, database_url) -> None:
    register_newsletter(tenant)
    subscriber(tenant)
    path = unsubscribe_path(tenant)
    before, count = history(tenant), event_count(database_url)
    for _ in range(3):  # mail scanners fetch links, sometimes more than once
        text = assert_html(tenant.client.get(path), 200, "nl")
        assert '<button type="submit">Afmelden</button>' in text
        assert f'<form method="post" action="{path}">' in text
        assert NEWSLETTER_TITLE in text
        assert tenant.name in text
        assert "<script" not in text
    head = tenant.client.head(path)
    assert head.status_code in (200, 405)
    assert history(tenant) == before
    assert event_count(database_url) == count
    assert standing(tenant) == ("lawful", None)


def test_unsubscribe_page_is_english_when_the_reader_prefers_english(tenant) -> None:
    register_newsletter(tenant)
    subscriber(tenant)
    path = unsubscribe_path(tenant)
    for accept in ("en", "en-GB,en;q=0.9", "nl;q=0.3, en;q=0.8"):
        response = tenant.client.get(path, headers={"Accept-Language": accept})
        text = assert_html(response, 200, "en")
        assert '<button type="submit">Unsubscribe</button>' in text
        assert NEWSLETTER_TITLE in text
        assert response.headers["content-language"] == "en"
    dutch = tenant.client.get(path, headers={"Accept-Language": "nl-NL,nl;q=0.9,en;q=0.5"})
    assert "Afmelden</button>" in assert_html(dutch, 200, "nl")
    assert standing(tenant) == ("lawful", None)


# -- POST /u/: one click, at once ------------------------------------------------------------

BODIES = {
    "one-click": (FORM, ONE_CLICK.encode()),
    "empty-form-of-the-page": (FORM, b""),
    "multipart": (f"multipart/form-data; boundary={BOUNDARY}", MULTIPART_BODY),
}


@pytest.mark.parametrize("kind", list(BODIES))
def test_one_click_post_withdraws_consent_at_once_with_method_unsubscribe_link(
    tenant, kind: str
) -> None:
    register_newsletter(tenant)
    subscriber(tenant)
    path = unsubscribe_path(tenant)
    content_type, body = BODIES[kind]
    response = tenant.client.post(
        path, content=body, headers={"Content-Type": content_type}, follow_redirects=False
    )
    text = assert_html(response, 200, "nl")
    assert not response.is_redirect and "location" not in response.headers
    assert "U bent afgemeld" in text and NEWSLETTER_TITLE in text
    assert "<button" not in text
    withdrawn = events_of(tenant, "ConsentWithdrawn")
    assert len(withdrawn) == 1
    assert withdrawn[0]["purpose"] == NEWSLETTER
    assert withdrawn[0]["details"]["method"] == "unsubscribe_link"
    assert standing(tenant) == ("lapsed", "withdrawn")


def test_repeated_one_click_post_answers_200_and_records_nothing_new(tenant, database_url) -> None:
    register_newsletter(tenant)
    subscriber(tenant)
    path = unsubscribe_path(tenant)
    assert_html(one_click(tenant.client, path), 200)
    after_first, count = history(tenant), event_count(database_url)
    for _ in range(3):
        again = one_click(tenant.client, path)
        assert "U bent afgemeld" in assert_html(again, 200)
    english = one_click(tenant.client, path, **{"Accept-Language": "en"})
    assert "You have been unsubscribed" in assert_html(english, 200, "en")
    assert history(tenant) == after_first
    assert event_count(database_url) == count
    assert len(events_of(tenant, "ConsentWithdrawn")) == 1
    assert standing(tenant) == ("lapsed", "withdrawn")


def test_one_click_on_direct_marketing_legitimate_interest_lodges_the_absolute_objection(
    tenant,
) -> None:
    register_tips(tenant)
    tenant.put_subject("client-1")
    established = tenant.call(
        "POST",
        "/v1/subjects/client-1/bases",
        json={
            "purpose": TIPS,
            "basis": "legitimate_interest",
            "reference": "intake-2025-03",
            "opt_out_offered": True,
            "effective_at": "2025-03-03T09:00:00Z",
        },
    )
    assert established.status_code == 201, established.text
    assert standing(tenant, purpose=TIPS) == ("lawful", None)
    path = unsubscribe_path(tenant, purpose=TIPS)
    assert_html(tenant.client.get(path), 200)
    assert standing(tenant, purpose=TIPS) == ("lawful", None)

    assert "U bent afgemeld" in assert_html(one_click(tenant.client, path), 200)
    objections = events_of(tenant, "ObjectionLodged")
    assert len(objections) == 1 and objections[0]["purpose"] == TIPS
    assert standing(tenant, purpose=TIPS) == ("lapsed", "objection")  # R17: no restriction
    after = history(tenant)
    assert_html(one_click(tenant.client, path), 200)
    assert history(tenant) == after


def test_one_click_for_a_subject_who_never_subscribed_answers_200_and_records_nothing(
    tenant, database_url
) -> None:
    register_newsletter(tenant)
    tenant.put_subject("client-1")
    path = unsubscribe_path(tenant)
    count = event_count(database_url)
    assert "U bent afgemeld" in assert_html(one_click(tenant.client, path), 200)
    assert event_count(database_url) == count
    assert standing(tenant) == ("none", None)


# -- forged, altered, moved tokens -----------------------------------------------------------

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _changed(char: str) -> str:
    if char.isdigit() and char != "9":
        return str(int(char) + 1)
    return ALPHABET[(ALPHABET.index(char) + 1) % len(ALPHABET)]


def forgeries(token: str) -> dict[str, str]:
    """One changed character in each part (first and last), truncated, extended, …"""
    parts = token.split(".")
    variants: dict[str, str] = {}
    for index, part in enumerate(parts):
        for position in {0, len(part) - 1}:
            changed = part[:position] + _changed(part[position]) + part[position + 1 :]
            variants[f"part{index}@{position}"] = ".".join(
                [*parts[:index], changed, *parts[index + 1 :]]
            )
    variants |= {
        "truncated": token[:-1],
        "truncated-part": ".".join(parts[:2]),
        "extended": token + "A",
        "extra-part": token + ".AAAA",
        "leading-zero-key": "0" + token,
        "upper-cased": token.upper(),
        "padded": token + "==",
    }
    assert all(v != token for v in variants.values())
    return variants


GARBAGE = {
    "word": "hello",
    "dots": "1.2.3",
    "empty-parts": "1..",
    "snowman": "%E2%98%83",
    "nul": "%00",
    "quote": "%22%3E%3Cscript%3Ealert(1)%3C%5Cscript%3E",
    "sql": "1'%20OR%20'1'%3D'1",
    "shape-but-unknown": "1." + "A" * 22 + "." + "A" * 22,
    "huge-key-id": "9999." + "A" * 22 + "." + "A" * 22,
}


def invalid_page(client: TestClient) -> str:
    return assert_html(client.get("/u/hello"), 404)


def assert_same_404_page(client: TestClient, path: str, reference: str, why: str = "") -> None:
    for response in (
        client.get(path),
        client.post(path, content=ONE_CLICK.encode(), headers={"Content-Type": FORM}),
    ):
        assert response.status_code == 404, (why, path, response.status_code, response.text)
        assert_html(response, 404)
        assert response.text == reference, (why, path)
        assert "Deze link werkt niet" in response.text


def test_forged_altered_and_garbage_tokens_get_the_same_404_page_and_change_nothing(
    tenant, database_url
) -> None:
    register_newsletter(tenant)
    subscriber(tenant)
    path = unsubscribe_path(tenant)
    signup = tenant.call(
        "POST", "/v1/newsletter/signups", json={"purpose": NEWSLETTER, "email": "b@example.nl"}
    )
    confirm_path = path_of(signup.json()["confirm_url"])
    reference = invalid_page(tenant.client)
    before, count, rows = history(tenant), event_count(database_url), link_token_rows(database_url)
    for name, forged in forgeries(token_of(path)).items():
        assert_same_404_page(tenant.client, f"/u/{forged}", reference, name)
    for name, forged in forgeries(token_of(confirm_path)).items():
        assert_same_404_page(tenant.client, f"/c/{forged}", reference, name)
    for name, garbage in GARBAGE.items():
        assert_same_404_page(tenant.client, f"/u/{garbage}", reference, name)
        assert_same_404_page(tenant.client, f"/c/{garbage}", reference, name)
    # a token of one kind does not work on the other's path
    assert_same_404_page(tenant.client, f"/u/{token_of(confirm_path)}", reference)
    assert_same_404_page(tenant.client, f"/c/{token_of(path)}", reference)
    assert history(tenant) == before
    assert event_count(database_url) == count
    assert link_token_rows(database_url) == rows
    assert standing(tenant) == ("lawful", None)
    # and the genuine ones still work afterwards
    assert_html(tenant.client.get(path), 200)
    assert_html(tenant.client.get(confirm_path), 200)


def test_over_long_token_gets_the_same_404_page_and_changes_nothing(tenant, database_url) -> None:
    register_newsletter(tenant)
    subscriber(tenant)
    real = token_of(unsubscribe_path(tenant))
    reference = invalid_page(tenant.client)
    count = event_count(database_url)
    for long_token in ("A" * 500, real + "A" * (500 - len(real)), "1." + "A" * 498):
        assert_same_404_page(tenant.client, f"/u/{long_token}", reference)
        assert_same_404_page(tenant.client, f"/c/{long_token}", reference)
    assert event_count(database_url) == count
    assert standing(tenant) == ("lawful", None)


def test_a_token_only_ever_affects_its_own_tenant_subject_and_purpose(
    make_tenant, database_url
) -> None:
    a, b = make_tenant(), make_tenant()
    for t in (a, b):  # the same subject ref and purpose code in both tenants
        register_newsletter(t)
        register_newsletter(t, EVENTS, "Uitnodigingen voor bijeenkomsten")
        subscriber(t, "client-1")
        given = t.consent("client-1", EVENTS, method="email", explicit=False)
        assert given.status_code == 201, given.text
        subscriber(t, "client-2")
    token_a, token_b = token_of(unsubscribe_path(a)), token_of(unsubscribe_path(b))
    assert token_a != token_b
    reference = invalid_page(a.client)
    count = event_count(database_url)
    # moving the MAC of one tenant's token onto the other's id does not make a valid token
    key_a, id_a, mac_a = token_a.split(".")
    key_b, id_b, mac_b = token_b.split(".")
    for moved in (f"{key_a}.{id_a}.{mac_b}", f"{key_b}.{id_b}.{mac_a}"):
        assert_same_404_page(a.client, f"/u/{moved}", reference)
    assert event_count(database_url) == count

    assert "U bent afgemeld" in assert_html(one_click(a.client, f"/u/{token_a}"), 200)
    assert standing(a, "client-1") == ("lapsed", "withdrawn")
    # … and nothing else: not the other tenant, not the other subject, not the other purpose
    assert standing(b, "client-1") == ("lawful", None)
    assert standing(a, "client-2") == ("lawful", None)
    assert standing(a, "client-1", EVENTS) == ("lawful", None)
    assert standing(b, "client-2") == ("lawful", None)
    assert not events_of(b, "ConsentWithdrawn", "client-1")
    assert event_count(database_url) == count + 1


# -- double opt-in ---------------------------------------------------------------------------


def signup(tenant, email: str, purpose: str = NEWSLETTER, client=None, **fields: Any):
    headers = {"Authorization": f"Bearer {tenant.key}"}
    return (client or tenant.client).post(
        "/v1/newsletter/signups",
        json={"purpose": purpose, "email": email, **fields},
        headers=headers,
    )


def test_double_opt_in_records_consent_only_on_the_confirming_post(tenant, database_url) -> None:
    register_newsletter(tenant)
    response = signup(tenant, "piet@example.nl")
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"subject_ref", "confirm_url", "expires_at"}
    ref, path = body["subject_ref"], path_of(body["confirm_url"])
    assert re.fullmatch(r"/c/\d{1,4}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}", path)
    assert "piet" not in ref
    assert standing(tenant, ref) == ("none", None)

    before, count = history(tenant, ref), event_count(database_url)
    for _ in range(2):
        page = assert_html(tenant.client.get(path), 200)
        assert '<button type="submit">Bevestigen</button>' in page and NEWSLETTER_TITLE in page
    assert "Confirm</button>" in assert_html(
        tenant.client.get(path, headers={"Accept-Language": "en"}), 200, "en"
    )
    assert history(tenant, ref) == before and event_count(database_url) == count
    assert standing(tenant, ref) == ("none", None)

    confirmed = tenant.client.post(path, content=b"", headers={"Content-Type": FORM})
    assert "Aanmelding bevestigd" in assert_html(confirmed, 200)
    given = events_of(tenant, "ConsentGiven", ref)
    assert len(given) == 1
    details = given[0]["details"]
    assert details["method"] == "double_opt_in"
    assert details["evidence"]["document_ref"].startswith("double-opt-in:")
    assert standing(tenant, ref) == ("lawful", None)

    after = history(tenant, ref)
    for _ in range(2):
        assert "Aanmelding bevestigd" in assert_html(tenant.client.post(path), 200)
    assert history(tenant, ref) == after
    assert len(events_of(tenant, "ConsentGiven", ref)) == 1


def test_signing_up_the_same_address_again_finds_the_same_subject_and_changes_nothing(
    tenant, database_url
) -> None:
    register_newsletter(tenant)
    first = signup(tenant, "Marie.Bakker@Example.NL")
    assert first.status_code == 201, first.text
    ref = first.json()["subject_ref"]
    assert_html(tenant.client.post(path_of(first.json()["confirm_url"])), 200)
    after, count = history(tenant, ref), event_count(database_url)
    again = signup(tenant, "marie.bakker@example.nl")
    assert again.status_code == 201, again.text
    assert again.json()["subject_ref"] == ref
    again_path = path_of(again.json()["confirm_url"])
    assert again_path != path_of(first.json()["confirm_url"])
    assert "Aanmelding bevestigd" in assert_html(tenant.client.post(again_path), 200)
    assert history(tenant, ref) == after
    assert event_count(database_url) == count
    assert len(events_of(tenant, "ConsentGiven", ref)) == 1


def test_signing_up_the_same_address_with_surrounding_whitespace_finds_the_same_subject(
    tenant,
) -> None:
    register_newsletter(tenant)
    first = signup(tenant, "marie@example.nl")
    assert first.status_code == 201, first.text
    again = signup(tenant, "  Marie@Example.nl ")
    assert again.status_code == 201, again.text
    assert again.json()["subject_ref"] == first.json()["subject_ref"]


def test_signup_for_a_purpose_not_resting_on_consent_is_409(tenant) -> None:
    register_tips(tenant)
    register_invoicing(tenant)
    assert_problem(signup(tenant, "jan@example.nl", TIPS), 409, rule="R19")
    assert_problem(signup(tenant, "jan@example.nl", INVOICING), 409, rule="R20")
    assert_problem(signup(tenant, "jan@example.nl", "not-registered"), 409, rule="R2")


@pytest.mark.parametrize(
    "email",
    ["not-an-email", "a@b@example.nl", "@example.nl", "jan@", "jan @example.nl", "a" * 400],
)
def test_signup_with_an_invalid_address_is_422(tenant, email: str) -> None:
    register_newsletter(tenant)
    body = assert_problem(signup(tenant, email), 422)
    assert body["field"] == "email"


def test_signup_needs_a_writer_key(tenant) -> None:
    register_newsletter(tenant)
    body = {"purpose": NEWSLETTER, "email": "jan@example.nl"}
    assert_problem(tenant.client.post("/v1/newsletter/signups", json=body), 401)
    reader = tenant.key_with("reader")
    assert_problem(tenant.call("POST", "/v1/newsletter/signups", json=body, key=reader), 403)


def test_expired_confirmation_answers_410_and_records_nothing(tenant, database_url) -> None:
    register_newsletter(tenant)
    with other_app(database_url, signup_ttl_hours=0.0001) as short:  # 0.36 s
        response = signup(tenant, "laat@example.nl", client=short)
        assert response.status_code == 201, response.text
        ref, path = response.json()["subject_ref"], path_of(response.json()["confirm_url"])
        time.sleep(0.6)
        before, count = history(tenant, ref), event_count(database_url)
        for client in (short, tenant.client):
            assert "Deze link is verlopen" in assert_html(client.get(path), 410)
            expired = client.post(path, content=b"", headers={"Content-Type": FORM})
            assert "Deze link is verlopen" in assert_html(expired, 410)
    assert history(tenant, ref) == before
    assert event_count(database_url) == count
    assert standing(tenant, ref) == ("none", None)


def _racing(client: TestClient, send, times: int = 8) -> list[int]:
    """``send(client)`` from ``times`` threads released together; their status codes."""
    barrier = threading.Barrier(times)

    def one(_: int) -> int:
        barrier.wait()
        return send(client).status_code

    with ThreadPoolExecutor(times) as pool:
        return list(pool.map(one, range(times)))


def test_concurrent_one_click_posts_record_one_withdrawal(tenant) -> None:
    register_newsletter(tenant)
    subscriber(tenant)
    path = unsubscribe_path(tenant)
    assert _racing(tenant.client, lambda c: one_click(c, path)) == [200] * 8
    assert len(events_of(tenant, "ConsentWithdrawn")) == 1
    assert standing(tenant) == ("lapsed", "withdrawn")


def test_concurrent_confirming_posts_record_one_consent(tenant) -> None:
    register_newsletter(tenant)
    counts, statuses = [], []
    for n in range(3):
        response = signup(tenant, f"dubbelklik{n}@example.nl")
        assert response.status_code == 201, response.text
        ref, path = response.json()["subject_ref"], path_of(response.json()["confirm_url"])
        statuses.append(_racing(tenant.client, lambda c, path=path: c.post(path)))
        counts.append(len(events_of(tenant, "ConsentGiven", ref)))
    assert counts == [1, 1, 1]
    assert statuses == [[200] * 8] * 3


def test_resubscribing_by_double_opt_in_after_unsubscribing_gives_consent_again(tenant) -> None:
    register_newsletter(tenant)
    first = signup(tenant, "terug@example.nl")
    ref = first.json()["subject_ref"]
    assert_html(tenant.client.post(path_of(first.json()["confirm_url"])), 200)
    assert_html(one_click(tenant.client, unsubscribe_path(tenant, ref)), 200)
    assert standing(tenant, ref) == ("lapsed", "withdrawn")
    again = signup(tenant, "terug@example.nl")
    assert again.json()["subject_ref"] == ref
    assert_html(tenant.client.post(path_of(again.json()["confirm_url"])), 200)
    assert standing(tenant, ref) == ("lawful", None)
    assert len(events_of(tenant, "ConsentGiven", ref)) == 2


def test_one_click_ends_a_consent_a_parent_gave_for_a_child(tenant) -> None:
    register_newsletter(tenant)
    today = datetime.now(UTC).date()
    tenant.put_subject("child-1", birth_date=date(today.year - 10, 1, 15).isoformat())
    parent = tenant.call(
        "POST",
        "/v1/subjects/child-1/representatives",
        json={
            "representative_ref": "mother",
            "kind": "parental_authority",
            "valid_from": "2010-01-01T00:00:00Z",
            "evidence": {"document_ref": "gezag-register-2016"},
        },
    )
    assert parent.status_code == 201, parent.text
    given = tenant.consent(
        "child-1", NEWSLETTER, method="email", explicit=False, representative_ref="mother"
    )
    assert given.status_code == 201, given.text
    assert standing(tenant, "child-1") == ("lawful", None)
    path = unsubscribe_path(tenant, "child-1")
    assert "U bent afgemeld" in assert_html(one_click(tenant.client, path), 200)
    assert standing(tenant, "child-1")[0] == "lapsed"
    assert len(events_of(tenant, "ConsentWithdrawn", "child-1")) == 1


# -- rate limit ------------------------------------------------------------------------------


def test_public_links_are_rate_limited_per_client_but_the_api_is_not(tenant, database_url) -> None:
    register_newsletter(tenant)
    subscriber(tenant)
    path = unsubscribe_path(tenant)
    auth = {"Authorization": f"Bearer {tenant.key}"}
    with other_app(database_url, public_rate_limit_per_minute=5) as limited:
        answers = [limited.get(path).status_code for _ in range(3)]
        answers += [limited.get("/u/hello").status_code, limited.get("/c/hello").status_code]
        assert answers == [200, 200, 200, 404, 404]
        assert limited.get(path).status_code == 429
        assert one_click(limited, path).status_code == 429
        assert limited.get("/c/hello").status_code == 429
        for _ in range(10):
            api = limited.get("/v1/subjects/client-1/standing/newsletter", headers=auth)
            assert api.status_code == 200, api.text
        created = limited.post(
            "/v1/subjects/client-1/unsubscribe-links", json={"purpose": NEWSLETTER}, headers=auth
        )
        assert created.status_code == 200, created.text
    assert standing(tenant) == ("lawful", None)  # the refused POST changed nothing


# -- logs ------------------------------------------------------------------------------------


class Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_no_email_address_in_any_log_record(tenant, caplog) -> None:
    """Also loggers that do not propagate to the root (where caplog listens) are watched."""
    register_newsletter(tenant)
    email = "geheim.adres@example.nl"
    collector = Collector()
    silent = [
        lg
        for lg in logging.Logger.manager.loggerDict.values()
        if isinstance(lg, logging.Logger) and not lg.propagate
    ]
    caplog.set_level(logging.DEBUG)
    for lg in silent:
        lg.addHandler(collector)
    try:
        response = signup(tenant, email)
        assert response.status_code == 201, response.text
        ref = response.json()["subject_ref"]
        assert_html(tenant.client.post(path_of(response.json()["confirm_url"])), 200)
        path = unsubscribe_path(tenant, ref)
        assert_html(tenant.client.get(path), 200)
        assert_html(one_click(tenant.client, path), 200)
        assert standing(tenant, ref) == ("lapsed", "withdrawn")
        again = signup(tenant, email.upper())
        assert again.status_code == 201
        assert_problem(signup(tenant, email + ".", "not-registered"), 409)
    finally:
        for lg in silent:
            lg.removeHandler(collector)
    records = caplog.records + collector.records
    for record in records:
        text = f"{record.getMessage()} {record.args!r} {record.exc_text or ''}".lower()
        assert "geheim" not in text, (record.name, text)
    assert "geheim" not in caplog.text.lower()
