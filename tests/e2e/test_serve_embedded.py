"""`grondslag serve` on its embedded default, as a new user runs it: the README walk-through
over real HTTP (with the README's weak ``dev-key``, accepted on the embedded database with a
warning), then a restart on the same data folder, where the bootstrap key revoked before
stays revoked."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

KEY = "dev-key"  # as in the README's command 1
NOTICE = {"version": "2025-01", "url": "https://praktijk.example/privacy", "sha256": "b" * 64}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NATS_URL")}
    env |= {"GRONDSLAG_DATA_DIR": str(data_dir), "GRONDSLAG_BOOTSTRAP_KEY": KEY}
    process = subprocess.Popen(
        [sys.executable, "-m", "grondslag.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/ready").status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise AssertionError("grondslag serve did not become ready in 60 s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0


def test_walk_through_on_the_embedded_default_survives_a_restart(tmp_path: Path) -> None:
    port = _free_port()
    api = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {KEY}"}
    server = _serve(tmp_path, port)
    try:
        purpose = {
            "code": "photo-in-dossier",
            "title": "Pasfoto in het dossier",
            "basis": "consent",
            "notice": NOTICE,
            "effective_at": "2025-01-01T00:00:00Z",
        }
        assert httpx.post(f"{api}/v1/purposes", json=purpose, headers=auth).status_code == 201
        assert (
            httpx.put(
                f"{api}/v1/subjects/client-17", json={"birth_date": "1980-04-02"}, headers=auth
            ).status_code
            == 201
        )
        consent = {
            "purpose": "photo-in-dossier",
            "method": "written",
            "explicit": True,
            "notice_version": "2025-01",
            "evidence": {"document_ref": "intake.pdf"},
            "recorded_by": "staff:jdevries",
            "effective_at": "2025-09-02T10:00:00Z",
        }
        given = httpx.post(f"{api}/v1/subjects/client-17/consents", json=consent, headers=auth)
        assert given.status_code == 201, given.text
        event_id = given.json()["event_id"]
        key_file = tmp_path / "audit-signing-key.pem"  # generated on first start, owner only
        assert key_file.stat().st_mode & 0o777 == 0o600
        first = httpx.get(f"{api}/v1/audit/checkpoints/latest", headers=auth).json()
        assert (tmp_path / "api-key-pepper").stat().st_mode & 0o777 == 0o600
        # an admin makes a key of its own and revokes the weak bootstrap key
        made = httpx.post(f"{api}/v1/keys", json={"roles": ["admin", "reader"]}, headers=auth)
        assert made.status_code == 201, made.text
        [boot] = [k for k in httpx.get(f"{api}/v1/keys", headers=auth).json()["keys"]
                  if k["bootstrap"]]  # fmt: skip
        revoked = httpx.post(f"{api}/v1/keys/{boot['key_id']}/revocation", headers=auth)
        assert revoked.status_code == 200, revoked.text
    finally:
        _stop(server)
    assert server.stdout is not None
    assert b"GRONDSLAG_BOOTSTRAP_KEY is weak" in server.stdout.read()
    assert not (tmp_path / "postgres" / "postmaster.pid").exists(), "postgres left running"

    server = _serve(tmp_path, port)
    try:
        # the revoked bootstrap key is not revived by the restart
        assert httpx.get(f"{api}/v1/purposes", headers=auth).status_code == 401
        auth = {"Authorization": f"Bearer {made.json()['key']}"}
        standing = httpx.get(
            f"{api}/v1/subjects/client-17/standing/photo-in-dossier", headers=auth
        ).json()
        assert standing["lawful"] is True
        assert standing["evidence"] == [event_id]
        # the same key after the restart; the consent's proof verifies under it
        deadline = time.monotonic() + 20
        while (
            proof := httpx.get(f"{api}/v1/audit/proofs/{event_id}", headers=auth)
        ).status_code != 200:
            assert time.monotonic() < deadline, proof.text
            time.sleep(0.2)
        assert proof.json()["checkpoint"]["key_id"] == first["key_id"]
        assert proof.json()["public_key"] == first["public_key"]
    finally:
        _stop(server)
