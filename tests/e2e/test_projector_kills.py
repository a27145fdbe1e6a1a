"""The projector SIGKILLed again and again while writers keep recording consents and
withdrawals: ``grondslag serve`` restarts it each time, and once it has caught up, what it
built is what a rebuild from the log builds — the read model row for row, the audit log
leaf for leaf (``grondslag audit check``), and the relay's messages one for one (each
exactly once on NATS, none missing, none extra, each equal to what the fold says now).

The service runs on a database of the test's own and the shared NATS, under a tenant name
of its own, so the stream's other tenants do not count.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import msgspec
import psutil
import pytest

from service_support import serve_process

KEY = "projector-kill-key"
NOTICE = {"version": "2025-01", "url": "https://praktijk.example/privacy", "sha256": "d" * 64}
PROJECTIONS = ("current_standing", "audit_log", "nats_relay")
WRITERS, KILLS = 4, 4


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Service:
    """``grondslag serve`` (supervisor, one API worker, the projector) on the test's database."""

    def __init__(self, database_url: str, nats_url: str, data_dir: Path, tenant: str):
        self.port = _free_port()
        self.api = f"http://127.0.0.1:{self.port}"
        self.log = data_dir / "serve.log"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "NATS_URL": nats_url,
            "GRONDSLAG_DATA_DIR": str(data_dir),
            "GRONDSLAG_BOOTSTRAP_KEY": KEY,
            "GRONDSLAG_BOOTSTRAP_TENANT": tenant,
        }
        self.process = serve_process(self.port, self.env, self.log)

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-40:])

    def until(self, what: str, check: Callable[[], Any], timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            try:
                answer = check()
            except (httpx.TransportError, psutil.Error):
                answer = None
            if answer:
                return answer
            assert self.process.poll() is None, f"serve exited\n{self.tail()}"
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {timeout:g} s: {what}\n{self.tail()}")
            time.sleep(0.1)

    def projector(self) -> psutil.Process | None:
        for child in psutil.Process(self.process.pid).children(recursive=True):
            if "project" in child.cmdline() and child.status() != psutil.STATUS_ZOMBIE:
                return child
        return None

    def lags(self) -> dict[str, int]:
        lines = httpx.get(
            f"{self.api}/metrics", headers={"Authorization": f"Bearer {KEY}"}, timeout=5
        ).text.splitlines()
        lags = {}
        for line in lines:
            for name in PROJECTIONS:
                if line.startswith(f'grondslag_projection_lag_events{{projection="{name}"}} '):
                    lags[name] = int(float(line.rsplit(" ", 1)[1]))
        return lags

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@pytest.fixture
def running(
    new_database: Callable[[str], AbstractContextManager[str]], nats_url: str, tmp_path: Path
) -> Iterator[tuple[Service, str, str, str]]:
    tenant = f"t-kill-{secrets.token_hex(4)}"
    with new_database("grondslag_projector_kills") as url:
        service = Service(url, nats_url, tmp_path, tenant)
        try:
            service.until(
                "serve is ready with its projector",
                lambda: (
                    httpx.get(f"{service.api}/health/ready", timeout=2).status_code == 200
                    and service.projector()
                ),
                90,
            )
            yield service, url, nats_url, tenant
        finally:
            service.stop()


CONSENT = {
    "purpose": "photos",
    "method": "written",
    "explicit": True,
    "notice_version": "2025-01",
    "evidence": {"document_ref": "intake.pdf"},
    "recorded_by": "staff:test",
}
WITHDRAWAL = {"method": "email", "recorded_by": "staff:test"}


def _write(api: str, writer: int, stop: threading.Event, done: list[str]) -> None:
    """Until ``stop``, subject after subject: registered, a consent, and for two in three a
    withdrawal (a lapse the relay must announce), and for one in three of those a consent
    again. ``done`` gets each subject written, or the answer that went wrong."""
    auth = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=api, headers=auth, timeout=30) as client:
        for n in itertools.count():
            if stop.is_set():
                return
            ref = f"client-{writer}-{n}"
            steps: list[tuple[str, str, dict[str, Any] | None]] = [
                ("PUT", f"/v1/subjects/{ref}", {"birth_date": "1980-04-02"}),
                ("POST", f"/v1/subjects/{ref}/consents", CONSENT),
            ]
            if n % 3:
                steps.append(("POST", f"/v1/subjects/{ref}/consents/photos/withdrawal", WITHDRAWAL))
            if n % 3 == 2:
                steps.append(("POST", f"/v1/subjects/{ref}/consents", CONSENT))
            for method, path, body in steps:
                answer = client.request(method, path, json=body)
                if answer.status_code not in (200, 201):
                    done.append(f"{method} {path}: {answer.status_code} {answer.text}")
                    return
            done.append(ref)


