"""Backup and restore (README, Backup and restore): ``grondslag backup`` of a running ledger
while writers go on, restored by ``grondslag restore`` into a new database and a new data
folder with the secret files the backup named: ``grondslag audit check`` passes, an export
bundle verifies offline under the key published before the backup (``grondslag verify``),
and every subject in the dump reads its sealed birth date back. The same restore without
the key-encryption keys opens no birth date."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import psycopg

from service_support import Service, environment, grondslag

KEY = "backup-test-bootstrap-key-0123456789"
NOTICE = {"version": "2025-01", "url": "https://praktijk.example/privacy", "sha256": "d" * 64}
PURPOSE = {
    "code": "photo-in-dossier", "title": "Pasfoto", "basis": "consent", "notice": NOTICE,
    "effective_at": "2025-01-01T00:00:00Z",
}  # fmt: skip
CONSENT = {
    "purpose": "photo-in-dossier", "method": "written", "explicit": True,
    "notice_version": "2025-01", "evidence": {"document_ref": "intake.pdf"},
    "recorded_by": "staff:jdevries",
}  # fmt: skip


def birth_date(n: int) -> str:
    return f"19{50 + n % 50:02d}-{1 + n % 12:02d}-{1 + n % 28:02d}"


def record(service: Service, n: int) -> None:
    service.ok("PUT", f"/v1/subjects/client-{n}", {"birth_date": birth_date(n)})
    service.ok("POST", f"/v1/subjects/client-{n}/consents", CONSENT)


def until_ok(service: Service, path: str) -> Any:
    """A read that may wait for the projector (503 with Retry-After meanwhile)."""
    deadline = time.monotonic() + 30
    while True:
        answer = service.call("GET", path)
        if answer.status_code == 200 or time.monotonic() > deadline:
            assert answer.status_code == 200, answer.text
            return answer
        time.sleep(0.2)


def private(path: Path) -> Path:
    path.mkdir(mode=0o700)
    return path


def test_a_backup_taken_under_writes_restores_with_its_secrets(
    new_database: Callable[[str], AbstractContextManager[str]], nats_url: str, tmp_path: Path
):
    dump, secrets = tmp_path / "backup" / "ledger.dump", tmp_path / "secrets"
    with new_database("grondslag_backup") as source:
        env = environment(source, nats_url, private(tmp_path / "live"), GRONDSLAG_BOOTSTRAP_KEY=KEY)
        with Service(env, KEY) as service:
            service.ok("POST", "/v1/purposes", PURPOSE)
            record(service, 0)
            published = until_ok(service, "/v1/audit/checkpoints/latest").json()["public_key"]
            written: list[int] = []
            stop = threading.Event()

            def write() -> None:
                n = 1
                while not stop.is_set():
                    record(service, n)
                    written.append(n)
                    n += 1

            writer = threading.Thread(target=write)
            writer.start()
            try:
                while len(written) < 20:
                    time.sleep(0.05)
                before, started = len(written), time.perf_counter()
                backed = grondslag("backup", str(dump), "--secrets", str(secrets), env=env)
                seconds, during = time.perf_counter() - started, len(written) - before
            finally:
                stop.set()
                writer.join(30)
        assert backed.returncode == 0, backed.stderr
        assert during > 0  # the writes went on while pg_dump ran
        print(f"backup in {seconds:.2f} s while {during} subjects were written")
        assert sorted(p.name for p in secrets.iterdir()) == [
            "api-key-pepper", "audit-signing-key.pem", "master-keys",
        ]  # fmt: skip

    with new_database("grondslag_restored") as target:
        env = environment(target, nats_url, private(tmp_path / "restored"))
        restored = grondslag("restore", str(dump), "--secrets", str(secrets), env=env)
        assert restored.returncode == 0, restored.stderr
        checked = grondslag("audit", "check", env=env)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        with psycopg.connect(target) as conn:
            refs = [r for (r,) in conn.execute(SUBJECTS).fetchall()]
        assert "client-0" in refs and len(refs) > 20  # the writes before the backup, at least
        with Service(env, KEY) as service:  # the bootstrap key's row came along (and the pepper)
            for ref in refs:
                export = service.ok("GET", f"/v1/subjects/{ref}/export")
                number = int(ref.removeprefix("client-"))
                assert export["personal_data"]["birth_date"] == birth_date(number), ref
            bundle = until_ok(service, "/v1/audit/export?subject_ref=client-0")
            (tmp_path / "client-0.json").write_bytes(bundle.content)
        verified = grondslag("verify", str(tmp_path / "client-0.json"), "--key", published, env=env)
        assert verified.returncode == 0, verified.stdout + verified.stderr

    without = private(tmp_path / "secrets-without-master-keys")
    for name in ("api-key-pepper", "audit-signing-key.pem"):
        shutil.copyfile(secrets / name, without / name)
    with new_database("grondslag_restored_without") as target:
        env = environment(target, nats_url, private(tmp_path / "without"))
        restored = grondslag("restore", str(dump), "--secrets", str(without), env=env)
        assert restored.returncode == 0, restored.stderr
        with Service(env, KEY) as service:  # a new keyring is made: it opens nothing stored
            export = service.call("GET", "/v1/subjects/client-0/export")
            # no answer without the key, never a wrong one: 503 naming what is missing
            assert export.status_code == 503, export.text
            assert export.json()["type"] == "urn:grondslag:problem:key-unavailable"
            assert "master-keys" in export.json()["detail"] and export.headers["Retry-After"]


SUBJECTS = "SELECT subject_ref FROM grondslag_streams WHERE kind = 'subject' ORDER BY 1"
