"""Exactly once under crashes: writers with an ``Idempotency-Key`` per consent keep sending
while ``grondslag serve`` is SIGKILLed again and again mid-burst; every unanswered request
is re-sent with its key until it is answered. Afterwards every consent is in the log once:
none lost, none recorded twice, and each key's answer names the event that was stored.

(The run is bounded: a few hundred writes, four kills; ``benchmarks`` style longer runs
are the same test with larger numbers.)
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from service_support import serve_process

KEY = "crash-test-bootstrap-key"
NOTICE = {"version": "2025-01", "url": "https://praktijk.example/privacy", "sha256": "b" * 64}
WRITERS, SUBJECTS, KILLS = 8, 240, 4


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Service:
    """``grondslag serve`` on a database of the test's own, killed and started at will."""

    def __init__(self, database_url: str, nats_url: str, data_dir: Path):
        self.port = _free_port()
        self.api = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "NATS_URL": nats_url,
            "GRONDSLAG_DATA_DIR": str(data_dir),
            "GRONDSLAG_BOOTSTRAP_KEY": KEY,
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data_dir / "serve.log"  # every start's output, for a failure's message

    def start(self) -> None:
        self.process = serve_process(self.port, self.env, self.log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            # (a killed serve's worker may still answer meanwhile; this one must not exit)
            assert self.process.poll() is None, (
                f"serve exited ({self.process.returncode}):\n{self.output()}"
            )
            try:
                if httpx.get(f"{self.api}/health/live", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"grondslag serve did not start in 60 s:\n{self.output()}")

    def output(self, lines: int = 40) -> str:
        """The last lines the serves of this test printed."""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL the supervisor: its workers stop on their own (SIGTERM from the kernel),
        answering what they were answering; the next ``start`` may meet them on the port."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


@pytest.fixture
def service(
    new_database: Callable[[str], AbstractContextManager[str]], nats_url: str, tmp_path: Path
) -> Iterator[tuple[Service, str]]:
    with new_database("grondslag_crash") as url:
        running = Service(url, nats_url, tmp_path)
        running.start()
        try:
            yield running, url
        finally:
            running.stop()


def consent(ref: str) -> dict[str, Any]:
    return {
        "purpose": "photos",
        "method": "written",
        "explicit": False,
        "notice_version": "2025-01",
        "evidence": {"document_ref": f"{ref}.pdf"},
        "recorded_by": "staff:test",
        "effective_at": "2025-09-02T10:00:00Z",
    }


def stored_consents(url: str) -> Counter[str]:
    async def run() -> Counter[str]:
        conn = await asyncpg.connect(url)
        try:
            rows = await conn.fetch(
                "SELECT s.subject_ref FROM grondslag_events e JOIN grondslag_streams s "
                "USING (originator_id) WHERE e.topic LIKE '%Standing.ConsentGiven'"
            )
        finally:
            await conn.close()
        return Counter(row["subject_ref"] for row in rows)

    return asyncio.run(run())


def test_sigkills_mid_burst_lose_no_acknowledged_consent_and_record_none_twice(
    service: tuple[Service, str],
) -> None:
    running, url = service
    auth = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=running.api, headers=auth, timeout=5) as client:
        purpose = {
            "code": "photos",
            "title": "Foto's",
            "basis": "consent",
            "notice": NOTICE,
            "effective_at": "2025-01-01T00:00:00Z",
        }
        assert client.post("/v1/purposes", json=purpose).status_code == 201
        refs = [f"client-{i}" for i in range(SUBJECTS)]
        for ref in refs:
            assert client.put(f"/v1/subjects/{ref}", json={}).status_code == 201
    answers: dict[str, str] = {}  # ref -> event id of the 201 that answered its key
    resent = Counter[str]()
    refused: dict[str, str] = {}

    def writer(mine: list[str]) -> None:
        with httpx.Client(base_url=running.api, headers=auth, timeout=3) as client:
            for ref in mine:
                headers = {"Idempotency-Key": f"consent-{ref}"}
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    try:
                        answer = client.post(
                            f"/v1/subjects/{ref}/consents", json=consent(ref), headers=headers
                        )
                    except httpx.TransportError:  # killed mid-request: send it again
                        resent[ref] += 1
                        time.sleep(0.05)
                        continue
                    if answer.status_code == 201:
                        answers[ref] = answer.json()["event_id"]
                        break
                    if answer.status_code < 500:  # only an outage is worth sending again
                        refused[ref] = f"{answer.status_code} {answer.text[:200]}"
                        break
                    resent[ref] += 1
                    time.sleep(0.05)

    threads = [
        threading.Thread(target=writer, args=(refs[k::WRITERS],), daemon=True)
        for k in range(WRITERS)
    ]
    for thread in threads:
        thread.start()
    for k in range(1, KILLS + 1):  # kill at even steps of progress: always mid-burst
        deadline = time.monotonic() + 60
        while len(answers) < k * SUBJECTS // (KILLS + 1) and time.monotonic() < deadline:
            time.sleep(0.01)
        running.kill()
        running.start()
    deadline = time.monotonic() + 150
    for thread in threads:
        thread.join(timeout=max(0.1, deadline - time.monotonic()))
    assert refused == {}, refused

    stored = stored_consents(url)
    lost = [ref for ref in refs if stored[ref] == 0]
    doubled = {ref: n for ref, n in stored.items() if n > 1}
    assert len(answers) == SUBJECTS, f"unanswered: {sorted(set(refs) - set(answers))[:5]}"
    assert sum(resent.values()) > 0, "no request was cut off by a kill: the test proves nothing"
    assert (lost, doubled) == ([], {}), f"lost {len(lost)}, recorded twice {len(doubled)}"
    # each key's answer names the stored event (a replay answers the first answer)
    with httpx.Client(base_url=running.api, headers=auth, timeout=5) as client:
        for ref in refs[:: SUBJECTS // 24]:
            history = client.get(f"/v1/subjects/{ref}/history").json()["events"]
            given = [e["event_id"] for e in history if e["type"] == "ConsentGiven"]
            assert given == [answers[ref]]