def test_a_projector_killed_mid_burst_builds_what_a_rebuild_builds(
    running: tuple[Service, str, str, str],
) -> None:
    service, url, nats_url, tenant = running
    auth = {"Authorization": f"Bearer {KEY}"}
    purpose = {
        "code": "photos",
        "title": "Foto's",
        "basis": "consent",
        "notice": NOTICE,
        "effective_at": "2025-01-01T00:00:00Z",
    }
    assert httpx.post(f"{service.api}/v1/purposes", json=purpose, headers=auth).status_code == 201

    stop, done = threading.Event(), []
    writers = [
        threading.Thread(target=_write, args=(service.api, n, stop, done)) for n in range(WRITERS)
    ]
    for thread in writers:
        thread.start()
    killed: list[int] = []
    while len(killed) < KILLS:  # each kill while the writers are still writing
        assert any(thread.is_alive() for thread in writers), f"burst over after {killed}"
        time.sleep(0.5)
        victim = service.until("a projector runs", service.projector, 60)
        victim.send_signal(signal.SIGKILL)
        killed.append(victim.pid)
        service.until(
            "the supervisor starts the projector again",
            lambda: (p := service.projector()) is not None and p.pid not in killed,
            60,
        )
    stop.set()
    for thread in writers:
        thread.join(timeout=60)
    assert all(ref.startswith("client-") for ref in done), [d for d in done if " " in d][:3]
    service.until(
        "read model, audit log and relay catch up with the log",
        lambda: (lags := service.lags()) and all(lags.get(n) == 0 for n in PROJECTIONS),
        120,
    )

    asyncio.run(_same_as_a_rebuild(url, nats_url, tenant, len(done)))
    check = subprocess.run(
        [sys.executable, "-m", "grondslag.cli", "audit", "check"],
        env=service.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stdout + check.stderr


async def _same_as_a_rebuild(url: str, nats_url: str, tenant: str, subjects: int) -> None:
    from grondslag.ledger import envelope
    from grondslag.ledger.persistence.mapper import decode_event
    from grondslag.ledger.persistence.postgres import EVENTS_TABLE, STREAMS_TABLE
    from grondslag.ledger.reads.checks import CURRENT_STANDING_TABLE
    from grondslag.ledger.reads.pool import create_read_pool
    from grondslag.ledger.settings import Settings
    from grondslag.projector.rebuild import rebuild_into
    from grondslag.projector.relay import STREAM, to_messages

    # the keyring the served processes seal with (the session's: GRONDSLAG_MASTER_KEY_FILE)
    envelope.use(Settings.from_env())
    pool = await create_read_pool(url, min_size=1, max_size=2)
    try:
        # the read model, row for row
        await rebuild_into(pool, table="grondslag_current_standing_anew")
        columns = "tenant, purpose, subject_ref, lawful, status, basis, reason, since, until, "
        columns += "changes_at, stream_version"
        order = "ORDER BY tenant, purpose, subject_ref"
        projected = await pool.fetch(f"SELECT {columns} FROM {CURRENT_STANDING_TABLE} {order}")
        rebuilt = await pool.fetch(f"SELECT {columns} FROM grondslag_current_standing_anew {order}")
        assert len(projected) == subjects
        assert [tuple(r) for r in projected] == [tuple(r) for r in rebuilt]

        # every leaf once: the audit log holds each event of the log exactly once
        events, leaves = await pool.fetchrow(
            f"SELECT (SELECT count(*) FROM {EVENTS_TABLE}), "
            "(SELECT count(*) FROM grondslag_audit_leaves)"
        )
        assert leaves == events

        # the relay, message for message: what the fold of the whole log says now
        async with pool.acquire() as conn:
            rows = await conn.fetch(
                f"SELECT e.* FROM {EVENTS_TABLE} e JOIN {STREAMS_TABLE} s USING (originator_id) "
                "WHERE s.tenant = $1 ORDER BY e.notification_id",
                tenant,
            )
            events = [
                decode_event(r["topic"], r["state"], r["originator_id"], r["originator_version"])
                for r in rows
            ]
            expected = await to_messages(conn, events)
    finally:
        await pool.close()
    assert sum(1 for _, m in expected if m.type.endswith("basis.lapsed.v1")) >= subjects // 2

    import nats

    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        sub = await js.subscribe(f"grondslag.{tenant}.>", stream=STREAM, ordered_consumer=True)
        received: list[Any] = []
        while True:
            try:
                msg = await sub.next_msg(timeout=2)
            except nats.errors.TimeoutError:
                break
            if not msg.subject.endswith(".audit.checkpoint"):  # the checkpointer's, not relayed
                received.append(msg)
        await sub.unsubscribe()
    finally:
        await nc.close()
    ids = Counter(msgspec.json.decode(m.data)["id"] for m in received)
    assert [i for i, n in ids.items() if n > 1] == [], "published more than once"
    want = {m.id: (s, msgspec.to_builtins(m)) for s, m in expected}
    got = {(d := msgspec.json.decode(m.data))["id"]: (m.subject, d) for m in received}
    assert sorted(set(want) - set(got)) == [], "never published"
    assert sorted(set(got) - set(want)) == [], "published, but the fold does not say it"
    assert got == want
