"""The signing key file (ledger/audit/signing.py) and signed checkpoints
(ledger/audit/checkpoints.py): the key is made once, private (0600) and shared; a checkpoint
verifies with its key only, and every single changed field, character or unit is caught."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import stat
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import msgspec
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from grondslag.ledger.audit import signing
from grondslag.ledger.audit.checkpoints import (
    Checkpoint,
    checkpoint_body,
    checkpoint_problem,
    format_time,
    sign,
)
from grondslag.ledger.audit.signing import (
    SigningKey,
    key_id_of,
    load_or_create,
    public_key_from_text,
    verify_signature,
)

ROOT = bytes(range(32))
ISSUED = datetime(2026, 11, 22, 10, 30, 0, 987654, tzinfo=timezone(timedelta(hours=1)))


def raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def rsa_private_pem() -> bytes:
    return rsa.generate_private_key(public_exponent=65537, key_size=1024).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


# -- the key file ----------------------------------------------------------------------------


def test_the_first_start_writes_a_private_pkcs8_ed25519_key(tmp_path, caplog):
    path = tmp_path / "data" / "keys" / signing.KEY_FILE_NAME  # folders are made too
    with caplog.at_level(logging.WARNING, logger="grondslag.audit"):
        key = load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    pem = path.read_bytes()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")  # PKCS8, not "OPENSSH"/"EC"
    assert pem.rstrip().endswith(b"-----END PRIVATE KEY-----")
    loaded = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(loaded, Ed25519PrivateKey)
    assert raw_public(loaded) == key.public_key
    assert os.listdir(path.parent) == [signing.KEY_FILE_NAME], "no temporary file is left"
    assert any("generated a new audit signing key" in r.getMessage() for r in caplog.records)


def test_the_key_is_made_once_and_read_back(tmp_path, caplog):
    path = tmp_path / signing.KEY_FILE_NAME
    first = load_or_create(path)
    written = path.read_bytes()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="grondslag.audit"):
        second = load_or_create(path)
    assert second.key_id == first.key_id
    assert second.public_key == first.public_key
    assert path.read_bytes() == written
    assert not caplog.records, "reading a 0600 key warns about nothing"
    message = b"checkpoint"
    assert verify_signature(first.public_key, second.sign(message), message)
    assert load_or_create(tmp_path / "other.pem").key_id != first.key_id


def test_key_id_is_the_first_16_hex_digits_of_sha256_of_the_raw_public_key():
    key = SigningKey(Ed25519PrivateKey.from_private_bytes(bytes(32)))
    raw = raw_public(key.private)
    assert key.public_key == raw and len(raw) == 32
    assert key.key_id == key_id_of(raw) == hashlib.sha256(raw).hexdigest()[:16]
    assert key.public_key_pem.startswith("-----BEGIN PUBLIC KEY-----\n")
    assert public_key_from_text(key.public_key_pem) == raw


def load_in_threads(path: Path, count: int) -> tuple[list[str], list[BaseException]]:
    """``load_or_create(path)`` in ``count`` threads released at once: key ids and errors."""
    barrier = threading.Barrier(count)
    lock = threading.Lock()
    results: list[str] = []
    errors: list[BaseException] = []

    def start() -> None:
        barrier.wait()
        try:
            key_id = load_or_create(path).key_id
        except BaseException as error:
            with lock:
                errors.append(error)
        else:
            with lock:
                results.append(key_id)

    threads = [threading.Thread(target=start) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


def test_threads_starting_together_all_get_the_same_key(tmp_path, monkeypatch):
    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:  # a slow disk: the first writer is still writing
        time.sleep(0.02)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", slow_fsync)
    for round_ in range(3):
        path = tmp_path / f"round-{round_}" / signing.KEY_FILE_NAME
        results, errors = load_in_threads(path, 16)
        assert errors == []
        assert len(results) == 16 and len(set(results)) == 1
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_processes_starting_together_all_get_the_same_key(tmp_path):
    path = tmp_path / signing.KEY_FILE_NAME
    start_at = time.time() + 1.5  # after every interpreter has imported cryptography
    script = (
        "import sys, time; from pathlib import Path; "
        "from grondslag.ledger.audit.signing import load_or_create; "
        "time.sleep(max(0.0, float(sys.argv[2]) - time.time())); "
        "sys.stdout.write(load_or_create(Path(sys.argv[1])).key_id)"
    )
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(path), repr(start_at)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    outputs = [run.communicate(timeout=60) for run in runs]
    assert [run.returncode for run in runs] == [0] * 8, [err for _, err in outputs]
    key_ids = {out for out, _ in outputs}
    assert len(key_ids) == 1
    assert key_ids == {load_or_create(path).key_id}
    assert sorted(os.listdir(tmp_path)) == [signing.KEY_FILE_NAME]


def test_a_key_readable_by_others_is_used_with_a_warning(tmp_path, caplog):
    path = tmp_path / signing.KEY_FILE_NAME
    key = load_or_create(path)
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="grondslag.audit"):
        again = load_or_create(path)
    assert again.key_id == key.key_id
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("readable by others" in r.getMessage() for r in warnings)
    assert any("644" in r.getMessage() for r in warnings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644, "the file is left as it is"


def test_a_group_readable_key_warns_too(tmp_path, caplog):
    path = tmp_path / signing.KEY_FILE_NAME
    load_or_create(path)
    path.chmod(0o640)
    with caplog.at_level(logging.WARNING, logger="grondslag.audit"):
        load_or_create(path)
    assert any("readable by others" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_a_file_holding_another_kind_of_key_is_refused(tmp_path, kind):
    path = tmp_path / signing.KEY_FILE_NAME
    if kind == "rsa":
        pem = rsa_private_pem()
    else:
        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    path.write_bytes(pem)
    path.chmod(0o600)
    with pytest.raises(ValueError, match="Ed25519"):
        load_or_create(path)
    assert path.read_bytes() == pem, "the file is not replaced by a new key"


def test_a_file_that_is_no_key_is_refused(tmp_path):
    path = tmp_path / signing.KEY_FILE_NAME
    path.write_bytes(b"not a key\n")
    path.chmod(0o600)
    with pytest.raises(ValueError):
        load_or_create(path)


# -- public keys as text ---------------------------------------------------------------------


def test_a_public_key_is_read_from_base64_and_from_pem():
    key = SigningKey(Ed25519PrivateKey.generate())
    b64 = base64.b64encode(key.public_key).decode()
    assert public_key_from_text(b64) == key.public_key
    assert public_key_from_text(f"  {b64}\n") == key.public_key
    assert public_key_from_text(key.public_key_pem) == key.public_key
    assert public_key_from_text("\n" + key.public_key_pem + "\n\n") == key.public_key


@pytest.mark.parametrize("size", [1, 31, 33, 64])
def test_a_base64_key_of_another_length_is_refused(size):
    with pytest.raises(ValueError, match="32 bytes"):
        public_key_from_text(base64.b64encode(bytes(range(size))).decode())


def test_a_31_byte_key_is_refused():
    with pytest.raises(ValueError):
        public_key_from_text(base64.b64encode(b"k" * 31).decode())


def test_text_that_is_no_key_is_refused():
    for text in ("not base64!", "AAAA AAAA*", "-----BEGIN PUBLIC KEY-----\ngarbage\n"):
        with pytest.raises(ValueError):
            public_key_from_text(text)


def test_an_rsa_or_ec_public_pem_is_refused():
    rsa_key = serialization.load_pem_private_key(rsa_private_pem(), password=None)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    for private in (rsa_key, ec_key):
        pem = (
            private.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        with pytest.raises(ValueError, match="Ed25519"):
            public_key_from_text(pem)


# -- checkpoints -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey(Ed25519PrivateKey.generate())


@pytest.fixture(scope="module")
def checkpoint(key: SigningKey) -> Checkpoint:
    return sign(key, "demo", 37, ROOT, ISSUED)


def test_the_body_has_the_documented_layout():
    root_b64 = base64.b64encode(ROOT).decode()
    assert root_b64 == "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
    expected = b"grondslag/demo\n37\n" + root_b64.encode() + b"\n2026-11-22T09:30:00Z\n"
    assert checkpoint_body("demo", 37, ROOT.hex(), "2026-11-22T09:30:00Z") == expected
    assert expected.count(b"\n") == 4 and expected.endswith(b"\n")
    assert checkpoint_body("t", 0, hashlib.sha256(b"").hexdigest(), "2026-01-01T00:00:00Z") == (
        b"grondslag/t\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n2026-01-01T00:00:00Z\n"
    )


def test_a_signed_checkpoint_holds_what_was_signed(key, checkpoint):
    assert checkpoint.tenant == "demo"
    assert checkpoint.tree_size == 37
    assert checkpoint.root_hash == ROOT.hex()
    assert checkpoint.issued_at == "2026-11-22T09:30:00Z"  # UTC, whole seconds
    assert checkpoint.key_id == key.key_id
    signature = base64.b64decode(checkpoint.signature, validate=True)
    assert len(signature) == 64
    body = checkpoint.body()
    assert body == b"grondslag/demo\n37\n" + base64.b64encode(ROOT) + b"\n2026-11-22T09:30:00Z\n"
    # An auditor with nothing but the public key and the body checks the signature.
    Ed25519PublicKey.from_public_bytes(key.public_key).verify(signature, body)
    assert checkpoint_problem(checkpoint, key.public_key) is None


def test_format_time_is_utc_to_the_second():
    assert format_time(ISSUED) == "2026-11-22T09:30:00Z"
    assert format_time(datetime(2026, 1, 5, 10, 0, 0, 1, tzinfo=UTC)) == "2026-01-05T10:00:00Z"


def test_a_checkpoint_survives_json(key, checkpoint):
    again = msgspec.json.decode(msgspec.json.encode(checkpoint), type=Checkpoint)
    assert again == checkpoint
    assert checkpoint_problem(again, key.public_key) is None


def other_char(c: str) -> str:
    """Another character of the same kind (digit, lower or upper letter), else 'x'/'y'."""
    for alphabet in ("0123456789", "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"):
        if c in alphabet:
            return alphabet[(alphabet.index(c) + 1) % len(alphabet)]
    return "y" if c == "x" else "x"


def one_character_changes(text: str) -> list[str]:
    return [text[:i] + other_char(c) + text[i + 1 :] for i, c in enumerate(text)]


@pytest.mark.parametrize("field", ["tenant", "root_hash", "issued_at", "key_id", "signature"])
def test_every_single_character_change_of_a_field_is_caught(key, checkpoint, field):
    value = getattr(checkpoint, field)
    variants = [*one_character_changes(value), value + "x", value[:-1], value.upper(), ""]
    variants = [v for v in variants if v != value]
    assert len(variants) >= len(value)
    for variant in variants:
        changed = msgspec.structs.replace(checkpoint, **{field: variant})
        problem = checkpoint_problem(changed, key.public_key)
        assert problem is not None, f"{field}={variant!r} passes"
        assert isinstance(problem, str) and problem.startswith("checkpoint ")


@pytest.mark.parametrize("size", [36, 38, 0, 370, 3, -37])
def test_another_tree_size_is_caught(key, checkpoint, size):
    changed = msgspec.structs.replace(checkpoint, tree_size=size)
    assert checkpoint_problem(changed, key.public_key) is not None


def test_one_second_later_is_caught(key, checkpoint):
    changed = msgspec.structs.replace(checkpoint, issued_at="2026-11-22T09:30:01Z")
    assert "signature does not verify" in checkpoint_problem(changed, key.public_key)


def test_the_problems_say_what_is_wrong(key, checkpoint):
    def problem(**changes: object) -> str | None:
        return checkpoint_problem(msgspec.structs.replace(checkpoint, **changes), key.public_key)

    assert "key_id" in problem(key_id="0" * 16)
    assert "negative" in problem(tree_size=-1)
    assert "not hex" in problem(root_hash="zz" * 32)
    assert "64 lowercase hex" in problem(root_hash=ROOT.hex().upper())
    assert "64 lowercase hex" in problem(root_hash=ROOT.hex()[:-2])
    assert "RFC 3339" in problem(issued_at="2026-11-22 09:30:00")
    assert "RFC 3339" in problem(issued_at="2026-11-22T09:30:00.5Z")
    assert "canonical form" in problem(issued_at="2026-11-2T09:30:00Z")
    assert "not base64" in problem(signature="*" * 88)
    sig = base64.b64decode(checkpoint.signature)
    # 64 bytes leave four unused bits in the last base64 digit: set one, same bytes.
    loose = checkpoint.signature[:85] + chr(ord(checkpoint.signature[85]) + 1) + "=="
    assert base64.b64decode(loose) == sig
    assert "canonical base64" in problem(signature=loose)
    assert "does not verify" in problem(tenant="demO")


def test_another_key_does_not_verify(key, checkpoint):
    other = SigningKey(Ed25519PrivateKey.generate())
    assert checkpoint_problem(checkpoint, other.public_key) is not None
    # Even with the other key's id written in, the signature still is not the other key's.
    relabelled = msgspec.structs.replace(checkpoint, key_id=other.key_id)
    assert "does not verify" in checkpoint_problem(relabelled, other.public_key)
    # And the other key's own checkpoint does not verify with ours.
    theirs = sign(other, "demo", 37, ROOT, ISSUED)
    assert checkpoint_problem(theirs, other.public_key) is None
    assert checkpoint_problem(theirs, key.public_key) is not None
    assert theirs.body() == checkpoint.body() and theirs.signature != checkpoint.signature


def test_verify_signature_refuses_a_malformed_key_or_signature(key):
    message = b"grondslag/demo\n"
    signature = key.sign(message)
    assert verify_signature(key.public_key, signature, message)
    assert not verify_signature(key.public_key, signature, message + b"x")
    assert not verify_signature(key.public_key[:31], signature, message)
    assert not verify_signature(key.public_key, signature[:63], message)


# -- the C2SP signed-note spelling --------------------------------------------------------------
# golang.org/x/mod/sumdb/note's own example key and note: the reference implementation's test
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = (
    b"If you think cryptography is the answer to your problem,\n"
    b"then you don't know what your problem is.\n"
)
GO_SIG = (
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngo"
    "tpRZb6KE6RyyBwJnAM=\n"
)


def test_note_spelling_matches_gos_reference_vector_byte_for_byte() -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from grondslag.ledger.audit.checkpoints import note_signature_line, verifier_key

    seed = base64.b64decode(GO_SKEY.split("+", 4)[4])[1:]  # PRIVATE+KEY+name+id+key
    private = Ed25519PrivateKey.from_private_bytes(seed)
    public = SigningKey(private).public_key
    assert verifier_key("PeterNeumann", public) == GO_VKEY
    assert note_signature_line("PeterNeumann", public, private.sign(GO_TEXT)) == GO_SIG


def test_a_checkpoints_signed_note_is_its_body_a_blank_line_and_one_signature(tmp_path) -> None:
    from grondslag.ledger.audit.checkpoints import note_key_id, signed_note, verifier_key

    key = load_or_create(tmp_path / "k.pem")
    checkpoint = sign(
        key, "praktijk", 7, bytes(range(32)), datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    )
    note = signed_note(checkpoint, key.public_key)
    text, _, signatures = note.partition("\n\n")
    assert (text + "\n").encode() == checkpoint.body()
    name, blob = signatures.removeprefix("\u2014 ").removesuffix("\n").split(" ")
    assert name == "grondslag/praktijk"
    raw = base64.b64decode(blob)
    assert raw[:4] == note_key_id(name, key.public_key)
    assert raw[4:] == base64.b64decode(checkpoint.signature)
    assert verify_signature(key.public_key, raw[4:], checkpoint.body())
    vkey_name, vkey_id, vkey = verifier_key(name, key.public_key).split("+", 2)
    assert (vkey_name, bytes.fromhex(vkey_id)) == (name, raw[:4])
    assert base64.b64decode(vkey) == b"\x01" + key.public_key
