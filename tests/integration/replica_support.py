"""A PostgreSQL primary and a streaming replica of it made with ``pg_basebackup -R``, both of
the test's own on free ports (the system's PostgreSQL binaries, as the ``postgres`` account
when the tests run as root), and the replica's replay paused and resumed at will."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from outage_support import free_port

BIN = Path(os.environ.get("TEST_POSTGRES_BIN", "/usr/lib/postgresql/15/bin"))
DATABASE = "grondslag"


class Server:
    """One cluster: its folder, port and URL."""

    def __init__(self, folder: Path, port: int):
        self.folder, self.port = folder, port
        self.url = f"postgresql://postgres@127.0.0.1:{port}/{DATABASE}"
        self.admin_url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder.parent} "
            "-c fsync=off -c wal_level=replica -c max_wal_senders=4 -c max_connections=60"
        )
        tool("pg_ctl", "-D", self.folder, "-o", options, "-l", self.folder.parent / "log", "-w",
             "start")  # fmt: skip

    def stop(self) -> None:
        tool("pg_ctl", "-D", self.folder, "-m", "immediate", "-w", "stop", check=False)

    def query(self, sql: str) -> Any:
        async def run() -> Any:
            conn = await asyncpg.connect(self.url)
            try:
                return await conn.fetchval(sql)
            finally:
                await conn.close()

        return asyncio.run(run())


def tool(name: str, *args: Any, check: bool = True) -> None:
    account = _account()
    subprocess.run(
        [str(BIN / name), *map(str, args)],
        check=check,
        capture_output=True,
        timeout=60,
        **({"user": account.pw_uid, "group": account.pw_gid} if account else {}),
    )


def _account() -> pwd.struct_passwd | None:
    """PostgreSQL refuses to run as root: the ``postgres`` account then."""
    return pwd.getpwnam("postgres") if os.geteuid() == 0 else None


@contextmanager
def streaming_pair(folder: Path) -> Iterator[tuple[Server, Server]]:
    """A primary with database ``grondslag`` and a hot standby streaming from it."""
    if not (BIN / "pg_basebackup").exists():
        pytest.fail(f"no PostgreSQL binaries in {BIN} (set TEST_POSTGRES_BIN)")
    if account := _account():
        os.chown(folder, account.pw_uid, account.pw_gid)
    primary = Server(folder / "primary", free_port())
    replica = Server(folder / "replica", free_port())
    tool("initdb", "-D", primary.folder, "-A", "trust", "-U", "postgres", "--no-sync")
    primary.start()
    try:
        asyncio.run(_create_database(primary.admin_url))
        tool("pg_basebackup", "-h", "127.0.0.1", "-p", primary.port, "-U", "postgres",
             "-D", replica.folder, "-R", "-X", "stream", "-c", "fast", "--no-sync")  # fmt: skip
        replica.start()
        try:
            yield primary, replica
        finally:
            replica.stop()
    finally:
        primary.stop()
        shutil.rmtree(folder / "primary", ignore_errors=True)
        shutil.rmtree(folder / "replica", ignore_errors=True)


async def _create_database(admin_url: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f"CREATE DATABASE {DATABASE}")
    finally:
        await conn.close()


def replayed(replica: Server, position: str, within: float = 10.0) -> None:
    """The replica has replayed the primary's log up to ``position``."""
    query = f"SELECT pg_last_wal_replay_lsn() >= '{position}'::pg_lsn"
    deadline = time.monotonic() + within
    while not replica.query(query):
        assert time.monotonic() < deadline, f"the replica did not replay {position}"
        time.sleep(0.02)


@contextmanager
def replay_paused(replica: Server) -> Iterator[None]:
    """The replica replays nothing meanwhile: it answers as of the moment it paused."""
    replica.query("SELECT pg_wal_replay_pause()")
    try:
        yield
    finally:
        replica.query("SELECT pg_wal_replay_resume()")
