"""The offline ``grondslag verify`` command run as a subprocess on an exported bundle, as an
auditor runs it: it verifies, with or without a pinned key (base64 or PEM), refuses another
pinned key, and refuses a bundle with any one character changed.

Events reach the audit log through the session's in-process projector, so every test polls
(never sleeps a fixed time) until the log holds what it wrote.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit_support import (
    consented,
    export,
    grondslag,
    latest,
)


# -- grondslag verify, as an auditor runs it ---------------------------------------------------
def test_grondslag_verify_command(tenant, tmp_path: Path) -> None:
    consented(tenant)
    response = export(tenant)
    assert response.status_code == 200, response.text
    bundle = tmp_path / "bundle.json"
    bundle.write_bytes(response.content)
    events = len(json.loads(response.content)["events"])

    ok = grondslag("verify", str(bundle))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith(f"verified: {events} events")
    assert hashlib.sha256(response.content).hexdigest() in ok.stdout

    published = latest(tenant)
    pinned = grondslag("verify", str(bundle), "--key", published["public_key"])
    assert pinned.returncode == 0, pinned.stderr
    assert pinned.stdout.startswith(f"verified: {events} events")
    pem_file = tmp_path / "published.pem"
    pem_file.write_text(published["public_key_pem"])
    assert grondslag("verify", str(bundle), "--key", str(pem_file)).returncode == 0

    other = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    wrong = grondslag("verify", str(bundle), "--key", base64.b64encode(other).decode())
    assert wrong.returncode != 0
    assert wrong.stderr.startswith("NOT verified:")
    assert "pinned key" in wrong.stderr
    assert hashlib.sha256(other).hexdigest()[:16] in wrong.stderr

    # one character changed: the evidence's document name in a canonical event
    text = response.content.decode()
    assert text.count("intake-17.pdf") == 1
    tampered = tmp_path / "tampered.json"
    tampered.write_text(text.replace("intake-17.pdf", "intake-18.pdf"))
    changed = grondslag("verify", str(tampered))
    assert changed.returncode != 0
    assert changed.stderr.startswith("NOT verified:"), changed.stderr
    assert changed.stdout == ""


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda t: t.replace('"exported_at": "2', '"exported_at": "3', 1), id="time"),
        pytest.param(lambda t: t.replace('"leaf_index": 0', '"leaf_index": 1', 1), id="index"),
        pytest.param(lambda t: t.replace("  ", " \t", 1), id="whitespace"),
    ],
)
def test_grondslag_verify_refuses_any_one_character_changed(tenant, tmp_path: Path, edit) -> None:
    consented(tenant)
    response = export(tenant)
    assert response.status_code == 200, response.text
    text = response.content.decode()
    changed = edit(text)
    assert len(changed) == len(text)
    assert sum(a != b for a, b in zip(changed, text, strict=True)) == 1
    tampered = tmp_path / "tampered.json"
    tampered.write_text(changed)
    result = grondslag("verify", str(tampered))
    assert result.returncode != 0
    assert result.stderr.startswith("NOT verified:"), result.stderr
