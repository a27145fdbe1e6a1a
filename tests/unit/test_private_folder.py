"""The data folder of the embedded servers is its owner's alone (``grondslag.private``), and
what ``serve`` logs of the server URLs carries no password."""

from __future__ import annotations

import logging
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from grondslag.cli import _redact
from grondslag.private import open_private, read_or_create_secret, secure_folder


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_a_new_folder_is_created_0700(tmp_path: Path) -> None:
    folder = secure_folder(tmp_path / "a" / "data")
    assert _mode(folder) == 0o700


def test_a_wider_folder_and_its_files_are_narrowed_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "data"
    (folder / "nats" / "jetstream").mkdir(parents=True)
    for path, mode in [
        (folder, 0o755),
        (folder / "nats", 0o755),
        (folder / "nats" / "jetstream", 0o775),
        (folder / "postgres.log", 0o644),
        (folder / "nats" / "jetstream" / "meta.inf", 0o664),
        (folder / "supervisor-8000.json", 0o640),
    ]:
        if not path.exists():
            path.write_text("x")
        path.chmod(mode)
    (folder / "elsewhere").mkdir()
    (folder / "elsewhere" / "notes.txt").write_text("x")  # not ours: left as it is
    (folder / "elsewhere" / "notes.txt").chmod(0o644)

    with caplog.at_level(logging.WARNING):
        secure_folder(folder)
    assert _mode(folder) == 0o700
    assert _mode(folder / "nats" / "jetstream") == 0o700
    assert _mode(folder / "postgres.log") == 0o600
    assert _mode(folder / "nats" / "jetstream" / "meta.inf") == 0o600
    assert _mode(folder / "supervisor-8000.json") == 0o600
    assert _mode(folder / "elsewhere" / "notes.txt") == 0o644
    assert "was open to other users (mode 755): now 700" in caplog.text
    assert "removed group and other access from 6 file(s)" in caplog.text

    caplog.clear()  # a second start finds nothing to say
    with caplog.at_level(logging.WARNING):
        secure_folder(folder)
    assert caplog.text == ""


def test_a_private_file_is_created_0600_and_narrowed_when_wider(tmp_path: Path) -> None:
    os.close(open_private(tmp_path / "nats.log"))
    assert _mode(tmp_path / "nats.log") == 0o600
    (tmp_path / "old.log").write_text("x")
    (tmp_path / "old.log").chmod(0o644)
    os.close(open_private(tmp_path / "old.log"))
    assert _mode(tmp_path / "old.log") == 0o600


def test_a_secret_is_generated_once_0600_and_processes_starting_together_agree(
    tmp_path: Path,
) -> None:
    path = tmp_path / "nats.password"
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: read_or_create_secret(path), range(8)))
    assert len({secret for secret, _ in results}) == 1
    assert [created for _, created in results].count(True) == 1
    secret = results[0][0]
    assert len(secret) >= 43 and secret.replace("-", "").replace("_", "").isalnum()
    assert _mode(path) == 0o600
    assert read_or_create_secret(path) == (secret, False)
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left


@pytest.mark.parametrize(
    ("url", "logged"),
    [
        ("nats://grondslag:s3cret@127.0.0.1:4222", "nats://grondslag:***@127.0.0.1:4222"),
        ("nats://s3cret-token@127.0.0.1:4222", "nats://***@127.0.0.1:4222"),
        (
            "postgresql://postgres:s3cret@127.0.0.1:5432/x",
            "postgresql://postgres:***@127.0.0.1:5432/x",
        ),
        ("nats://127.0.0.1:4222", "nats://127.0.0.1:4222"),
    ],
)
def test_the_logged_server_urls_carry_no_password(url: str, logged: str) -> None:
    assert _redact(url) == logged
