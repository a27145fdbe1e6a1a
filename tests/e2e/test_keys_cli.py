"""`grondslag keys create` prints the new key alone on stdout, stored only as a hash."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys

import asyncpg


def _keys_create(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "grondslag.cli", "keys", "create", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_keys_create_prints_the_key_alone_and_stores_only_its_hash(database_url: str) -> None:
    done = _keys_create(
        database_url, "--tenant", "praktijk-oost", "--role", "writer", "--role", "reader"
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("gs_") and len(lines[0]) > 40
    key = lines[0]

    async def stored() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(database_url)
        try:
            return await conn.fetch(
                "SELECT key_hash, tenant, roles FROM grondslag_api_keys "
                "WHERE tenant = 'praktijk-oost'"
            )
        finally:
            await conn.close()

    rows = asyncio.run(stored())
    assert [(bytes(r["key_hash"]), sorted(r["roles"])) for r in rows] == [
        (hashlib.sha256(key.encode()).digest(), ["reader", "writer"])
    ]
    assert key.encode() not in b"".join(bytes(r["key_hash"]) for r in rows)


def test_keys_create_refuses_an_unknown_role_and_a_bad_tenant(database_url: str) -> None:
    assert _keys_create(database_url, "--tenant", "x", "--role", "root").returncode == 2
    bad = _keys_create(database_url, "--tenant", "Not A Tenant", "--role", "writer")
    assert bad.returncode == 2 and bad.stdout == "" and "tenant" in bad.stderr
