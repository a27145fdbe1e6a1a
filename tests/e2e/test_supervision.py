"""`grondslag serve --workers 2` on its embedded default supervises what it runs: a SIGKILLed
projector or API worker is started again (and counted in /metrics), and when the supervisor
itself is SIGKILLed nothing of its data folder is left running — no child, no PostgreSQL,
no nats-server; nor after a SIGHUP or the terminal it runs in closed under it. Real
processes, real signals, a real pseudo-terminal."""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

KEY = "e2e-supervision-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
NOTICE = {"version": "2025-01", "url": "https://praktijk.example/privacy", "sha256": "c" * 64}
PROJECTIONS = ("current_standing", "audit_log", "nats_relay")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _until(what: str, check: Callable[[], object], timeout: float, log: Path) -> object:
    """``check()``'s first truthy answer within ``timeout`` seconds, else a failure naming
    ``what`` with the end of the service's log."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            answer = check()
        except (httpx.TransportError, psutil.Error):
            answer = None
        if answer:
            return answer
        if time.monotonic() > deadline:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
            raise AssertionError(f"not within {timeout:g} s: {what}\n--- serve log ---\n{tail}")
        time.sleep(0.2)


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


@dataclass
class Service:
    process: subprocess.Popen[bytes]
    data_dir: Path
    port: int
    log: Path
    seen: set[psutil.Process] = dataclasses.field(default_factory=set)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def descendants(self) -> list[psutil.Process]:
        found = [p for p in psutil.Process(self.process.pid).children(recursive=True) if _alive(p)]
        self.seen.update(found)  # to be sure none is left behind, even when a test fails
        return found

    def projector(self) -> psutil.Process | None:
        found = [p for p in self.descendants() if "project" in p.cmdline()]
        return found[0] if len(found) == 1 else None

    def api_workers(self) -> list[psutil.Process]:
        """The processes that serve the port: they hold its listening socket."""
        return [
            p
            for p in self.descendants()
            if any(
                c.status == psutil.CONN_LISTEN and c.laddr.port == self.port
                for c in p.net_connections("tcp")
            )
        ]

    def metrics(self) -> str:
        return httpx.get(f"{self.api}/metrics", headers=AUTH, timeout=5).text

    def server_processes(self) -> list[psutil.Process]:
        """Everything of this data folder that runs: the supervisor's tree, the embedded
        PostgreSQL with its backends, the embedded nats-server, anything naming the folder."""
        found: dict[int, psutil.Process] = {}
        with _suppress():
            supervisor = psutil.Process(self.process.pid)
            found |= {p.pid: p for p in [supervisor, *supervisor.children(recursive=True)]}
        for pid_file in (self.data_dir / "postgres" / "postmaster.pid", self.data_dir / "nats.pid"):
            with _suppress():
                server = psutil.Process(int(pid_file.read_text().split("\n", 1)[0]))
                found |= {p.pid: p for p in [server, *server.children(recursive=True)]}
        for process in psutil.process_iter(["cmdline"]):
            if str(self.data_dir) in " ".join(process.info["cmdline"] or ()):
                found[process.pid] = process
        alive = [p for p in found.values() if _alive(p)]
        self.seen.update(alive)
        return alive


def _suppress() -> contextlib.AbstractContextManager[None]:
    return contextlib.suppress(OSError, ValueError, psutil.Error)


def _restarts(metrics: str, process: str) -> int:
    found = re.search(
        rf'^grondslag_process_restarts_total{{process="{process}"}} (\d+)(?:\.0)?$', metrics, re.M
    )
    return int(found.group(1)) if found else 0


def _lag(metrics: str, projection: str) -> int | None:
    found = re.search(
        rf'^grondslag_projection_lag_events{{projection="{projection}"}} (\d+)(?:\.0)?$',
        metrics,
        re.M,
    )
    return int(found.group(1)) if found else None


def _data_dir() -> contextlib.AbstractContextManager[str]:
    """Not under pytest's temporary root: a pytest session starting meanwhile (another
    checkout's) takes the search bit off that root, which the embedded PostgreSQL (run as
    another user when we are root) needs while initdb runs."""
    return tempfile.TemporaryDirectory(prefix="grondslag-supervision-")


@pytest.fixture
def data_dir() -> Iterator[Path]:
    with _data_dir() as folder:
        yield Path(folder)


@contextlib.contextmanager
def _serving(data_dir: Path) -> Iterator[Service]:
    log = data_dir / "serve.log"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NATS_URL")}
    env |= {"GRONDSLAG_DATA_DIR": str(data_dir), "GRONDSLAG_BOOTSTRAP_KEY": KEY}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "grondslag.cli", "serve", "--workers", "2", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    served = Service(process, data_dir, port, log)
    try:

        def ready() -> bool:
            assert process.poll() is None, log.read_text(errors="replace")
            up = httpx.get(f"{served.api}/health/ready", timeout=5).status_code == 200
            return up and len(served.api_workers()) == 2 and served.projector() is not None

        _until("serve --workers 2 is ready with two API workers and a projector", ready, 90, log)
        yield served
    finally:
        try:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    code = process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    code = None
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
                assert code == 0, f"SIGTERM did not stop serve cleanly ({code})\n{tail}"
                # a clean stop leaves nothing running either (the embedded servers stopped)
                _until("a clean stop", lambda: not served.server_processes(), 10, log)
        finally:
            process.kill()
            process.wait()
            for left in {*served.seen, *served.server_processes()}:
                with _suppress():
                    left.kill()


@pytest.fixture
def service(data_dir: Path) -> Iterator[Service]:
    """A serve of this test's own (which the test may kill)."""
    with _serving(data_dir) as served:
        yield served


