"""One-click unsubscribe in a real browser (R20): `grondslag serve` over real HTTP, headless
Chromium renders the page a mail scanner would fetch (changing nothing), then clicks the
"Afmelden" button like a person and lands on the confirmation page; the ledger shows the
withdrawal. Chromium is driven over the DevTools protocol on a pipe (no extra packages).

Needs Debian's chromium (`apt-get install chromium`); screenshots go to tests/output/."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import secrets
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e

OUTPUT = Path(__file__).resolve().parents[1] / "output"
KEY = "e2e-browser-key"
NOTICE = {"version": "2025-01", "url": "https://praktijk.example/privacy", "sha256": "c" * 64}
PURPOSE = "newsletter"
TITLE = "Nieuwsbrief van de praktijk"
EMAIL = "lezer.browser@example.nl"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--hide-scrollbars",
    "--lang=nl-NL",
    "--accept-lang=nl-NL,nl",
]


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail(
            "the browser test needs Debian's chromium on PATH, which is missing: "
            "run `apt-get install -y chromium` (CI must install it before the tests)"
        )
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(database_url: str, nats_url: str, data_dir: Path, log: Path) -> Iterator[str]:
    """`grondslag serve` on a free port against the test database; yields its base URL."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRONDSLAG_")}
    env |= {
        "DATABASE_URL": database_url,
        "NATS_URL": nats_url,
        "GRONDSLAG_DATA_DIR": str(data_dir),
        "GRONDSLAG_BOOTSTRAP_KEY": KEY,
        "GRONDSLAG_BOOTSTRAP_TENANT": f"browser-{secrets.token_hex(4)}",
        "GRONDSLAG_PUBLIC_URL": base,
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "grondslag.cli", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                assert process.poll() is None, log.read_text(errors="replace")
                try:
                    if httpx.get(f"{base}/health/ready").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "grondslag serve not ready in 30 s"
                time.sleep(0.1)
            yield base
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise


class DevTools:
    """A minimal Chrome DevTools Protocol client over ``--remote-debugging-pipe``:
    commands go to the browser's fd 3, answers and events come back on its fd 4, each a
    JSON message ended by a NUL byte."""

    def __init__(self, binary: str, user_data_dir: Path, stderr: Path):
        to_browser_r, to_browser_w = os.pipe()
        from_browser_r, from_browser_w = os.pipe()
        # out of the way of 3 and 4, so that placing them there cannot clobber each other
        child_in = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD_CLOEXEC, 10)
        child_out = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(to_browser_r)
        os.close(from_browser_w)

        def place_pipes() -> None:  # in the child, before exec: dup2 leaves them inheritable
            os.dup2(child_in, 3)
            os.dup2(child_out, 4)

        self._stderr = stderr.open("wb")
        self.process = subprocess.Popen(
            [
                binary,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={user_data_dir}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._stderr,
            stderr=self._stderr,
            preexec_fn=place_pipes,
            close_fds=False,
        )
        os.close(child_in)
        os.close(child_out)
        self._write, self._read = to_browser_w, from_browser_r
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def close(self) -> None:
        try:
            if self.process.poll() is None:
                with suppress(AssertionError, OSError):
                    self.send("Browser.close", timeout=5)
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
        finally:
            os.close(self._write)
            os.close(self._read)
            self._stderr.close()

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            assert left > 0, "no answer from chromium in time"
            ready, _, _ = select.select([self._read], [], [], left)
            if ready:
                chunk = os.read(self._read, 1 << 16)
                assert chunk, f"chromium closed the pipe (exit {self.process.poll()})"
                self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def send(
        self, method: str, params: dict | None = None, session: str | None = None, timeout=15.0
    ) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._message(deadline)
            if answer.get("id") == self._next_id:
                assert "error" not in answer, (method, answer["error"])
                return answer.get("result", {})
            self.events.append(answer)

    def wait_for(self, method: str, session: str, timeout: float = 15.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event.get("method") == method and event.get("sessionId") == session:
                    self.events.remove(event)
                    return event
            self.events.append(self._message(deadline))

    def open_page(self) -> str:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        self.send("Page.enable", session=session)
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": 800, "height": 600, "deviceScaleFactor": 1, "mobile": False},
            session=session,
        )
        return session

    def navigate(self, session: str, url: str) -> None:
        self.events.clear()
        answer = self.send("Page.navigate", {"url": url}, session=session)
        assert not answer.get("errorText"), answer
        self.wait_for("Page.loadEventFired", session)

    def evaluate(self, session: str, expression: str) -> Any:
        answer = self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=session
        )
        assert "exceptionDetails" not in answer, answer
        return answer["result"].get("value")

    def click(self, session: str, selector: str) -> None:
        """A left mouse click in the middle of the element, as a person would."""
        box = self.evaluate(
            session,
            f"(() => {{ const r = document.querySelector({json.dumps(selector)})"
            ".getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()",
        )
        x, y = box
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            params = {"type": kind, "x": x, "y": y}
            if kind != "mouseMoved":
                params |= {"button": "left", "clickCount": 1}
            self.send("Input.dispatchMouseEvent", params, session=session)

    def screenshot(self, session: str, path: Path) -> None:
        data = self.send("Page.captureScreenshot", {"format": "png"}, session=session)["data"]
        path.write_bytes(base64.b64decode(data))


