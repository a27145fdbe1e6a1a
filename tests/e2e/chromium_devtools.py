"""What the browser tests share: `grondslag serve` on a free port, and headless Chromium
driven over the Chrome DevTools Protocol on a pipe (``--remote-debugging-pipe``), so that no
extra packages are needed.

- `chromium()`: Debian's chromium binary, or the test fails saying how to install it.
- `BASE_FLAGS` and `language_flags(lang, accept_lang)`: the command line for a quiet,
  headless Chromium in a given language.
- `free_port()`: a TCP port on 127.0.0.1 that nothing listens on.
- `serving(env, log)`: `grondslag serve` with the given environment until it is ready.
- `DevTools` and `browser(binary, tmp_path, lang=..., viewport=...)`: the protocol client.
- `assert_png(path, size)`: a screenshot is a PNG of that size, not an empty one.

The test modules import this as ``from chromium_devtools import ...``: tests/e2e is no
package, so pytest (rootdir, "prepend" import mode) puts the folder itself on ``sys.path``.
Needs Debian's chromium (`apt-get install chromium`)."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import pytest

GRONDSLAG = [sys.executable, "-m", "grondslag.cli"]  # what `uv run grondslag` runs
BASE_FLAGS = [
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
]


def language_flags(lang: str, accept_lang: str | None = None) -> list[str]:
    """The flags for Chromium's user interface language ``lang`` (a tag such as ``nl-NL``)
    and, when given, the ``Accept-Language`` it sends (such as ``nl-NL,nl``), which is what
    the service's own pages choose their language by. Headless Chromium does not derive the
    one from the other: with ``--lang`` alone it still asks for ``en-US,en``."""
    return [f"--lang={lang}", *([f"--accept-lang={accept_lang}"] if accept_lang else [])]


def chromium() -> str:
    """The path of Debian's chromium; the test fails (not skips) when it is missing."""
    path = shutil.which("chromium")
    if path is None:
        pytest.fail(
            "the browser test needs Debian's chromium on PATH, which is missing: "
            "run `apt-get install -y chromium` (CI must install it before the tests)"
        )
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(env: dict[str, str], log: Path, timeout: float = 90) -> Iterator[str]:
    """`grondslag serve` on a free port with the given environment (plus
    ``GRONDSLAG_PUBLIC_URL``, its own address), writing its output to ``log``; yields its
    base URL once ``/health/ready`` answers 200, and stops it with SIGTERM afterwards. The
    wait is generous (90 s, as the walk-through's): on a machine shared with parallel workers
    and other runs, its start took more than 30 s."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*GRONDSLAG, "serve", "--port", str(port)],
            env=env | {"GRONDSLAG_PUBLIC_URL": base},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + timeout
            while True:
                assert process.poll() is None, log.read_text(errors="replace")
                try:
                    if httpx.get(f"{base}/health/ready").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, f"grondslag serve not ready in {timeout:g} s"
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
    JSON message ended by a NUL byte.

    Chromium starts with ``flags`` (say `BASE_FLAGS` and `language_flags`), and every page
    that `open_page` opens has a ``viewport`` of (width, height) CSS pixels at scale 1.
    Events that arrive while waiting for an answer are kept in `events`, for `wait_for`
    (a page's) and `wait_for_browser_event` (the browser's own)."""

    def __init__(
        self,
        binary: str,
        user_data_dir: Path,
        stderr: Path,
        *,
        flags: Sequence[str],
        viewport: tuple[int, int],
    ):
        self.viewport = viewport
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
                *flags,
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
        self,
        method: str,
        params: dict | None = None,
        session: str | None = None,
        timeout: float = 15.0,
    ) -> dict[str, Any]:
        """Run one command (on the page of ``session``, else on the browser); its result."""
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
        """The next event ``method`` of the page of ``session``, such as its load."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event.get("method") == method and event.get("sessionId") == session:
                    self.events.remove(event)
                    return event
            self.events.append(self._message(deadline))

    def wait_for_browser_event(self, method: str, timeout: float = 15.0) -> dict[str, Any]:
        """The next event of the browser itself (not of a page), such as a download's."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event.get("method") == method and "sessionId" not in event:
                    self.events.remove(event)
                    return event
            self.events.append(self._message(deadline))

    def open_page(self) -> str:
        """A new blank tab of the viewport's size; its session id."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        self.send("Page.enable", session=session)
        width, height = self.viewport
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session=session,
        )
        return session

    def navigate(self, session: str, url: str) -> None:
        """Go to ``url`` and wait until the page has loaded."""
        self.events.clear()
        answer = self.send("Page.navigate", {"url": url}, session=session)
        assert not answer.get("errorText"), answer
        self.wait_for("Page.loadEventFired", session)

    def evaluate(self, session: str, expression: str, await_promise: bool = False) -> Any:
        """The value of a JavaScript expression in the page (of the promise it gives, with
        ``await_promise``); fails on an exception."""
        answer = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": await_promise},
            session=session,
        )
        assert "exceptionDetails" not in answer, answer
        return answer["result"].get("value")

    def click(self, session: str, selector: str) -> None:
        """A left mouse click in the middle of the element, as a person would (scrolled
        into view first)."""
        self.evaluate(
            session,
            f"document.querySelector({json.dumps(selector)}).scrollIntoView({{block: 'center'}})",
        )
        x, y = self.evaluate(
            session,
            f"(() => {{ const r = document.querySelector({json.dumps(selector)})"
            ".getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()",
        )
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            params = {"type": kind, "x": x, "y": y}
            if kind != "mouseMoved":
                params |= {"button": "left", "clickCount": 1}
            self.send("Input.dispatchMouseEvent", params, session=session)

    def click_and_load(self, session: str, selector: str) -> None:
        """Click something that submits a form, and wait for the next page to load."""
        self.events.clear()
        self.click(session, selector)
        self.wait_for("Page.loadEventFired", session)

    def type_into(self, session: str, selector: str, text: str) -> None:
        """Focus a field and type into it as a keyboard would (text input events)."""
        self.evaluate(session, f"document.querySelector({json.dumps(selector)}).focus()")
        self.send("Input.insertText", {"text": text}, session=session)

    def screenshot(self, session: str, path: Path) -> None:
        """A PNG of what the viewport shows."""
        data = self.send("Page.captureScreenshot", {"format": "png"}, session=session)["data"]
        path.write_bytes(base64.b64decode(data))

    def screenshot_full_page(self, session: str, path: Path) -> tuple[int, int]:
        """A PNG of the whole page, beyond the viewport; its (width, height)."""
        metrics = self.send("Page.getLayoutMetrics", session=session)
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        width, height = int(size["width"]), int(size["height"])
        data = self.send(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
            },
            session=session,
        )["data"]
        path.write_bytes(base64.b64decode(data))
        return width, height


@contextmanager
def browser(
    binary: str,
    tmp_path: Path,
    *,
    lang: str,
    viewport: tuple[int, int],
    accept_lang: str | None = None,
) -> Iterator[DevTools]:
    """Chromium with `BASE_FLAGS` and `language_flags` (``lang``, ``accept_lang``), pages of
    ``viewport`` (width, height), its profile and its log under ``tmp_path``; closed
    afterwards."""
    devtools = DevTools(
        binary,
        tmp_path / "profile-cdp",
        tmp_path / "chromium-cdp.log",
        flags=[*BASE_FLAGS, *language_flags(lang, accept_lang)],
        viewport=viewport,
    )
    try:
        yield devtools
    finally:
        devtools.close()


def assert_png(path: Path, size: tuple[int, int], least: int = 3000) -> None:
    """``path`` holds a PNG of ``size`` (width, height) and more than ``least`` bytes."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert struct.unpack(">II", data[16:24]) == size, f"{path} is not {size}"
    assert len(data) > least, f"{path} is suspiciously small ({len(data)} bytes)"
