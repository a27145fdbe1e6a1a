"""`grondslag keys create | list | revoke | rotate`: a key printed alone on stdout, stored
only as a keyed hash (HMAC-SHA-256 with the server's pepper), managed by its public id."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

PEPPER = "cli-test-pepper-0123456789abcdef"


def _keys(database_url: str, *args: str, pepper: str = PEPPER) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "GRONDSLAG_KEY_PEPPER": pepper}
    return subprocess.run(
        [sys.executable, "-m", "grondslag.cli", "keys", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _rows(database_url: str, tenant: str) -> list[asyncpg.Record]:
    async def stored() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(database_url)
        try:
            return await conn.fetch(
                "SELECT key_id, key_hash, hash_kind, tenant, roles, revoked_at, replaced_by "
                "FROM grondslag_api_keys WHERE tenant = $1 ORDER BY created_at",
                tenant,
            )
        finally:
            await conn.close()

    return asyncio.run(stored())


def _create(database_url: str, tenant: str, *roles: str) -> str:
    done = _keys(database_url, "create", "--tenant", tenant, *[f"--role={r}" for r in roles])
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_keys_create_prints_the_key_alone_and_stores_only_its_keyed_hash(
    database_url: str,
) -> None:
    done = _keys(
        database_url, "create", "--tenant", "praktijk-oost", "--role", "writer", "--role", "reader"
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("gs_") and len(lines[0]) > 40
    key = lines[0]
    [row] = _rows(database_url, "praktijk-oost")
    assert key.startswith(f"gs_{row['key_id']}_")  # the public id is part of the key
    assert sorted(row["roles"]) == ["reader", "writer"] and row["hash_kind"] == "hmac"
    stored = bytes(row["key_hash"])
    assert stored != hashlib.sha256(key.encode()).digest()  # not the unsalted hash
    assert stored == hmac.new(PEPPER.encode(), key.encode(), hashlib.sha256).digest()
    assert key.encode() not in stored


def test_keys_create_refuses_an_unknown_role_and_a_bad_tenant(database_url: str) -> None:
    assert _keys(database_url, "create", "--tenant", "x", "--role", "root").returncode == 2
    bad = _keys(database_url, "create", "--tenant", "Not A Tenant", "--role", "writer")
    assert bad.returncode == 2 and bad.stdout == "" and "tenant" in bad.stderr


def test_list_shows_ids_and_never_secrets(database_url: str) -> None:
    key = _create(database_url, "cli-list", "reader")
    [row] = _rows(database_url, "cli-list")
    listing = _keys(database_url, "list", "--tenant", "cli-list")
    assert listing.returncode == 0, listing.stderr
    assert row["key_id"] in listing.stdout and "reader" in listing.stdout
    assert key not in listing.stdout and key.split("_", 2)[2] not in listing.stdout
    assert "cli-list" not in _keys(database_url, "list", "--tenant", "other").stdout


def test_list_keeps_its_columns_whatever_their_width(database_url: str) -> None:
    tenant = "cli-list-a-tenant-wider-than-20"  # the old fixed column held 20
    _create(database_url, tenant, "reader", "writer", "auditor", "admin")
    head, row = _keys(database_url, "list", "--tenant", tenant).stdout.splitlines()
    assert head.split() == [
        "KEY",
        "ID",
        "TENANT",
        "ROLES",
        "KIND",
        "CREATED",
        "LAST",
        "USED",
        "REVOKED",
    ]
    # each value starts where its header does: no column pushed out by a wide one
    for header, value in (("TENANT", tenant), ("ROLES", "admin,auditor,reader,writer")):
        assert row[head.index(header) :].startswith(f"{value}  "), (head, row)
    assert row[head.index("KIND") :].startswith("-  "), (head, row)


def test_rotate_keeps_tenant_and_roles_and_revokes_the_old(database_url: str) -> None:
    _create(database_url, "cli-rotate", "writer", "reader")
    [old] = _rows(database_url, "cli-rotate")
    done = _keys(database_url, "rotate", old["key_id"])
    assert done.returncode == 0, done.stderr
    new_key = done.stdout.strip()
    assert len(done.stdout.splitlines()) == 1 and new_key.startswith("gs_")
    first, second = _rows(database_url, "cli-rotate")
    assert first["key_id"] == old["key_id"] and first["revoked_at"] is not None
    assert first["replaced_by"] == second["key_id"] and second["revoked_at"] is None
    assert sorted(second["roles"]) == ["reader", "writer"]
    assert new_key.startswith(f"gs_{second['key_id']}_")
    # the old key is revoked: it cannot be rotated again
    assert _keys(database_url, "rotate", old["key_id"]).returncode == 1


def test_rotate_with_grace_leaves_the_old_key_working_a_while(database_url: str) -> None:
    _create(database_url, "cli-grace", "reader")
    [old] = _rows(database_url, "cli-grace")
    assert _keys(database_url, "rotate", old["key_id"], "--grace", "P1D").returncode == 0
    first, _ = _rows(database_url, "cli-grace")

    async def live() -> bool:
        conn = await asyncpg.connect(database_url)
        try:
            return await conn.fetchval(
                "SELECT revoked_at > now() + interval '23 hours' FROM grondslag_api_keys "
                "WHERE key_id = $1",
                first["key_id"],
            )
        finally:
            await conn.close()

    assert asyncio.run(live())
    assert _keys(database_url, "rotate", old["key_id"], "--grace", "soon").returncode == 2


def test_revoke_refuses_the_last_admin_key_unless_forced(database_url: str) -> None:
    _create(database_url, "cli-revoke", "admin")
    [admin] = _rows(database_url, "cli-revoke")
    refused = _keys(database_url, "revoke", admin["key_id"])
    assert refused.returncode == 1 and "last live admin key" in refused.stderr
    assert _rows(database_url, "cli-revoke")[0]["revoked_at"] is None
    forced = _keys(database_url, "revoke", admin["key_id"], "--force")
    assert forced.returncode == 0, forced.stderr
    assert _rows(database_url, "cli-revoke")[0]["revoked_at"] is not None
    assert _keys(database_url, "revoke", "0123456789abcdef").returncode == 1


@pytest.mark.parametrize("key", ["dev-key", "aaaaaaaaaaaaaaaaaaaa"])
def test_serve_refuses_a_weak_bootstrap_key_with_a_configured_database(
    database_url: str, key: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "GRONDSLAG_BOOTSTRAP_KEY": key,
        "GRONDSLAG_DATA_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "grondslag.cli", "serve", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "GRONDSLAG_BOOTSTRAP_KEY is weak" in done.stderr


def test_a_command_that_makes_a_new_embedded_database_says_so_once(tmp_path: Path) -> None:
    """Without DATABASE_URL and with no serve running in its data folder, `keys create`
    starts the embedded database of that folder: a folder that had none gets a new, empty
    one, which a serve running with another data folder never sees (its key answers 401
    there); one line says so, that time only."""
    folder = tmp_path / "elsewhere"
    keep = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NATS_URL")}
    env = keep | {"GRONDSLAG_DATA_DIR": str(folder), "GRONDSLAG_KEY_PEPPER": PEPPER}
    said = f"grondslag: no database was in {folder.resolve()}: made a new one for this command"

    def create() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "grondslag.cli", "keys", "create", "--tenant", "demo",
             "--role", "reader"],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    first = create()
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("gs_")  # the key is made all the same
    lines = [line for line in first.stderr.splitlines() if line.startswith("grondslag:")]
    assert len(lines) == 1 and lines[0].startswith(said), first.stderr
    assert "GRONDSLAG_DATA_DIR" in lines[0]
    again = create()  # the folder has its database now: nothing to say
    assert again.returncode == 0, again.stderr
    assert "grondslag:" not in again.stderr, again.stderr
