"""`grondslag serve` on its embedded default, as a new user runs it: the README walk-through
over real HTTP (with the README's weak ``dev-key``, accepted on the embedded database with a
warning), then a restart on the same data folder, where the bootstrap key revoked before
stays revoked."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import nats

KEY = "dev-key"  # as in the README's command 1
WITHDRAWAL = {"method": "email", "effective_at": "2025-11-14T22:14:00Z", "recorded_by": "staff:x"}
NOTICE = {"version": "2025-01", "url": "https://praktijk.example/privacy", "sha256": "b" * 64}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NATS_URL")}
    return env | {"GRONDSLAG_DATA_DIR": str(data_dir), "GRONDSLAG_BOOTSTRAP_KEY": KEY}


async def _stream_names(url: str) -> list[str]:
    nc = await nats.connect(url, allow_reconnect=False, connect_timeout=5)
    try:
        return [info.config.name for info in await nc.jetstream().streams_info()]
    finally:
        await nc.close()


def _readme_consumer_hears(nats_url: str, timeout: float = 30.0) -> str:
    """The first line the README's NATS consumer prints, run with ``NATS_URL``."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    code = next(
        block
        for block in re.findall(r"```python\n(.*?)```", readme, re.S)
        if "pull_subscribe" in block
    )
    consumer = subprocess.Popen(
        [sys.executable, "-c", code],
        env={**os.environ, "NATS_URL": nats_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    output = consumer.stdout
    assert output is not None
    reader = threading.Thread(target=lambda: lines.append(output.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    consumer.kill()
    consumer.wait()
    return lines[0].strip() if lines else f"nothing in {timeout} s"


def _serve(data_dir: Path, port: int, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "grondslag.cli", "serve", "--port", str(port)],
        env=env or _env(data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/ready").status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise AssertionError("grondslag serve did not become ready in 60 s")


def _stop(process: subprocess.Popen[bytes]) -> str:
    """Stop ``serve``; what it wrote on stdout and stderr."""
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    return output.decode(errors="replace")


def test_walk_through_on_the_embedded_default_survives_a_restart(tmp_path: Path) -> None:
    port = _free_port()
    api = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {KEY}"}
    server = _serve(tmp_path, port)
    try:
        purpose = {
            "code": "photo-in-dossier",
            "title": "Pasfoto in het dossier",
            "basis": "consent",
            "notice": NOTICE,
            "effective_at": "2025-01-01T00:00:00Z",
        }
        assert httpx.post(f"{api}/v1/purposes", json=purpose, headers=auth).status_code == 201
        assert (
            httpx.put(
                f"{api}/v1/subjects/client-17", json={"birth_date": "1980-04-02"}, headers=auth
            ).status_code
            == 201
        )
        consent = {
            "purpose": "photo-in-dossier",
            "method": "written",
            "explicit": True,
            "notice_version": "2025-01",
            "evidence": {"document_ref": "intake.pdf"},
            "recorded_by": "staff:jdevries",
            "effective_at": "2025-09-02T10:00:00Z",
        }
        given = httpx.post(f"{api}/v1/subjects/client-17/consents", json=consent, headers=auth)
        assert given.status_code == 201, given.text
        event_id = given.json()["event_id"]
        key_file = tmp_path / "audit-signing-key.pem"  # generated on first start, owner only
        assert key_file.stat().st_mode & 0o777 == 0o600
        first = httpx.get(f"{api}/v1/audit/checkpoints/latest", headers=auth).json()
        # a consumer gets the embedded NATS URL, credentials included, from the command
        printed = subprocess.run(
            [sys.executable, "-m", "grondslag.cli", "nats-url"],
            env=_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert printed.returncode == 0, printed.stderr
        nats_url = printed.stdout.strip()
        assert asyncio.run(_stream_names(nats_url)) == ["GRONDSLAG"]
        # …and the README's consumer, run with it, hears a withdrawal
        other = {**consent, "effective_at": "2025-09-03T10:00:00Z"}
        for path, body in [
            ("/v1/subjects/client-18", {"birth_date": "1981-05-03"}),
            ("/v1/subjects/client-18/consents", other),
            ("/v1/subjects/client-18/consents/photo-in-dossier/withdrawal", WITHDRAWAL),
        ]:
            call = httpx.put if path.endswith("client-18") else httpx.post
            answer = call(f"{api}{path}", json=body, headers=auth)
            assert answer.status_code in (200, 201), answer.text
        heard = _readme_consumer_hears(nats_url)
        assert heard.startswith("stop processing client-18 for photo-in-dossier"), heard
        assert (tmp_path / "api-key-pepper").stat().st_mode & 0o777 == 0o600
        # an admin makes a key of its own and revokes the weak bootstrap key
        made = httpx.post(f"{api}/v1/keys", json={"roles": ["admin", "reader"]}, headers=auth)
        assert made.status_code == 201, made.text
        [boot] = [k for k in httpx.get(f"{api}/v1/keys", headers=auth).json()["keys"]
                  if k["bootstrap"]]  # fmt: skip
        revoked = httpx.post(f"{api}/v1/keys/{boot['key_id']}/revocation", headers=auth)
        assert revoked.status_code == 200, revoked.text
    finally:
        output = _stop(server)
    assert "GRONDSLAG_BOOTSTRAP_KEY is weak" in output
    assert not (tmp_path / "postgres" / "postmaster.pid").exists(), "postgres left running"
    # the data folder is its owner's alone, and no password is in what `serve` logged
    assert tmp_path.stat().st_mode & 0o077 in (0, 0o010)  # 0710 as root: the PG account's group
    open_files = [p for p in tmp_path.rglob("*") if not p.is_symlink() and p.stat().st_mode & 0o077]
    assert open_files == []
    for secret in ("postgres.password", "nats.password"):
        password = (tmp_path / secret).read_text().strip()
        assert len(password) >= 40 and password not in output
        for log in ("postgres.log", "nats.log"):
            assert password not in (tmp_path / log).read_text(errors="replace")

    server = _serve(tmp_path, port)
    try:
        # the revoked bootstrap key is not revived by the restart
        assert httpx.get(f"{api}/v1/purposes", headers=auth).status_code == 401
        auth = {"Authorization": f"Bearer {made.json()['key']}"}
        standing = httpx.get(
            f"{api}/v1/subjects/client-17/standing/photo-in-dossier", headers=auth
        ).json()
        assert standing["lawful"] is True
        assert standing["evidence"] == [event_id]
        # the same key after the restart; the consent's proof verifies under it
        deadline = time.monotonic() + 20
        while (
            proof := httpx.get(f"{api}/v1/audit/proofs/{event_id}", headers=auth)
        ).status_code != 200:
            assert time.monotonic() < deadline, proof.text
            time.sleep(0.2)
        assert proof.json()["checkpoint"]["key_id"] == first["key_id"]
        assert proof.json()["public_key"] == first["public_key"]
    finally:
        _stop(server)


def _readme_block(fence: str, containing: str) -> str:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    return next(
        block for block in re.findall(rf"```{fence}\n(.*?)```", readme, re.S) if containing in block
    )


class _Lines:
    """The lines a process prints, read on a thread, waited for with a timeout."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process, self.lines = process, []
        self._added = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._added:
                self.lines.append(line.rstrip("\n"))
                self._added.notify_all()

    def wait_for(self, text: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        with self._added:
            while not (found := [line for line in self.lines if text in line]):
                left = deadline - time.monotonic()
                assert left > 0 and self.process.poll() is None, (
                    f"no line with {text!r} in {timeout:g} s "
                    f"(exit {self.process.poll()}):\n" + "\n".join(self.lines)
                )
                self._added.wait(min(left, 0.5))
        return found[0]


def test_the_readme_consumer_hears_a_lapse_after_idle_time_and_a_restart(tmp_path: Path) -> None:
    """The README's consumer exactly as written — its shell line and its Python block —
    against the embedded default: it outlasts fetch time-outs with nothing to fetch, hears
    a withdrawal, and goes on hearing after `serve` restarts (the NATS port is kept)."""
    port = _free_port()
    api = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {KEY}"}
    consumer_file = tmp_path / "consumer.py"
    consumer_file.write_text(_readme_block("python", "pull_subscribe"))
    shell = _readme_block("sh", "grondslag nats-url").strip().splitlines()[0]
    shell = shell.split("#", 1)[0].replace("consumer.py", str(consumer_file))
    data_dir = tmp_path / "data"
    server = _serve(data_dir, port)
    consumer = None
    try:
        purpose = {
            "code": "photo-in-dossier",
            "title": "Pasfoto in het dossier",
            "basis": "consent",
            "notice": NOTICE,
            "effective_at": "2025-01-01T00:00:00Z",
        }
        assert httpx.post(f"{api}/v1/purposes", json=purpose, headers=auth).status_code == 201

        def consent(subject: str) -> None:
            body = {
                "purpose": "photo-in-dossier",
                "method": "written",
                "explicit": True,
                "notice_version": "2025-01",
                "evidence": {"document_ref": f"intake-{subject}.pdf"},
                "recorded_by": "staff:jdevries",
                "effective_at": "2025-09-02T10:00:00Z",
            }
            made = httpx.put(
                f"{api}/v1/subjects/{subject}", json={"birth_date": "1980-04-02"}, headers=auth
            )
            assert made.status_code == 201, made.text
            given = httpx.post(f"{api}/v1/subjects/{subject}/consents", json=body, headers=auth)
            assert given.status_code == 201, given.text

        def withdraw(subject: str) -> None:
            path = f"/v1/subjects/{subject}/consents/photo-in-dossier/withdrawal"
            done = httpx.post(f"{api}{path}", json=WITHDRAWAL, headers=auth)
            assert done.status_code == 201, done.text

        consent("client-17")
        consent("client-18")
        # a shell of one's own: not this virtual environment's python on the PATH
        venv = str(Path(sys.executable).parent)
        env = {k: v for k, v in _env(data_dir).items() if k != "VIRTUAL_ENV"}
        env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p != venv)
        consumer = subprocess.Popen(
            ["bash", "-c", shell],
            cwd=Path(__file__).parents[2],  # where `uv run` finds the project
            env=env | {"PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        heard = _Lines(consumer)
        time.sleep(6)  # more than one of its 5 s fetch time-outs with nothing to fetch
        assert consumer.poll() is None, "\n".join(heard.lines)
        withdraw("client-17")
        heard.wait_for("stop processing client-17 for photo-in-dossier withdrawn", 30)

        _stop(server)
        server = _serve(data_dir, port)  # the same folder: the same NATS port
        withdraw("client-18")
        heard.wait_for("stop processing client-18 for photo-in-dossier withdrawn", 60)
        assert consumer.poll() is None, "\n".join(heard.lines)
    finally:
        if consumer is not None:
            consumer.kill()
            consumer.wait()
        _stop(server)


def test_serve_says_where_everything_is_and_a_second_serve_on_its_folder_stops_at_once(
    tmp_path: Path,
) -> None:
    """Without a bootstrap key: the start-up lines and `grondslag status` name every
    address, the tenant and how to make a key — `status` in a shell without the serve's
    GRONDSLAG_BOOTSTRAP_TENANT too; a second `serve` on the same folder is one line and exit
    3, and leaves the first one's servers running."""
    port, other_port = _free_port(), _free_port()
    api = f"http://127.0.0.1:{port}"
    env = {
        k: v
        for k, v in _env(tmp_path).items()
        if k not in ("GRONDSLAG_BOOTSTRAP_KEY", "GRONDSLAG_BOOTSTRAP_TENANT")
    }
    server = _serve(tmp_path, port, env | {"GRONDSLAG_BOOTSTRAP_TENANT": "praktijk-noord"})
    try:

        def grondslag(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "grondslag.cli", *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )

        status = grondslag("status")
        assert status.returncode == 0, status.stderr
        pg_port = (tmp_path / "postgres.port").read_text().strip()
        nats_port = (tmp_path / "nats.port").read_text().strip()
        for shown in (
            "tenant praktijk-noord",
            f"{api}/v1/",
            f"{api}/schema",
            f"{api}/audit",
            f"postgresql://postgres:***@127.0.0.1:{pg_port}/grondslag",
            f"nats://127.0.0.1:{nats_port} ",
            "GRONDSLAG_BOOTSTRAP_KEY is not set and no key exists yet, so every call answers 401",
            "grondslag keys create --tenant praktijk-noord",
            f"port {port}",
            "api-1",
            "projector",
        ):
            assert shown in status.stdout, f"{shown!r} not in:\n{status.stdout}"
        assert httpx.get(f"{api}/v1/purposes").status_code == 401  # as the hint says

        made = grondslag("keys", "create", "--tenant", "praktijk-noord", "--role", "reader")
        assert made.returncode == 0, made.stderr
        assert "grondslag:" not in made.stderr  # (the running serve's database: not a new one)
        assert httpx.get(
            f"{api}/v1/purposes", headers={"Authorization": f"Bearer {made.stdout.strip()}"}
        ).is_success
        assert "1 live in the database" in grondslag("status").stdout

        postgres = int((tmp_path / "postgres" / "postmaster.pid").read_text().split()[0])
        second = subprocess.run(
            [sys.executable, "-m", "grondslag.cli", "serve", "--port", str(other_port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 3, second.stderr
        assert "Traceback" not in second.stderr, second.stderr
        errors = [line for line in second.stderr.splitlines() if line.startswith("grondslag:")]
        assert len(errors) == 1, second.stderr
        assert f"the data folder {tmp_path.resolve()} is in use" in errors[0]
        assert f"pid {server.pid}" in errors[0]
        time.sleep(3)  # (what a guardian of the second would have done, it did by now)
        assert httpx.get(f"{api}/health/ready").status_code == 200
        assert int((tmp_path / "postgres" / "postmaster.pid").read_text().split()[0]) == postgres
    finally:
        output = _stop(server)
    for line in (
        "grondslag serves tenant praktijk-noord",
        f"  API docs     {api}/schema",
        f"  auditor      {api}/audit",
        "  PostgreSQL   postgresql://postgres:***@127.0.0.1:",
        "  NATS         nats://127.0.0.1:",
        "every call answers 401",
    ):
        assert line in output, f"{line!r} not in what serve printed"
    assert "no database was in" not in output  # a first start: its banner names the folder
    for secret in ("postgres.password", "nats.password"):
        assert (tmp_path / secret).read_text().strip() not in output + status.stdout
