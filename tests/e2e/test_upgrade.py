"""Upgrading a ledger of release 0.1.0 (``tests/fixtures/ledger-0.1.0-unversioned.sql``:
its tables, no schema version): restored from its dump, ``grondslag migrate`` adopts it,
and ``grondslag serve`` answers from the old data — the standings, the history, the sealed
birth date, an inclusion proof — records new facts beside it, and ``grondslag audit check``
holds the old log and its checkpoint to the store."""

from __future__ import annotations

import base64
import importlib.util
import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import psycopg

from service_support import Service, environment, grondslag

FIXTURES = Path(__file__).parent.parent / "fixtures"
_spec = importlib.util.spec_from_file_location("fixture", FIXTURES / "make_unversioned_dump.py")
assert _spec and _spec.loader
fixture = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixture)


def test_a_ledger_of_release_0_1_0_serves_its_old_data_after_migrate(
    new_database: Callable[[str], AbstractContextManager[str]], nats_url: str, tmp_path: Path
):
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    key_file = data / "audit-signing-key.pem"  # the key file that release's folder held
    key_file.write_bytes(fixture.audit_key_pem())
    os.chmod(key_file, 0o600)
    with new_database("grondslag_upgrade") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(fixture.OUT.read_bytes())
        env = environment(
            url,
            nats_url,
            data,
            GRONDSLAG_MASTER_KEY=fixture.UPGRADE_MASTER_KEY.decode(),
            GRONDSLAG_KEY_PEPPER=fixture.UPGRADE_PEPPER,
        )
        migrated = grondslag("migrate", env=env)
        assert migrated.returncode == 0, migrated.stderr
        assert "adopted" in migrated.stdout

        with Service(env, fixture.UPGRADE_KEY) as service:
            standing = service.ok("GET", "/v1/subjects/client-17/standing")
            now = {p["purpose"]: (p["status"], p.get("reason")) for p in standing["purposes"]}
            assert now == {
                "photo-in-dossier": ("lawful", None),
                "newsletter": ("lapsed", "withdrawn"),
            }
            history = service.ok("GET", "/v1/subjects/client-17/history")["events"]
            types = sorted(event["type"] for event in history)
            assert types.count("ConsentGiven") == 2 and "ConsentWithdrawn" in types
            export = service.ok("GET", "/v1/subjects/client-17/export")
            assert export["personal_data"]["birth_date"] == "1990-05-01"  # the old key opens it
            given = next(e for e in history if e["type"] == "ConsentGiven")
            proof = service.ok("GET", f"/v1/audit/proofs/{given['event_id']}")
            assert proof["public_key"] == _fixture_public_key()  # the old checkpoint's key
            # and the upgraded store takes new facts
            service.ok("PUT", "/v1/subjects/client-18", {"birth_date": "1985-02-03"})
            body = {
                "purpose": "photo-in-dossier", "method": "written", "explicit": True,
                "notice_version": "2025-01", "recorded_by": "staff:jdevries",
                "evidence": {"document_ref": "intake-18.pdf"},
            }  # fmt: skip
            answer = service.call("POST", "/v1/subjects/client-18/consents", body)
            assert answer.status_code == 201, answer.text

        checked = grondslag("audit", "check", env=env)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "demo: ok" in checked.stdout


def _fixture_public_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    public = Ed25519PrivateKey.from_private_bytes(fixture.UPGRADE_AUDIT_SEED).public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()