@contextmanager
def browser(binary: str, tmp_path: Path) -> Iterator[DevTools]:
    devtools = DevTools(binary, tmp_path / "profile-cdp", tmp_path / "chromium-cdp.log")
    try:
        yield devtools
    finally:
        devtools.close()


def assert_png(path: Path, width: int, height: int) -> None:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert struct.unpack(">II", data[16:24]) == (width, height)
    assert len(data) > 3000, f"{path} is suspiciously small ({len(data)} bytes)"


def test_unsubscribe_in_a_real_browser_by_clicking_afmelden(
    database_url: str, nats_url: str, tmp_path: Path
) -> None:
    binary = chromium()
    OUTPUT.mkdir(exist_ok=True)
    page_png, done_png = OUTPUT / "unsubscribe-page.png", OUTPUT / "unsubscribe-done.png"
    for old in (page_png, done_png):
        old.unlink(missing_ok=True)
    server_log = tmp_path / "serve.log"

    with serving(database_url, nats_url, tmp_path / "data", server_log) as api:
        auth = {"Authorization": f"Bearer {KEY}"}
        http = httpx.Client(base_url=api, headers=auth, timeout=10)
        purpose = {
            "code": PURPOSE,
            "title": TITLE,
            "basis": "consent",
            "direct_marketing": True,
            "notice": NOTICE,
            "effective_at": "2025-01-01T00:00:00Z",
        }
        assert http.post("/v1/purposes", json=purpose).status_code == 201
        assert http.put("/v1/subjects/lezer-1", json={"email": EMAIL}).status_code == 201
        consent = {
            "purpose": PURPOSE,
            "method": "email",
            "explicit": False,
            "notice_version": "2025-01",
            "evidence": {"document_ref": "aanmelding-2025-17.eml"},
            "recorded_by": "staff:jdevries",
        }
        given = http.post("/v1/subjects/lezer-1/consents", json=consent)
        assert given.status_code == 201, given.text
        made = http.post("/v1/subjects/lezer-1/unsubscribe-links", json={"purpose": PURPOSE})
        assert made.status_code == 200, made.text
        url = made.json()["url"]
        assert url.startswith(f"{api}/u/")

        def standing() -> dict[str, Any]:
            return http.get(f"/v1/subjects/lezer-1/standing/{PURPOSE}").json()

        # (a) the page renders in the browser, as a mail scanner would fetch it: nothing changes
        shot = subprocess.run(
            [
                binary,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={tmp_path / 'profile-shot'}",
                f"--screenshot={page_png}",
                "--window-size=800,600",
                url,
            ],
            capture_output=True,
            timeout=30,
        )
        assert shot.returncode == 0, shot.stderr.decode(errors="replace")[-2000:]
        assert_png(page_png, 800, 600)
        assert standing()["status"] == "lawful"

        # (b) a person clicks "Afmelden"
        with browser(binary, tmp_path) as chrome:
            tab = chrome.open_page()
            chrome.navigate(tab, url)
            assert chrome.evaluate(tab, "document.documentElement.lang") == "nl"
            assert chrome.evaluate(tab, "document.querySelector('button').textContent") == (
                "Afmelden"
            )
            assert TITLE in chrome.evaluate(tab, "document.body.innerText")
            assert chrome.evaluate(tab, "document.cookie") == ""
            assert standing()["status"] == "lawful"

            chrome.events.clear()
            chrome.click(tab, "button")
            chrome.wait_for("Page.loadEventFired", tab)
            deadline = time.monotonic() + 10
            while chrome.evaluate(tab, "document.title") != "U bent afgemeld":
                assert time.monotonic() < deadline, chrome.evaluate(tab, "document.title")
                time.sleep(0.05)
            text = chrome.evaluate(tab, "document.body.innerText")
            assert "U bent afgemeld voor" in text and TITLE in text
            assert chrome.evaluate(tab, "location.href") == url  # no redirect
            assert chrome.evaluate(tab, "document.querySelector('button')") is None
            chrome.screenshot(tab, done_png)
        assert_png(done_png, 800, 600)

        after = standing()
        assert (after["status"], after["reason"]) == ("lapsed", "withdrawn")
        events = http.get("/v1/subjects/lezer-1/history").json()["events"]
        withdrawn = [e for e in events if e["type"] == "ConsentWithdrawn"]
        assert len(withdrawn) == 1, events
        assert withdrawn[0]["details"]["method"] == "unsubscribe_link"
        assert withdrawn[0]["purpose"] == PURPOSE
        http.close()

    served = server_log.read_text(errors="replace")
    assert "/u/" in served  # the access log was written …
    assert EMAIL not in served  # … and holds no e-mail address
