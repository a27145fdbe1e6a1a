"""The embedded PostgreSQL and NATS: real servers, on loopback, surviving restarts and crashes."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import asyncpg
import nats
import psutil
import pytest

from grondslag.embedded import (
    EmbeddedNats,
    EmbeddedPostgres,
    EmbeddedServerError,
    embedded_servers,
    folder_in_use,
    stop_left_running,
)

TAKEN_PORTS = {5432, 4222}

# A separate process owning both servers; prints their pids and urls, then waits.
OWNER = """
import json, sys, time
from pathlib import Path
from grondslag.embedded import EmbeddedNats, EmbeddedPostgres
with EmbeddedPostgres(Path(sys.argv[1])) as pg, EmbeddedNats(Path(sys.argv[1])) as ns:
    print(json.dumps({"pg": pg.pid, "nats": ns.pid, "pg_url": pg.url, "nats_url": ns.url}))
    sys.stdout.flush()
    time.sleep(120)
"""


def start_owner(data_dir: Path) -> tuple[subprocess.Popen[str], dict[str, object]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", OWNER, str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait(10)
        pytest.fail(f"owner process failed:\n{proc.stderr.read() if proc.stderr else ''}")
    return proc, json.loads(line)


def gone(pid: object) -> bool:
    assert isinstance(pid, int)
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def listening_addresses(pid: int) -> set[tuple[str, int]]:
    return {
        (c.laddr.ip, c.laddr.port)
        for c in psutil.Process(pid).net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    }


async def test_data_survives_a_restart(tmp_path: Path) -> None:
    with EmbeddedPostgres(tmp_path) as pg, EmbeddedNats(tmp_path) as ns:
        assert pg.display_url == f"postgresql://postgres@127.0.0.1:{pg.port}/grondslag"
        assert pg.url == f"postgresql://postgres:{pg.password}@127.0.0.1:{pg.port}/grondslag"
        assert ns.display_url == f"nats://127.0.0.1:{ns.port}"
        assert ns.url == f"nats://grondslag:{ns.password}@127.0.0.1:{ns.port}"
        assert {pg.port, ns.port}.isdisjoint(TAKEN_PORTS)
        assert pg.pid is not None and ns.pid is not None
        assert listening_addresses(pg.pid) == {("127.0.0.1", pg.port)}
        assert listening_addresses(ns.pid) == {("127.0.0.1", ns.port)}
        first_pids = (pg.pid, ns.pid)

        conn = await asyncpg.connect(pg.url)
        try:
            await conn.execute("CREATE TABLE consent (id int PRIMARY KEY, note text)")
            await conn.execute("INSERT INTO consent VALUES (1, 'toestemming')")
            assert await conn.fetchval("SELECT current_database()") == "grondslag"
        finally:
            await conn.close()

        nc = await nats.connect(ns.url)
        try:
            js = nc.jetstream()
            await js.add_stream(name="GRONDSLAG", subjects=["grondslag.>"])
            ack = await js.publish(
                "grondslag.demo.basis.lapsed", b"first", headers={"Nats-Msg-Id": "event-1"}
            )
            assert (ack.stream, ack.seq, ack.duplicate) == ("GRONDSLAG", 1, None)
        finally:
            await nc.close()

    assert all(gone(pid) for pid in first_pids)
    assert not pg.running and not ns.running

    with embedded_servers(tmp_path) as urls:
        assert urls.database_url is not None and urls.nats_url is not None
        conn = await asyncpg.connect(urls.database_url)
        try:
            assert await conn.fetchval("SELECT note FROM consent WHERE id = 1") == "toestemming"
        finally:
            await conn.close()

        nc = await nats.connect(urls.nats_url)
        try:
            js = nc.jetstream()
            msg = await js.get_msg("GRONDSLAG", 1)
            assert msg.data == b"first"
            assert msg.headers is not None and msg.headers["Nats-Msg-Id"] == "event-1"
            # The duplicate window outlives the restart: re-publishing is harmless.
            again = await js.publish(
                "grondslag.demo.basis.lapsed", b"first", headers={"Nats-Msg-Id": "event-1"}
            )
            assert (again.seq, again.duplicate) == (1, True)
        finally:
            await nc.close()


def test_either_server_can_be_skipped(tmp_path: Path) -> None:
    with embedded_servers(tmp_path, postgres=False) as urls:
        assert urls.database_url is None and urls.nats_url is not None
    assert not (tmp_path / "postgres").exists()


def test_a_folder_in_use_is_refused(tmp_path: Path) -> None:
    with EmbeddedNats(tmp_path), pytest.raises(EmbeddedServerError, match=str(tmp_path)):
        EmbeddedNats(tmp_path).start()


def test_a_restart_keeps_each_servers_port(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A consumer's NATS_URL (and a psql someone keeps open) stays right across restarts:
    the ports of the first start are recorded and taken again while they are free."""
    with EmbeddedPostgres(tmp_path) as pg, EmbeddedNats(tmp_path) as ns:
        ports = (pg.port, ns.port)
    assert (tmp_path / "postgres.port").read_text().strip() == str(ports[0])
    assert (tmp_path / "nats.port").read_text().strip() == str(ports[1])
    assert (tmp_path / "nats.port").stat().st_mode & 0o077 == 0
    with EmbeddedPostgres(tmp_path) as pg, EmbeddedNats(tmp_path) as ns:
        assert (pg.port, ns.port) == ports

    # another program took the NATS port meanwhile: another one, recorded, with a warning
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", ports[1]))
        squatter.listen()
        with EmbeddedNats(tmp_path) as ns:
            moved = ns.port
    assert moved != ports[1]
    assert (tmp_path / "nats.port").read_text().strip() == str(moved)
    assert f"port {ports[1]}" in caplog.text and "taken by another program" in caplog.text


