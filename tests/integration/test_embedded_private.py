"""The embedded default keeps other local users out: both servers ask for a password that
only the folder's owner can read, and the folder and every file in it are private."""

from __future__ import annotations

import logging
import os
import pwd
import re
import socket
import stat
import subprocess
from pathlib import Path

import asyncpg
import nats
import pytest

from grondslag.embedded import (
    EmbeddedNats,
    EmbeddedPostgres,
    embedded_servers,
    running_database_url,
    running_nats_url,
)

AS_ROOT = os.geteuid() == 0
# as root the PostgreSQL account's group may pass through the folder (x), never list it
FOLDER_MODE = 0o710 if AS_ROOT else 0o700


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _refused(url: str) -> bool:
    try:
        await (await asyncpg.connect(url)).close()
    except asyncpg.InvalidPasswordError:
        return True
    return False


def _open_to_others(data_dir: Path) -> list[str]:
    """Everything under ``data_dir`` that its group or other users may read, write or enter."""
    found = []
    for root, dirs, files in os.walk(data_dir):
        for name in dirs + files:
            path = Path(root, name)
            mode = stat.S_IMODE(path.lstat().st_mode)
            if not path.is_symlink() and mode & 0o077:
                found.append(f"{path.relative_to(data_dir)} {mode:o}")
    return found


async def test_without_the_password_postgresql_and_nats_refuse_the_connection(
    tmp_path: Path,
) -> None:
    with EmbeddedPostgres(tmp_path) as pg, EmbeddedNats(tmp_path) as ns:
        # what another local user can learn (the ports, e.g. from `ss -ltn`) is not enough
        with pytest.raises(asyncpg.InvalidPasswordError):
            await asyncpg.connect(pg.display_url)
        with pytest.raises(asyncpg.InvalidPasswordError):
            await asyncpg.connect(pg.display_url.replace("postgres@", "postgres:guess@"))
        with pytest.raises(asyncpg.InvalidPasswordError):  # no database is trusted either
            await asyncpg.connect(pg.display_url.rsplit("/", 1)[0] + "/postgres")
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            await nats.connect(ns.display_url, allow_reconnect=False, connect_timeout=2)
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            await nats.connect(
                ns.display_url.replace("//", "//grondslag:guess@"),
                allow_reconnect=False,
                connect_timeout=2,
            )
        # the clients (the URLs the service hands its processes) get in
        conn = await asyncpg.connect(pg.url)
        try:
            assert await conn.fetchval("SELECT current_user") == "postgres"
        finally:
            await conn.close()
        nc = await nats.connect(ns.url)
        try:
            assert nc.is_connected
        finally:
            await nc.close()
        # what one-off commands (`grondslag keys create`, `nats-url`) find for a running serve
        assert running_database_url(tmp_path) == pg.url
        assert running_nats_url(tmp_path) == ns.url
    assert running_database_url(tmp_path) is None and running_nats_url(tmp_path) is None


def test_the_folder_is_private_and_no_file_in_it_is_open_to_others(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with embedded_servers(data_dir):
        assert stat.S_IMODE(data_dir.stat().st_mode) == FOLDER_MODE
        assert _open_to_others(data_dir) == []
        for name in ("postgres.password", "nats.password", "nats.conf", "postgres.log"):
            assert stat.S_IMODE((data_dir / name).stat().st_mode) == 0o600, name
        assert (data_dir / "nats.log").stat().st_size > 0  # the servers did write there
    assert _open_to_others(data_dir) == []


SECRETS_AND_LOGS = ("postgres.password", "nats.password", "nats.conf", "postgres.log", "nats.log")


def test_another_local_user_can_read_neither_the_passwords_nor_the_logs(tmp_path: Path) -> None:
    """As root (CI, containers) the kernel is asked: ``cat`` as ``nobody`` is refused. Only
    root can run a process as another user; as any other user, the test holds each file to
    the bits the kernel decides by — no read, write or entry for group or others."""
    data_dir = tmp_path / "data"
    with embedded_servers(data_dir):
        for name in SECRETS_AND_LOGS:
            path = data_dir / name
            if AS_ROOT:
                other = pwd.getpwnam("nobody")
                attempt = subprocess.run(
                    ["cat", str(path)],
                    user=other.pw_uid,
                    group=other.pw_gid,
                    extra_groups=[],
                    capture_output=True,
                    text=True,
                )
                assert attempt.returncode != 0 and "Permission denied" in attempt.stderr, name
            else:
                mode = stat.S_IMODE(path.stat().st_mode)
                assert path.stat().st_uid == os.geteuid() and mode & 0o077 == 0, (name, oct(mode))


async def test_a_folder_from_before_passwords_is_made_private_at_its_next_start(
    private_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The layout grondslag left before: a cluster trusting every loopback connection with
    no password at all, a folder and logs every local user could read."""
    data_dir = private_dir / "data"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)
    old = EmbeddedPostgres(data_dir)
    old._prepare_cluster()  # initdb --auth=trust, as it was
    port = _free_port()
    old._launch(port)
    try:
        conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres")
        try:
            await conn.execute("CREATE TABLE consent (id int PRIMARY KEY)")
            await conn.execute("INSERT INTO consent VALUES (17)")
        finally:
            await conn.close()
    finally:
        old._shutdown()
    assert "trust" in (data_dir / "postgres" / "pg_hba.conf").read_text()
    (data_dir / "postgres.log").chmod(0o644)
    (data_dir / "nats").mkdir(mode=0o755)
    (data_dir / "nats" / "jetstream").mkdir(mode=0o755)
    (data_dir / "nats" / "jetstream" / "meta.inf").write_text("{}")
    (data_dir / "nats" / "jetstream").chmod(0o755)
    (data_dir / "nats" / "jetstream" / "meta.inf").chmod(0o644)
    (data_dir / "nats.log").write_text("old log\n")
    (data_dir / "nats.log").chmod(0o644)
    assert not (data_dir / "postgres.password").exists()

    with caplog.at_level(logging.INFO), embedded_servers(data_dir) as urls:
        assert urls.database_url is not None
        refused = re.sub(r"//postgres:[^@]*@", "//postgres@", urls.database_url)
        with pytest.raises(asyncpg.InvalidPasswordError):
            await asyncpg.connect(refused)
        conn = await asyncpg.connect(urls.database_url.rsplit("/", 1)[0] + "/postgres")
        try:
            assert await conn.fetchval("SELECT id FROM consent") == 17  # the data stayed
        finally:
            await conn.close()
        assert stat.S_IMODE(data_dir.stat().st_mode) == FOLDER_MODE
        assert _open_to_others(data_dir) == []
    assert "accepted connections without a password (trust)" in caplog.text
    assert "was open to other users (mode 755)" in caplog.text
    assert "removed group and other access" in caplog.text
    hba = (data_dir / "postgres" / "pg_hba.conf").read_text()
    assert "scram-sha-256" in hba and "trust" not in hba.replace("nobody is trusted", "")

    # a trust line added by hand later is taken out again at the next start
    (data_dir / "postgres" / "pg_hba.conf").write_text(hba + "host all all 0.0.0.0/0 trust\n")
    caplog.clear()
    with caplog.at_level(logging.INFO), EmbeddedPostgres(data_dir) as pg:
        assert await _refused(pg.display_url)
    assert "accepted connections without a password (trust)" in caplog.text
    assert (data_dir / "postgres" / "pg_hba.conf").read_text() == hba
