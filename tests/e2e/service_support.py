"""``grondslag serve`` and the other commands as processes of their own, on a database and
a data folder of the test's."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(database_url: str, nats_url: str, data_dir: Path, **env: str) -> dict[str, str]:
    """The process environment of the ledger on this database and data folder: every secret
    file in the folder (the test session's shared keyring is not this one's)."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "NATS_URL": nats_url,
        "GRONDSLAG_DATA_DIR": str(data_dir),
        "GRONDSLAG_MASTER_KEY_FILE": str(data_dir / "master-keys"),
        **env,
    }


def grondslag(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "grondslag.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def serve_process(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``grondslag serve`` on ``port`` in a session of its own, its output added to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "grondslag.cli", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


class Service:
    """``grondslag serve`` (API and projector, supervised) until ``stop``."""

    def __init__(self, env: dict[str, str], key: str):
        self.env, self.key = env, key
        self.port = _free_port()
        self.api = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log = Path(env["GRONDSLAG_DATA_DIR"]) / "serve.log"

    def __enter__(self) -> Service:
        self.process = serve_process(self.port, self.env, self.log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"grondslag serve exited:\n{self.output()}"
            try:
                if httpx.get(f"{self.api}/health/live", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"grondslag serve did not start in 60 s:\n{self.output()}")

    def output(self, lines: int = 40) -> str:
        """The last lines the service printed (for a failure's message)."""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def __exit__(self, *_: object) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=40)

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.key}", **headers}
        return httpx.request(method, self.api + path, json=body, headers=headers, timeout=30)

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        answer = self.call(method, path, body)
        assert answer.status_code in (200, 201), answer.text
        return answer.json()
