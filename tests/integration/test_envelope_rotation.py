"""Rotating the key-encryption key on a running app (``grondslag keys rotate-master``, in a
process of its own), and a tenant's link secret (``grondslag keys rotate-links``)."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import psycopg
import pytest
from litestar.testing import TestClient

from grondslag.ledger import envelope, links
from grondslag.ledger.api.app import create_app
from grondslag.ledger.domain.values import PersonalData
from grondslag.ledger.persistence import rewrap
from grondslag.ledger.settings import Settings

from newsletter_support import register_newsletter, subscriber, token_of, unsubscribe_path

REPO = Path(__file__).resolve().parents[2]


def _grondslag(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "grondslag.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={**os.environ, **env},
    )


@pytest.fixture
def own_app(
    new_database: Callable[[str], Any], private_dir: Path
) -> Iterator[tuple[Settings, TestClient]]:
    """An app of its own database and keyring file; the process's keyring is put back."""
    previous = envelope.installed()
    try:
        with new_database("grondslag_envelope") as url:
            settings = Settings(
                database_url=url,
                data_dir=private_dir,
                audit_key_file=private_dir / "audit-signing-key.pem",
                write_pool_size=3,
                read_pool_size=2,
            )
            with TestClient(create_app(settings), raise_server_exceptions=False) as client:
                yield settings, client
    finally:
        envelope.install(previous)


def _in_use(url: str) -> dict[str | None, int]:
    with psycopg.connect(url, autocommit=True) as conn:
        return rewrap.kek_ids_in_use(conn)


def test_rotate_master_rewraps_every_key_while_the_app_writes_and_reads(own_app, tenant) -> None:
    settings, client = own_app
    assert settings.database_url
    tenant = type(tenant)(client, settings.database_url)  # the session's helper, on this app
    register_newsletter(tenant)
    people = {f"p-{i}": PersonalData(email=f"p{i}@rotation.example") for i in range(20)}
    for ref, data in people.items():
        tenant.put_subject(ref, email=data.email)
    subscriber(tenant, "p-0", email=people["p-0"].email)
    token = token_of(unsubscribe_path(tenant, "p-0"))
    path = settings.master_key_path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    old = envelope.read_keyring(path)[0].key_id
    assert set(_in_use(settings.database_url)) == {old}

    ledger = client.app.state.ledger
    stop, written, failures = threading.Event(), [], []

    def write() -> None:  # commands go on during the rotation
        i = 0
        while not stop.is_set():
            ref = f"during-{i}"
            try:
                ledger.put_subject(tenant.name, ref, PersonalData(email=f"{ref}@r.example"))
                assert ledger.personal_data(tenant.name, "p-1") == people["p-1"]
                written.append(ref)
            except Exception as error:
                failures.append(error)
            i += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        done = _grondslag(
            "keys",
            "rotate-master",
            "--settle-seconds",
            "1.5",
            DATABASE_URL=settings.database_url,
            GRONDSLAG_MASTER_KEY_FILE=str(path),
        )
    finally:
        stop.set()
        writer.join()
    assert done.returncode == 0, done.stderr
    assert failures == [] and len(written) > 5
    new = envelope.read_keyring(path)
    assert [k.key_id for k in new] != [old] and len(new) == 1  # the old one is retired
    assert old in (path.parent / "master-keys.retired").read_text()  # kept for old backups
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert list(_in_use(settings.database_url)) == [new[0].key_id]  # every row re-wrapped
    assert envelope.active().current.key_id == new[0].key_id  # the app noticed the new key
    for ref, data in people.items():
        assert ledger.personal_data(tenant.name, ref) == data
    for ref in written:
        assert ledger.personal_data(tenant.name, ref) == PersonalData(email=f"{ref}@r.example")
    assert client.get(f"/u/{token}").status_code == 200  # the link still verifies
    # a one-off command folds the standings (it opens the birth dates) with the keyring too
    rebuilt = _grondslag(
        "rebuild", DATABASE_URL=settings.database_url, GRONDSLAG_MASTER_KEY_FILE=str(path)
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "rebuilt from" in rebuilt.stdout


async def _rotate(url: str, tenant: str) -> tuple[int, Any, bytes | None, bytes | None]:
    pool = await asyncpg.create_pool(url, min_size=1, max_size=1)
    try:
        before = await links.key_secret(pool, tenant, 1)
        key_id, retires_at = await links.rotate(pool, tenant, timedelta(days=90))
        return key_id, retires_at, before, await links.key_secret(pool, tenant, 1)
    finally:
        await pool.close()


def test_rotated_link_secret_old_links_work_for_the_grace_then_are_refused(
    tenant, database_url
) -> None:
    register_newsletter(tenant)
    subscriber(tenant, "a")
    subscriber(tenant, "b")
    old = token_of(unsubscribe_path(tenant, "a"))
    assert old.startswith("1.")
    key_id, retires_at, index_before, index_after = asyncio.run(_rotate(database_url, tenant.name))
    assert key_id == 2 and retires_at is not None
    assert index_before == index_after  # the e-mail index keeps its key (key 1)
    new_a = token_of(unsubscribe_path(tenant, "a"))
    new_b = token_of(unsubscribe_path(tenant, "b"))
    assert new_a.startswith("2.") and new_b.startswith("2.") and new_a != old
    assert tenant.client.get(f"/u/{old}").status_code == 200  # within the grace
    with psycopg.connect(database_url) as conn:  # the grace has passed
        conn.execute(
            "UPDATE grondslag_tenant_secrets SET retires_at = now() - interval '1 second' "
            "WHERE tenant = %s AND key_id = 1",
            (tenant.name,),
        )
    assert tenant.client.get(f"/u/{old}").status_code == 404
    assert tenant.client.get(f"/u/{new_a}").status_code == 200


def test_rotate_links_command_names_the_new_key_and_when_the_old_retires(
    tenant, database_url
) -> None:
    register_newsletter(tenant)
    subscriber(tenant, "a")
    old = token_of(unsubscribe_path(tenant, "a"))
    done = _grondslag(
        "keys", "rotate-links", "--tenant", tenant.name, "--grace", "P7D", DATABASE_URL=database_url
    )
    assert done.returncode == 0, done.stderr
    assert f"tenant {tenant.name}: new links use key 2; older links work until" in done.stdout
    assert token_of(unsubscribe_path(tenant, "a")).startswith("2.")
    assert tenant.client.get(f"/u/{old}").status_code == 200
    with psycopg.connect(database_url) as conn:
        (days,) = conn.execute(
            "SELECT round(extract(epoch FROM retires_at - now()) / 86400) FROM "
            "grondslag_tenant_secrets WHERE tenant = %s AND key_id = 1",
            (tenant.name,),
        ).fetchone()
    assert days == 7
