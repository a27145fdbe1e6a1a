"""The bootstrap key (``GRONDSLAG_BOOTSTRAP_KEY``) is created once and never revived: a
revoked bootstrap key stays revoked after a restart."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import hmac
import json
import secrets
import subprocess
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import asyncpg
import pytest
from litestar.testing import TestClient

from grondslag import cli
from grondslag.ledger.api.app import create_app
from grondslag.ledger.keys import ROLES
from grondslag.ledger.settings import Settings


def _settings(settings: Settings, tmp_path: Path, key: str, tenant: str) -> Settings:
    return dataclasses.replace(
        settings,
        bootstrap_key=key,
        bootstrap_tenant=tenant,
        key_pepper_file=tmp_path / "api-key-pepper",
        key_pepper=None,
    )


def _fetch(database_url: str, query: str, *args: object) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(database_url)
        try:
            return await conn.fetch(query, *args)
        finally:
            await conn.close()

    return asyncio.run(run())


def _revoke_the_bootstrap_key(client: TestClient, auth: dict[str, str]) -> dict[str, str]:
    """As the README advises: another admin key made with it, then it revoked by that one
    (whose header this answers)."""
    [boot] = client.get("/v1/keys", headers=auth).json()["keys"]
    assert boot["bootstrap"] and boot["roles"] == sorted(ROLES)
    made = client.post("/v1/keys", headers=auth, json={"roles": ["admin"]}).json()
    other = {"Authorization": f"Bearer {made['key']}"}
    revoked = client.post(f"/v1/keys/{boot['key_id']}/revocation", headers=other)
    assert revoked.status_code == 200, revoked.text
    return other


def test_a_revoked_bootstrap_key_stays_revoked_after_a_restart(
    settings: Settings, database_url: str, tmp_path: Path
) -> None:
    key, tenant = secrets.token_urlsafe(24), f"boot-{secrets.token_hex(4)}"
    auth = {"Authorization": f"Bearer {key}"}
    ours = _settings(settings, tmp_path, key, tenant)
    with TestClient(create_app(ours), raise_server_exceptions=False) as client:
        assert client.get("/v1/purposes", headers=auth).status_code == 200
        other = _revoke_the_bootstrap_key(client, auth)
    with TestClient(create_app(ours), raise_server_exceptions=False) as client:  # restart
        assert client.get("/v1/purposes", headers=auth).status_code == 401
        assert client.get("/v1/purposes", headers=other).status_code == 200
    rows = _fetch(
        database_url, "SELECT revoked_at FROM grondslag_api_keys WHERE tenant = $1", tenant
    )
    assert len(rows) == 2  # the restart made no second bootstrap key


def test_the_bootstrap_key_of_an_older_installation_is_rehashed_at_start_not_revived(
    settings: Settings, database_url: str, tmp_path: Path
) -> None:
    key, tenant = secrets.token_urlsafe(24), f"boot-{secrets.token_hex(4)}"
    legacy = hashlib.sha256(key.encode()).digest()
    _fetch(  # as an older version left it: unsalted, revoked with SQL
        database_url,
        "INSERT INTO grondslag_api_keys (key_hash, tenant, roles, revoked_at, key_id) "
        "VALUES ($1::bytea, $2, $3, now(), encode(substr($1::bytea, 1, 8), 'hex'))",
        legacy,
        tenant,
        ["admin", "reader"],
    )
    ours = _settings(settings, tmp_path, key, tenant)
    with TestClient(create_app(ours), raise_server_exceptions=False) as client:
        pepper = client.app.state.key_pepper
        response = client.get("/v1/purposes", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 401
    [row] = _fetch(
        database_url,
        "SELECT key_hash, hash_kind, revoked_at, bootstrap FROM grondslag_api_keys "
        "WHERE tenant = $1",
        tenant,
    )
    assert row["hash_kind"] == "hmac" and row["revoked_at"] is not None and row["bootstrap"]
    assert bytes(row["key_hash"]) == hmac.new(pepper, key.encode(), hashlib.sha256).digest()


def test_the_pepper_file_is_made_once_with_mode_0600(settings: Settings, tmp_path: Path) -> None:
    ours = _settings(settings, tmp_path, secrets.token_urlsafe(24), f"boot-{secrets.token_hex(4)}")
    with TestClient(create_app(ours), raise_server_exceptions=False) as client:
        first = client.app.state.key_pepper
    path = tmp_path / "api-key-pepper"
    assert path.stat().st_mode & 0o777 == 0o600 and len(first) >= 32
    with TestClient(create_app(ours), raise_server_exceptions=False) as client:
        assert client.app.state.key_pepper == first
    given = dataclasses.replace(ours, key_pepper="from-the-environment-0123456789")
    with TestClient(create_app(given), raise_server_exceptions=False) as client:
        assert client.app.state.key_pepper == b"from-the-environment-0123456789"


def test_the_banner_and_status_say_so_when_the_bootstrap_key_is_revoked(
    settings: Settings,
    new_database: Callable[[str], AbstractContextManager[str]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`serve` started again with the bootstrap key still set, after it was revoked as the
    README advises: the banner does not offer it (it answers 401), nor does `grondslag
    status`, whatever the caller's own environment holds: both say what the database does."""
    key = secrets.token_urlsafe(24)
    with new_database("grondslag_boot") as url:
        ours = dataclasses.replace(
            _settings(settings, tmp_path, key, "demo"), database_url=url, data_dir=tmp_path
        )
        with TestClient(create_app(ours), raise_server_exceptions=False) as client:
            cli._banner(ours, postgres=False, nats=False)  # (its first start: it is live)
            assert "GRONDSLAG_BOOTSTRAP_KEY: tenant demo, every role" in capsys.readouterr().err
            auth = {"Authorization": f"Bearer {key}"}
            _revoke_the_bootstrap_key(client, auth)
        with TestClient(create_app(ours), raise_server_exceptions=False) as client:  # restart
            assert client.get("/v1/purposes", headers=auth).status_code == 401
            cli._banner(ours, postgres=False, nats=False)
        shown = capsys.readouterr().err
        assert "every role" not in shown, shown
        assert "GRONDSLAG_BOOTSTRAP_KEY is revoked" in shown, shown
        assert "1 live in the database" in shown and "grondslag keys create" in shown, shown

        # `grondslag status` of that serve (a live supervisor's file in its data folder)
        sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        try:
            state = {"supervisor": sleeper.pid, "processes": {}}
            (tmp_path / "supervisor-8123.json").write_text(json.dumps(state))
            monkeypatch.setenv("DATABASE_URL", url)
            monkeypatch.setenv("NATS_URL", "nats://127.0.0.1:4222")
            monkeypatch.setenv("GRONDSLAG_DATA_DIR", str(tmp_path))
            monkeypatch.setenv("GRONDSLAG_KEY_PEPPER_FILE", str(tmp_path / "api-key-pepper"))
            for caller in ({"GRONDSLAG_BOOTSTRAP_KEY": key}, {}):
                monkeypatch.delenv("GRONDSLAG_BOOTSTRAP_KEY", raising=False)
                for name, value in caller.items():
                    monkeypatch.setenv(name, value)
                assert cli.status(argparse.Namespace()) == 0
                out = capsys.readouterr().out
                assert "every role" not in out, out
                assert "GRONDSLAG_BOOTSTRAP_KEY is revoked" in out, out
                assert "1 live in the database" in out, out
        finally:
            sleeper.kill()
            sleeper.wait()
