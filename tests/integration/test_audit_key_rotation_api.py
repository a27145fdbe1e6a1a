"""Across an audit signing-key rotation over the API: `GET /v1/audit/keys` publishes both
keys and the statement linking them; bundles exported before and after verify with
`grondslag verify --key <one of them> --key-history <that answer>`, and not without it."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from grondslag.ledger.api.app import create_app
from grondslag.ledger.settings import Settings

from audit_support import consented, export, latest


@pytest.fixture
def own_app(settings: Settings, tmp_path: Path) -> Iterator[tuple[TestClient, Path]]:
    """An app and projector of this test's own audit signing key (not the session's)."""
    from grondslag.projector.runner import Projector

    key_file = tmp_path / "audit-signing-key.pem"
    ours = dataclasses.replace(settings, audit_key_file=key_file)
    projector = Projector(ours)

    @contextlib.asynccontextmanager
    async def run_projector(_: Any) -> Any:
        await projector.start()
        try:
            yield
        finally:
            await projector.stop()

    app = create_app(ours, lifespans=[run_projector])
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, key_file


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "grondslag.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_bundles_verify_across_a_rotation_with_the_published_key_history(
    own_app: tuple[TestClient, Path], database_url: str, tmp_path: Path, tenant: Any
) -> None:
    client, key_file = own_app
    tenant = type(tenant)(client, database_url)  # a tenant on this test's own app
    consented(tenant)
    before = export(tenant)
    assert before.status_code == 200, before.text
    history = tenant.call("GET", "/v1/audit/keys").json()
    old_id = history["current_key_id"]
    old_public = next(k["public_key"] for k in history["keys"] if k["key_id"] == old_id)

    rotated = _cli(
        "audit", "rotate-key", DATABASE_URL=database_url, GRONDSLAG_AUDIT_KEY_FILE=str(key_file)
    )
    assert rotated.returncode == 0, rotated.stderr
    time.sleep(2.5)  # past the old key's moment of grace
    tenant.consent(purpose="photo-in-dossier")
    after = export(tenant)
    assert after.status_code == 200, after.text
    new_id = after.json()["key_id"]
    assert new_id != old_id and before.json()["key_id"] == old_id
    assert latest(tenant)["key_id"] == new_id

    history = tenant.call("GET", "/v1/audit/keys").json()
    assert history["current_key_id"] == new_id
    by_id = {k["key_id"]: k for k in history["keys"]}
    assert by_id[old_id]["retired_at"] and by_id[new_id]["retired_at"] is None
    [rotation] = history["rotations"]
    assert (rotation["old_key_id"], rotation["new_key_id"]) == (old_id, new_id)
    new_public = by_id[new_id]["public_key"]

    files = {}
    for name, response in [("before", before), ("after", after)]:
        files[name] = tmp_path / f"{name}.json"
        files[name].write_bytes(response.content)
    history_file = tmp_path / "keys.json"
    history_file.write_text(json.dumps(history))

    # pinned to the old key: the new key's bundle verifies only with the history
    refused = _cli("verify", str(files["after"]), "--key", old_public)
    assert refused.returncode == 1 and "not the pinned key" in refused.stderr
    accepted = _cli(
        "verify", str(files["after"]), "--key", old_public, "--key-history", str(history_file)
    )
    assert accepted.returncode == 0, accepted.stderr
    assert f"key {new_id}" in accepted.stdout
    # pinned to the new key: the old bundle still verifies through the history
    old_bundle = _cli(
        "verify", str(files["before"]), "--key", new_public, "--key-history", str(history_file)
    )
    assert old_bundle.returncode == 0, old_bundle.stderr
    # a history that does not verify leads nowhere
    rotation["old_signature"] = rotation["new_signature"]
    history_file.write_text(json.dumps(history))
    forged = _cli(
        "verify", str(files["after"]), "--key", old_public, "--key-history", str(history_file)
    )
    assert forged.returncode == 1