@pytest.fixture(scope="module")
def restarting() -> Iterator[Service]:
    """One serve for the tests that kill a child of it: the supervisor makes it whole again,
    and each test counts the restarts from what /metrics says when it begins (a start costs
    some ten seconds of CPU)."""
    with _data_dir() as folder, _serving(Path(folder)) as served:
        _register(served.api)
        yield served


def _register(api: str) -> None:
    purpose = {
        "code": "photo-in-dossier",
        "title": "Pasfoto in het dossier",
        "basis": "consent",
        "notice": NOTICE,
        "effective_at": "2025-01-01T00:00:00Z",
    }
    assert httpx.post(f"{api}/v1/purposes", json=purpose, headers=AUTH).status_code == 201


def _consent(api: str, subject: str) -> str:
    put = httpx.put(f"{api}/v1/subjects/{subject}", json={"birth_date": "1980-04-02"}, headers=AUTH)
    assert put.status_code == 201, put.text
    consent = {
        "purpose": "photo-in-dossier",
        "method": "written",
        "explicit": True,
        "notice_version": "2025-01",
        "evidence": {"document_ref": f"intake-{subject}.pdf"},
        "recorded_by": "staff:jdevries",
        "effective_at": "2025-09-02T10:00:00Z",
    }
    given = httpx.post(f"{api}/v1/subjects/{subject}/consents", json=consent, headers=AUTH)
    assert given.status_code == 201, given.text
    return given.json()["event_id"]


def test_a_killed_projector_is_restarted_and_catches_up(restarting: Service) -> None:
    service = restarting
    projector = service.projector()
    assert projector is not None
    # (counted from what /metrics says now, whatever happened at start)
    restarts = _restarts(service.metrics(), "projector")
    projector.send_signal(signal.SIGKILL)
    _until("the projector is dead", lambda: not _alive(projector), 10, service.log)
    # the API does not need the projector: the write is taken while it is down
    event_id = _consent(service.api, "client-after-kill")

    restarted = _until(
        "a new projector process runs",
        lambda: (p := service.projector()) is not None and p.pid != projector.pid and p,
        30,
        service.log,
    )
    assert isinstance(restarted, psutil.Process)

    def caught_up() -> bool:
        text = service.metrics()
        return all(_lag(text, name) == 0 for name in PROJECTIONS)

    _until("read model, audit log and relay catch up with the log", caught_up, 60, service.log)
    proof = httpx.get(f"{service.api}/v1/audit/proofs/{event_id}", headers=AUTH, timeout=10)
    assert proof.status_code == 200, proof.text  # the consent is a leaf of the audit log
    check = httpx.post(
        f"{service.api}/v1/checks",
        json={"purpose": "photo-in-dossier", "subject_refs": ["client-after-kill"]},
        headers=AUTH,
    )
    assert check.status_code == 200 and check.json()["allowed"] == ["client-after-kill"], check.text
    _until(
        "/metrics counts the projector's restart",
        lambda: _restarts(service.metrics(), "projector") == restarts + 1,
        10,
        service.log,
    )
    log = service.log.read_text(errors="replace")
    assert re.search(r"projector.*SIGKILL.*restart", log), "the restart is not logged"


def test_a_killed_api_worker_is_restarted_and_the_api_keeps_answering(
    restarting: Service,
) -> None:
    service = restarting
    victim = service.api_workers()[0]
    metrics = service.metrics()
    restarts = {name: _restarts(metrics, name) for name in ("api-1", "api-2", "projector")}
    victim.send_signal(signal.SIGKILL)
    _until("the API worker is dead", lambda: not _alive(victim), 10, service.log)
    # the other worker answers meanwhile: every request of a short burst succeeds
    for n in range(20):
        assert httpx.get(f"{service.api}/health/live", timeout=10).status_code == 200
        if n == 0:
            _consent(service.api, "client-during-restart")

    def replaced() -> bool:
        workers = service.api_workers()
        return len(workers) == 2 and victim.pid not in {p.pid for p in workers}

    _until("the killed API worker is replaced", replaced, 30, service.log)
    for n in range(10):
        _consent(service.api, f"client-after-restart-{n}")

    def counted() -> dict[str, int]:
        text = service.metrics()
        return {name: _restarts(text, name) - before for name, before in restarts.items()}

    _until(
        "/metrics counts the API worker's restart",
        lambda: sorted(counted().values()) == [0, 0, 1] and counted()["projector"] == 0,
        10,
        service.log,
    )


