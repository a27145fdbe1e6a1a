"""The auditor's session: a random id in the cookie (never the key), stored hashed with an
idle and an absolute expiry, revoked at sign-out and with its key; sign-in and sign-out
refused from another site's page (login CSRF); a key that may write refused at sign-in."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import asyncpg
from auditor_support import COOKIE, signed_in

from grondslag.ledger.keys import key_id_in

from newsletter_support import other_app

PAGE = "/audit/subjects/client-1"
SESSIONS = "grondslag_auditor_sessions"


def sql(database_url: str, query: str, *args: Any) -> Any:
    async def run() -> Any:
        conn = await asyncpg.connect(database_url)
        try:
            return await conn.fetch(query, *args)
        finally:
            await conn.close()

    return asyncio.run(run())


def session_of(cookie: dict[str, str]) -> str:
    return cookie["Cookie"].split("=", 1)[1]


def is_sign_in_page(response: Any, status: int = 401) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "Auditor sign-in" in response.text


def test_the_cookie_holds_a_random_session_id_stored_only_hashed(ready, database_url) -> None:
    key = ready.key_with("auditor")
    answer = ready.client.post(
        "/audit/sign-in", data={"key": key, "next": PAGE}, follow_redirects=False
    )
    ready.client.cookies.clear()
    assert answer.status_code == 303 and answer.headers["location"] == PAGE
    set_cookie = answer.headers["set-cookie"]
    session = answer.cookies[COOKIE]
    assert key not in set_cookie and len(session) >= 43  # 256 bits, url-safe base64
    for attribute in ("HttpOnly", "Path=/audit", "SameSite=Strict"):
        assert attribute.lower() in set_cookie.lower(), set_cookie
    assert "secure" not in set_cookie.lower()  # served over http here
    digest = hashlib.sha256(session.encode()).digest()
    (row,) = sql(database_url, f"SELECT * FROM {SESSIONS} WHERE session_hash = $1", digest)
    assert row["tenant"] == ready.name and row["revoked_at"] is None
    assert 7.9 * 3600 < (row["expires_at"] - row["created_at"]).total_seconds() <= 8 * 3600
    stored = sql(database_url, f"SELECT count(*) FROM {SESSIONS} WHERE session_hash = $1",
                 session.encode())  # fmt: skip
    assert stored[0][0] == 0  # not in the clear
    page = ready.client.get(PAGE, headers={"Cookie": f"{COOKIE}={session}"})
    assert page.status_code == 200 and "client-1" in page.text and "sign-out" in page.text


def test_the_key_itself_is_no_longer_a_cookie(ready) -> None:
    key = ready.key_with("auditor")
    is_sign_in_page(ready.client.get(PAGE, headers={"Cookie": f"{COOKIE}={key}"}))


def test_sign_out_revokes_the_session_and_the_replayed_cookie_is_refused(ready) -> None:
    cookie = signed_in(ready.client, ready.key_with("auditor"))
    assert ready.client.get(PAGE, headers=cookie).status_code == 200
    out = ready.client.post("/audit/sign-out", headers=cookie, follow_redirects=False)
    ready.client.cookies.clear()
    assert out.status_code == 303 and out.headers["location"] == "/audit"
    assert (
        "max-age=0" in out.headers["set-cookie"].lower()
        or "expires" in out.headers["set-cookie"].lower()
    )
    is_sign_in_page(ready.client.get(PAGE, headers=cookie))  # the cookie kept and replayed


def test_a_key_that_may_write_or_administer_is_refused_at_sign_in(ready, database_url) -> None:
    """Least privilege: the auditor's pages only read."""
    before = sql(database_url, f"SELECT count(*) FROM {SESSIONS} WHERE tenant = $1", ready.name)
    for roles in (("auditor", "writer"), ("auditor", "admin"), tuple(ready_roles())):
        answer = ready.client.post("/audit/sign-in", data={"key": ready.key_with(*roles)})
        assert answer.status_code == 403, (roles, answer.text)
        assert "writer or admin" in answer.text and COOKIE not in answer.headers.get(
            "set-cookie", ""
        )
    lacking = ready.client.post("/audit/sign-in", data={"key": ready.key_with("reader")})
    assert lacking.status_code == 403 and "lacks the auditor role" in lacking.text
    after = sql(database_url, f"SELECT count(*) FROM {SESSIONS} WHERE tenant = $1", ready.name)
    assert after == before
    assert signed_in(ready.client, ready.key_with("auditor", "reader", "metrics"))


