"""A ``serve`` started again right after its supervisor was SIGKILLed, while an API worker
of the killed one still holds the listening socket (it has not yet acted on its SIGTERM:
it was still starting up, or busy), waits for that worker and then comes up on the port,
where it used to exit "address already in use" — what a restart by systemd or by hand
meets after a crash. A port held by anything else still fails at once."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil

from tests.e2e.service_support import environment

KEY = "restart-after-kill-key"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "grondslag.cli", "serve", "--workers", "2", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _listeners(supervisor: subprocess.Popen[bytes], port: int) -> list[psutil.Process]:
    """The supervisor's children that hold ``port``'s listening socket: its API workers."""
    found = []
    for child in psutil.Process(supervisor.pid).children():
        try:
            if any(
                c.status == psutil.CONN_LISTEN and c.laddr.port == port
                for c in child.net_connections("tcp")
            ):
                found.append(child)
        except psutil.Error:
            pass
    return found


@contextlib.contextmanager
def _held(pid: int) -> Iterator[None]:
    """Process ``pid`` stopped (under ``ptrace``) until the block ends: it keeps its
    listening socket and handles no signal meanwhile, as a worker that is busy (its
    start-up stuck, the machine swapping) has not yet acted on its SIGTERM. (A plain
    SIGSTOP would not do: when the supervisor dies, the kernel sends the stopped worker's
    orphaned process group SIGHUP and SIGCONT.) The signals sent meanwhile arrive after."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    seize, interrupt, detach, wall = 0x4206, 0x4207, 17, 0x40000000
    assert libc.ptrace(seize, pid, None, None) == 0, os.strerror(ctypes.get_errno())
    try:
        assert libc.ptrace(interrupt, pid, None, None) == 0, os.strerror(ctypes.get_errno())
        os.waitpid(pid, wall)  # it has stopped
        yield
    finally:
        libc.ptrace(detach, pid, None, None)


def _until(what: str, check: Callable[[], object], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
            raise AssertionError(f"not within {timeout:g} s: {what}\n--- serve log ---\n{tail}")
        time.sleep(0.2)


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_a_serve_started_while_a_killed_serves_worker_finishes_waits_for_the_port(
    own_database_url: str, nats_url: str, tmp_path: Path
) -> None:
    env = environment(own_database_url, nats_url, tmp_path, GRONDSLAG_BOOTSTRAP_KEY=KEY)
    port, log = _free_port(), tmp_path / "serve.log"
    first = _serve(env, port, log)
    second: subprocess.Popen[bytes] | None = None
    try:
        _until("the first serve's two workers listen", lambda: len(_listeners(first, port)) == 2,
               90, log)  # fmt: skip
        busy, other = _listeners(first, port)
        with _held(busy.pid):
            first.kill()  # SIGKILL the supervisor alone; its workers get SIGTERM from the kernel
            first.wait(timeout=10)
            _until("the other worker stops", lambda: not other.is_running(), 30, log)

            second = _serve(env, port, log)
            waiting = f"killed (pid {busy.pid})"
            _until("the second serve says whom it waits for",
                   lambda: waiting in log.read_text() or second.poll() is not None,
                   60, log)  # fmt: skip
            assert second.poll() is None, log.read_text(errors="replace")[-3000:]
            assert "waiting up to 30 s" in log.read_text()
        # let go, the worker acts on its SIGTERM: the second serve takes the port
        _until("the second serve's own workers listen on the port",
               lambda: len(_listeners(second, port)) == 2 and _answers(port), 60, log)  # fmt: skip
        assert not busy.is_running()
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=60)


def test_a_port_held_by_another_program_still_fails_at_once(
    own_database_url: str, nats_url: str, tmp_path: Path
) -> None:
    env = environment(own_database_url, nats_url, tmp_path, GRONDSLAG_BOOTSTRAP_KEY=KEY)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "grondslag.cli", "serve", "--port", str(port)],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "waiting" not in done.stderr
    assert time.monotonic() - started < 20  # (it did not wait out the 30 s)