def test_a_killed_supervisor_leaves_nothing_running(service: Service) -> None:
    running = service.server_processes()
    names = {" ".join(p.cmdline()[:3]) for p in running}
    assert len(service.api_workers()) == 2 and service.projector() is not None
    assert any("postgres" in p.name() for p in running), names
    assert any("nats-server" in p.name() for p in running), names

    service.process.send_signal(signal.SIGKILL)
    service.process.wait(timeout=10)

    def left() -> list[str]:
        return sorted(
            f"{p.pid} {' '.join(p.cmdline()[:4])}"
            for p in {*[p for p in running if _alive(p)], *service.server_processes()}
        )

    try:
        _until("nothing of the data folder is left running", lambda: not left(), 15, service.log)
    except AssertionError as failed:
        raise AssertionError(f"left running: {left()}\n{failed}") from None
    # PostgreSQL was shut down, not just left to die: it removed its pid file
    assert not (service.data_dir / "postgres" / "postmaster.pid").exists()


class _Terminal:
    """A pseudo-terminal whose far end a process has as its controlling terminal, read
    on a thread (so that its writes never block); ``close`` hangs it up, as closing a
    terminal window does."""

    def __init__(self, log: Path) -> None:
        self.leader, self.follower = os.openpty()
        self.log, self._closing = log, threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)

    def start(self, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        def take_terminal() -> None:  # (after setsid: the terminal becomes ours)
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        process = subprocess.Popen(
            argv,
            env=env,
            stdin=self.follower,
            stdout=self.follower,
            stderr=self.follower,
            start_new_session=True,
            preexec_fn=take_terminal,
        )
        os.close(self.follower)
        self._reader.start()
        return process

    def _read(self) -> None:
        with self.log.open("ab") as out:
            while not self._closing.is_set():
                readable, _, _ = select.select([self.leader], [], [], 0.1)
                if readable:
                    try:
                        out.write(os.read(self.leader, 65536))
                    except OSError:
                        return
                    out.flush()

    def close(self) -> None:
        self._closing.set()
        self._reader.join(5)
        os.close(self.leader)


@pytest.mark.parametrize("how", ["SIGHUP", "closed terminal"])
def test_a_hang_up_stops_everything(data_dir: Path, how: str) -> None:
    """SIGHUP, or the terminal `serve` runs in closed under it: the children, then the
    embedded servers, stop in order; nothing of the data folder is left running."""
    log = data_dir / "serve.log"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NATS_URL")}
    env |= {"GRONDSLAG_DATA_DIR": str(data_dir), "GRONDSLAG_BOOTSTRAP_KEY": KEY}
    argv = [sys.executable, "-m", "grondslag.cli", "serve", "--port", str(port)]
    terminal = _Terminal(log) if how == "closed terminal" else None
    if terminal is not None:
        process = terminal.start(argv, env)
    else:
        with log.open("wb") as out:
            process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    served = Service(process, data_dir, port, log)
    try:

        def ready() -> bool:
            assert process.poll() is None, log.read_text(errors="replace")
            up = httpx.get(f"{served.api}/health/ready", timeout=5).status_code == 200
            return up and len(served.api_workers()) == 1 and served.projector() is not None

        _until("serve is ready", ready, 90, log)
        running = served.server_processes()
        assert any("postgres" in p.name() for p in running)
        assert any("nats-server" in p.name() for p in running)

        if terminal is not None:
            terminal.close()
        else:
            process.send_signal(signal.SIGHUP)
        code = process.wait(timeout=60)
        if terminal is None:
            assert code == 0, log.read_text(errors="replace")

        def left() -> list[str]:
            return sorted(
                f"{p.pid} {' '.join(p.cmdline()[:4])}"
                for p in {*[p for p in running if _alive(p)], *served.server_processes()}
            )

        try:
            _until("nothing of the data folder is left running", lambda: not left(), 15, log)
        except AssertionError as failed:
            raise AssertionError(f"left running: {left()}\n{failed}") from None
        # stopped, not left to die: PostgreSQL removed its pid file, nats-server was stopped
        assert not (data_dir / "postgres" / "postmaster.pid").exists()
        text = log.read_text(errors="replace")
        assert "received SIGHUP" in text or terminal is not None, text[-2000:]
        assert "embedded postgres stopped" in text or terminal is not None, text[-2000:]
    finally:
        with _suppress():
            process.kill()
        process.wait()
        for other in {*served.seen, *served.server_processes()}:
            with _suppress():
                other.kill()
