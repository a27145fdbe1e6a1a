"""No token, key or query-string secret in any log line of a real `grondslag serve`
(supervisor, API worker, projector; uvicorn's access log at level info): a double opt-in
confirmed, an unsubscribe link opened and used, an unknown link tried, the auditor signed in
and out (its key and session id), and secrets sent in query strings — then every line of
its output is searched for each of them."""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx

from chromium_devtools import serving

KEY = f"e2e-logs-{secrets.token_hex(16)}"
PEPPER = secrets.token_urlsafe(32)  # the server's (GRONDSLAG_KEY_PEPPER): the test makes keys too
PURPOSE = "newsletter"
NOTICE = {"version": "2025-01", "url": "https://praktijk.example/privacy", "sha256": "d" * 64}
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def _env(database_url: str, nats_url: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRONDSLAG_")}
    return env | {
        "DATABASE_URL": database_url,
        "NATS_URL": nats_url,
        "GRONDSLAG_DATA_DIR": str(data_dir),
        "GRONDSLAG_BOOTSTRAP_KEY": KEY,
        "GRONDSLAG_KEY_PEPPER": PEPPER,
        "GRONDSLAG_BOOTSTRAP_TENANT": f"logs-{secrets.token_hex(4)}",
    }


async def _auditor_key(database_url: str, tenant: str, pepper: bytes) -> str:
    from grondslag.ledger.keys import create_key

    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:
        return (await create_key(pool, tenant, ["auditor"], pepper=pepper)).key
    finally:
        await pool.close()


def test_no_token_key_or_query_secret_in_any_log_line(
    own_database_url: str, nats_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "serve.log"
    used: dict[str, str] = {"the bootstrap key": KEY}
    env = _env(own_database_url, nats_url, tmp_path / "data")
    with serving(env, log) as api:
        http = httpx.Client(base_url=api, headers={"Authorization": f"Bearer {KEY}"}, timeout=10)
        purpose = {
            "code": PURPOSE,
            "title": "Nieuwsbrief",
            "basis": "consent",
            "direct_marketing": True,
            "notice": NOTICE,
            "effective_at": "2025-01-01T00:00:00Z",
        }
        assert http.post("/v1/purposes", json=purpose).status_code == 201
        signup = http.post(
            "/v1/newsletter/signups", json={"purpose": PURPOSE, "email": "lezer@example.nl"}
        )
        assert signup.status_code == 201, signup.text
        confirm = urlsplit(signup.json()["confirm_url"]).path
        used["the confirmation token"] = confirm.rsplit("/", 1)[1]
        assert httpx.get(api + confirm).status_code == 200
        assert httpx.post(api + confirm).status_code == 200
        ref = signup.json()["subject_ref"]

        made = http.post(f"/v1/subjects/{ref}/unsubscribe-links", json={"purpose": PURPOSE})
        assert made.status_code == 200, made.text
        unsubscribe = urlsplit(made.json()["url"]).path
        used["the unsubscribe token"] = unsubscribe.rsplit("/", 1)[1]
        assert httpx.get(api + unsubscribe).status_code == 200
        clicked = httpx.post(api + unsubscribe, data=ONE_CLICK)
        assert clicked.status_code == 200, clicked.text

        unknown = secrets.token_urlsafe(24)
        used["an unknown link's token"] = unknown
        assert httpx.get(f"{api}/u/{unknown}").status_code == 404
        assert httpx.get(f"{api}/c/{unknown}x").status_code in (404, 410)

        secret = secrets.token_hex(12)
        used["a query string's secret"] = secret
        assert httpx.get(f"{api}/health/live?api_key={secret}").status_code == 200
        stray = http.get(f"/v1/purposes?token={secret}")  # refused: it takes no parameter
        assert stray.status_code == 422 and secret not in stray.text, stray.text

        wrong = f"gs_{secrets.token_urlsafe(32)}"  # a key that is refused, in the header
        used["a refused key"] = wrong
        refused = httpx.get(f"{api}/v1/purposes", headers={"Authorization": f"Bearer {wrong}"})
        assert refused.status_code == 401
        auditor = asyncio.run(
            _auditor_key(own_database_url, env["GRONDSLAG_BOOTSTRAP_TENANT"], PEPPER.encode())
        )
        used["the auditor's key"] = auditor
        form = {"key": auditor, "next": f"/audit/subjects/{ref}"}
        signed = httpx.post(f"{api}/audit/sign-in", data=form, headers={"Origin": api})
        assert signed.status_code == 303, signed.text
        session = signed.cookies["grondslag_auditor"]
        used["the auditor's session id"] = session
        cookie = {"Cookie": f"grondslag_auditor={session}"}
        assert httpx.get(f"{api}/audit/subjects/{ref}?at=2026-01-01", headers=cookie).is_success
        out = httpx.post(f"{api}/audit/sign-out", headers={**cookie, "Origin": api})
        assert out.status_code == 303

    lines = log.read_text(errors="replace").splitlines()
    for what, value in used.items():
        found = [line for line in lines if value in line]
        assert not found, f"{what} is in the log: {found[:3]}"
    access = [line for line in lines if '" 200' in line or '" 404' in line]
    assert any("/u/…" in line for line in access), "\n".join(lines[-40:])  # the log was read
    assert any("/c/…" in line for line in access), "\n".join(lines[-40:])
    assert any("/health/live?…" in line for line in access), "\n".join(lines[-40:])


def test_a_forged_x_forwarded_for_does_not_reset_the_limit_of_a_real_server(
    own_database_url: str, nats_url: str, tmp_path: Path
) -> None:
    """Over real HTTP from 127.0.0.1, which uvicorn's own proxy handling trusted: each
    request names another client in ``X-Forwarded-For``, and the limit still counts them
    all as ours; the refusal is an HTML page with ``Retry-After``."""
    env = _env(own_database_url, nats_url, tmp_path / "data") | {"GRONDSLAG_PUBLIC_RATE_LIMIT": "5"}
    with serving(env, tmp_path / "serve.log") as api:
        answers = [
            httpx.get(f"{api}/u/unknown", headers={"X-Forwarded-For": f"198.51.100.{n}"})
            for n in range(8)
        ]
    assert [a.status_code for a in answers] == [404] * 5 + [429] * 3
    refused = answers[-1]
    assert refused.headers["content-type"].startswith("text/html")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