def test_the_servers_of_a_live_owner_are_left_alone(tmp_path: Path) -> None:
    """What the guardian runs (stop_left_running) stops only servers whose owner died: a
    second ``serve`` that found the folder in use, stopping, must not stop the first's."""
    with EmbeddedNats(tmp_path) as ns:
        assert ns.pid is not None
        assert folder_in_use(tmp_path, postgres=False) is not None
        assert str(tmp_path) in (folder_in_use(tmp_path) or "")
        stop_left_running(tmp_path, postgres=False, timeout=5)
        assert not gone(ns.pid)
    assert folder_in_use(tmp_path) is None

    proc, info = start_owner(tmp_path)  # …while the servers of a dead owner are stopped
    proc.kill()
    proc.wait(10)
    assert folder_in_use(tmp_path) is None
    stop_left_running(tmp_path, timeout=10)
    assert gone(info["pg"]) and gone(info["nats"])


def test_sigterm_stops_both_servers(tmp_path: Path) -> None:
    proc, info = start_owner(tmp_path)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 128 + signal.SIGTERM
    assert gone(info["pg"]) and gone(info["nats"])
    assert not (tmp_path / "postgres" / "postmaster.pid").exists()


def test_servers_left_by_a_killed_owner_are_replaced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    proc, info = start_owner(tmp_path)
    proc.kill()
    proc.wait(10)
    assert not gone(info["pg"]) and not gone(info["nats"])  # orphans, still running

    with EmbeddedPostgres(tmp_path) as pg, EmbeddedNats(tmp_path) as ns:
        assert gone(info["pg"]) and gone(info["nats"])
        assert pg.pid != info["pg"] and ns.pid != info["nats"]
    assert "PostgreSQL left running" in caplog.text
    assert "nats-server left running" in caplog.text


def test_a_stale_postmaster_pid_is_ignored(tmp_path: Path) -> None:
    pg = EmbeddedPostgres(tmp_path)
    pg.start().stop()
    # As after a reboot: the recorded pid now belongs to some other live process (not
    # ours: postgres itself ignores its parent's and grandparent's pid).
    with subprocess.Popen(["sleep", "60"]) as other:
        (tmp_path / "postgres" / "postmaster.pid").write_text(f"{other.pid}\n{tmp_path}\n")
        try:
            with pg:
                assert pg.pid != other.pid
        finally:
            other.kill()


def test_a_server_that_cannot_start_is_reported_with_its_log(tmp_path: Path) -> None:
    pg = EmbeddedPostgres(tmp_path, timeout=10)
    pg.start().stop()
    conf = tmp_path / "postgres" / "postgresql.conf"
    good = conf.read_text()
    conf.write_text(good + "shared_buffers = 'plenty'\n")
    with pytest.raises(EmbeddedServerError, match="did not start") as error:
        pg.start()
    assert "postgres.log" in str(error.value) and "shared_buffers" in str(error.value)
    assert not pg.running

    conf.write_text(good)  # the failed start released the folder: it can start again
    with pg:
        assert pg.running


async def test_a_fixed_port_survives_stops_fast_and_immediate(private_dir: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    pg = EmbeddedPostgres(private_dir, port=port, settings={"max_connections": "12"})
    with pg:
        assert pg.port == port
        conn = await asyncpg.connect(pg.url)
        try:
            assert await conn.fetchval("SHOW max_connections") == "12"
            await conn.execute("CREATE TABLE consent (id int PRIMARY KEY)")
            await conn.execute("INSERT INTO consent VALUES (1)")
        finally:
            await conn.close()
        pg.stop(immediate=True)  # as a crash: the next start recovers from the WAL
        assert not pg.running
        pg.start()
        assert pg.port == port
        conn = await asyncpg.connect(pg.url)
        try:
            assert await conn.fetchval("SELECT count(*) FROM consent") == 1
        finally:
            await conn.close()
        pg.stop()
        pg.start()
        assert pg.display_url == f"postgresql://postgres@127.0.0.1:{port}/grondslag"
