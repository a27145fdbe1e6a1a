"""`grondslag serve --workers 2` with ``GRONDSLAG_LOG_FORMAT=json``: every line any of its
processes writes (supervisor, API workers with uvicorn's access log, projector) is one JSON
object naming its process, and a request's lines name its request id; /metrics, whichever
worker answers, counts the requests of both workers (and keeps a killed worker's).

The module's tests share one serve (each start costs some ten seconds of CPU); none of them
depends on another having run, and the fixture checks, once it stopped the serve, that every
line it wrote to the end, its stop included, is JSON."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from chromium_devtools import free_port

KEY = f"e2e-observe-{secrets.token_hex(16)}"
AUTH = {"Authorization": f"Bearer {KEY}"}
LIVE = ("GET", "/health/live", "200")


class Served:
    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path):
        self.process, self.port, self.log = process, port, log
        self.api = f"http://127.0.0.1:{port}"
        self.tenant = ""

    def families(self) -> dict[str, list[object]]:
        text = httpx.get(f"{self.api}/metrics", headers=AUTH, timeout=5).text
        return {f.name: f.samples for f in text_string_to_metric_families(text)}

    def live_count(self) -> float:
        return sum(
            s.value  # type: ignore[attr-defined]
            for s in self.families()["grondslag_http_requests"]
            if s.name == "grondslag_http_requests_total"  # type: ignore[attr-defined]
            and (s.labels["method"], s.labels["route"], s.labels["status"]) == LIVE  # type: ignore[attr-defined]
        )

    def workers(self) -> list[psutil.Process]:
        found = []
        for child in psutil.Process(self.process.pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):  # one that died meanwhile, a zombie
                if child.status() != psutil.STATUS_ZOMBIE and "--no-projector" in child.cmdline():
                    found.append(child)
        return found


def _until(what: str, check, timeout: float, log: Path):
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"{what}\n{log.read_text(errors='replace')[-3000:]}"
        time.sleep(0.2)
    return found


def _entries(log: Path) -> list[dict[str, object]]:
    """Every line of the log as JSON (fails on any line that is not)."""
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def served(
    module_database_url: str, nats_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    tmp_path = tmp_path_factory.mktemp("observed")
    log, port = tmp_path / "serve.log", free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRONDSLAG_", "OTEL_"))}
    env |= {
        "DATABASE_URL": module_database_url,
        "NATS_URL": nats_url,
        "GRONDSLAG_DATA_DIR": str(tmp_path / "data"),
        "GRONDSLAG_BOOTSTRAP_KEY": KEY,
        "GRONDSLAG_BOOTSTRAP_TENANT": f"observe-{secrets.token_hex(4)}",
        "GRONDSLAG_LOG_FORMAT": "json",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    argv = [sys.executable, "-m", "grondslag.cli", "serve", "--workers", "2", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    service = Served(process, port, log)
    service.tenant = env["GRONDSLAG_BOOTSTRAP_TENANT"]
    try:

        def ready() -> bool:
            assert process.poll() is None, log.read_text(errors="replace")
            try:
                up = httpx.get(f"{service.api}/health/ready", timeout=5).status_code == 200
            except httpx.TransportError:
                return False
            return up and len(service.workers()) == 2

        _until("serve --workers 2 is ready", ready, 60, log)
        yield service
        # a worker the supervisor is starting again (one the tests killed, or one that
        # exited: its warning says why) is waited for, so that the stop names both
        _until("both workers before the stop", lambda: len(service.workers()) == 2, 60, log)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, log.read_text(errors="replace")[-3000:]
        entries = _entries(log)  # every line JSON, to the last line of the stop
        messages = [e["message"] for e in entries]
        warnings = [e["message"] for e in entries if e.get("level") in ("WARNING", "ERROR")]
        assert "received SIGTERM" in messages and any(
            str(m).startswith("stopping api-1") for m in messages
        ), (messages[-10:], warnings)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_every_line_is_json_and_a_requests_lines_name_its_id(served: Served) -> None:
    ids = [f"e2e-{n}-{secrets.token_hex(4)}" for n in range(20)]
    for request_id in ids:  # a new connection each: both workers answer some
        answer = httpx.get(f"{served.api}/health/live", headers={"X-Request-Id": request_id})
        assert answer.headers["x-request-id"] == request_id
    missing = httpx.get(f"{served.api}/v1/purposes", headers={"X-Request-Id": "no-key"})
    assert missing.status_code == 401

    def logged() -> list[dict[str, object]]:  # each line is written as it is logged
        entries = _entries(served.log)
        seen = {e.get("request_id") for e in entries if e["logger"] == "uvicorn.access"}
        return entries if set(ids) | {"no-key"} <= seen else []

    entries = _until("the access lines of every request", logged, 15, served.log)
    assert all(
        {"time", "level", "logger", "message", "process", "pid"} <= e.keys() for e in entries
    )
    processes = {e["process"] for e in entries}
    assert {"serve", "api-1", "api-2", "projector"} <= processes, processes
    access = [e for e in entries if e["logger"] == "uvicorn.access"]
    named = {e["request_id"]: e for e in access if "request_id" in e}
    assert set(ids) | {"no-key"} <= named.keys()
    assert named["no-key"]["status"] == 401 and named["no-key"]["path"] == "/v1/purposes"
    assert {named[i]["process"] for i in ids} == {"api-1", "api-2"}  # both workers served


def test_metrics_sum_both_workers_and_keep_a_killed_workers_counts(served: Served) -> None:
    before = served.live_count()
    for _ in range(30):
        assert httpx.get(f"{served.api}/health/live").status_code == 200
    # whichever worker answers the scrape, it counts the requests both served
    counts = {served.live_count() for _ in range(8)}
    assert counts == {before + 30}, counts
    pids = {
        s.labels["pid"]  # type: ignore[attr-defined]
        for s in _until(
            "both workers' process metrics",
            lambda: (
                len(
                    {s.labels["pid"] for s in served.families()["process_resident_memory_bytes"]}  # type: ignore[attr-defined]
                )
                == 2
                and served.families()["process_resident_memory_bytes"]
            ),
            15,
            served.log,
        )
    }
    killed = served.workers()[0]
    assert str(killed.pid) in pids
    killed.send_signal(signal.SIGKILL)
    _until(
        "a new worker",
        lambda: len(served.workers()) == 2 and killed not in served.workers(),
        30,
        served.log,
    )
    after = served.live_count()
    assert after >= before + 30  # the dead worker's counts stay: a counter never goes back
    _until(
        "the dead worker's process metrics are gone",
        lambda: (
            str(killed.pid)
            not in {s.labels["pid"] for s in served.families()["process_resident_memory_bytes"]}
        ),  # type: ignore[attr-defined]
        15,
        served.log,
    )


NOTICE = {"version": "2025-01", "url": "https://praktijk.example/privacy", "sha256": "d" * 64}


def test_a_requests_trace_context_reaches_nats_through_the_relay(
    served: Served, nats_url: str
) -> None:
    import asyncio

    import nats

    purpose = {
        "code": "photo",
        "title": "Foto",
        "basis": "consent",
        "notice": NOTICE,
        "effective_at": "2025-01-01T00:00:00Z",
    }
    assert httpx.post(f"{served.api}/v1/purposes", json=purpose, headers=AUTH).status_code == 201
    put = httpx.put(f"{served.api}/v1/subjects/client-1", json={}, headers=AUTH)
    assert put.status_code == 201, put.text
    trace_id = secrets.token_hex(16)
    consent = {
        "purpose": "photo",
        "method": "written",
        "explicit": True,
        "notice_version": "2025-01",
        "evidence": {"document_ref": "intake.pdf"},
        "recorded_by": "staff:x",
        "effective_at": "2025-09-02T10:00:00Z",
    }
    traced = {**AUTH, "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}
    given = httpx.post(f"{served.api}/v1/subjects/client-1/consents", json=consent, headers=traced)
    assert given.status_code == 201, given.text
    tenant = served.tenant

    async def lawful() -> object:
        nc = await nats.connect(nats_url)
        try:
            sub = await nc.jetstream().subscribe(f"grondslag.{tenant}.basis.lawful")
            return await sub.next_msg(timeout=20)
        finally:
            await nc.close()

    msg = asyncio.run(lawful())
    body = json.loads(msg.data)  # type: ignore[attr-defined]
    assert body["traceparent"] == given.headers["traceparent"]
    assert body["traceparent"].split("-")[1] == trace_id
    assert msg.headers["traceparent"] == body["traceparent"]  # type: ignore[attr-defined]