def ready_roles() -> list[str]:
    from grondslag.ledger.keys import ROLES

    return list(ROLES)


def test_a_sign_in_from_another_site_is_refused(ready, database_url) -> None:
    """Login CSRF: a foreign page's form must not sign the visitor in (with its own key)."""
    key = ready.key_with("auditor")
    form = {"key": key, "next": "/audit"}
    foreign = [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://testserver.local.evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Referer": "https://evil.example/page.html"},
        {"Origin": "https://evil.example", "Sec-Fetch-Site": "same-origin"},
        {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
    ]
    for headers in foreign:
        answer = ready.client.post("/audit/sign-in", data=form, headers=headers)
        assert answer.status_code == 403, (headers, answer.text)
        assert answer.headers["content-type"].startswith("text/html")
        assert "another site" in answer.text
        assert "set-cookie" not in answer.headers, headers
    rows = sql(database_url, f"SELECT count(*) FROM {SESSIONS} WHERE tenant = $1", ready.name)
    assert rows[0][0] == 0
    own = [
        {"Origin": "http://testserver.local"},  # the request's own origin
        {"Origin": "http://127.0.0.1:8000"},  # GRONDSLAG_PUBLIC_URL's
        {"Sec-Fetch-Site": "same-origin"},
        {"Referer": "http://testserver.local/audit"},
        # Chromium's own form under Referrer-Policy: no-referrer
        {"Origin": "null", "Sec-Fetch-Site": "same-origin"},
    ]
    for headers in own:
        assert signed_in(ready.client, key, **headers)


def test_a_sign_out_from_another_site_is_refused_and_the_session_stays(ready) -> None:
    cookie = signed_in(ready.client, ready.key_with("auditor"))
    headers = {**cookie, "Origin": "https://evil.example"}
    answer = ready.client.post("/audit/sign-out", headers=headers, follow_redirects=False)
    assert answer.status_code == 403 and "another site" in answer.text
    assert ready.client.get(PAGE, headers=cookie).status_code == 200


def test_revoking_the_key_ends_its_sessions_at_once(ready, database_url) -> None:
    key = ready.key_with("auditor")
    cookie = signed_in(ready.client, key)
    assert ready.client.get(PAGE, headers=cookie).status_code == 200
    sql(database_url, "UPDATE grondslag_api_keys SET revoked_at = now() WHERE key_id = $1",
        key_id_in(key))  # fmt: skip
    is_sign_in_page(ready.client.get(PAGE, headers=cookie))


def test_a_session_ends_after_its_idle_limit_and_its_absolute_expiry(ready, database_url) -> None:
    idle, old = (signed_in(ready.client, ready.key_with("auditor")) for _ in range(2))
    for cookie in (idle, old):
        assert ready.client.get(PAGE, headers=cookie).status_code == 200
    hashed = [hashlib.sha256(session_of(c).encode()).digest() for c in (idle, old)]
    sql(database_url, f"UPDATE {SESSIONS} SET last_seen_at = now() - interval '31 minutes' "
        "WHERE session_hash = $1", hashed[0])  # fmt: skip
    sql(database_url, f"UPDATE {SESSIONS} SET expires_at = now() - interval '1 second' "
        "WHERE session_hash = $1", hashed[1])  # fmt: skip
    is_sign_in_page(ready.client.get(PAGE, headers=idle))
    is_sign_in_page(ready.client.get(PAGE, headers=old))


def test_the_cookie_is_secure_when_the_service_is_public_over_https(ready, database_url) -> None:
    with other_app(database_url, public_url="https://ledger.example") as secure:
        answer = secure.post(
            "/audit/sign-in",
            data={"key": ready.key_with("auditor")},
            headers={"Origin": "https://ledger.example"},
            follow_redirects=False,
        )
    assert answer.status_code == 303, answer.text
    assert "secure" in answer.headers["set-cookie"].lower()
