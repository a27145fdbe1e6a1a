"""A minimal keep-alive HTTP/1.1 load generator for ``grondslag bench``.

The load generator shares the machine's two cores with the service, and what it spends
per request is taken from the service's share: a full-featured client (httpx) spends more
CPU per request than the service does. This one writes raw requests on persistent
connections and reads each answer by ``Content-Length`` in an ``asyncio.Protocol`` (one
callback per arrival, the head searched once): a seventh less CPU per request than the
same client on asyncio's streams, a ``readline`` per header (52 µs instead of 60).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any, cast

_END_OF_HEAD = b"\r\n\r\n"
_LENGTH = b"\r\ncontent-length:"
_CHUNKED = b"\r\ntransfer-encoding:"


class _Answers(asyncio.Protocol):
    """The client's side of one connection: the answers, one at a time, as they complete."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            try:
                answer = self._complete()
            except ValueError as error:
                waiter.set_exception(error)
                return
            if answer is not None:
                waiter.set_result(answer)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(
                ConnectionError("the server closed the connection without answering")
            )

    def _complete(self) -> tuple[int, bytes] | None:
        """The first answer in the buffer, taken from it, once it arrived whole."""
        end = self.buffer.find(_END_OF_HEAD)
        if end < 0:
            return None
        head = bytes(self.buffer[:end]).lower()
        if _CHUNKED in head:
            raise ValueError("a chunked answer: this client reads Content-Length only")
        at = head.find(_LENGTH)
        length = 0
        if at >= 0:
            line_end = head.find(b"\r\n", at + 2)  # none: the head's last line
            length = int(head[at + len(_LENGTH) : line_end if line_end >= 0 else len(head)])
        start = end + len(_END_OF_HEAD)
        if len(self.buffer) < start + length:
            return None
        body = bytes(self.buffer[start : start + length])
        del self.buffer[: start + length]
        return int(head[9:12]), body


class Connection:
    """One persistent HTTP/1.1 connection (the service answers with Content-Length)."""

    def __init__(self, host: str, port: int, headers: dict[str, str]):
        self.host, self.port = host, port
        self.extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.answers: _Answers | None = None

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        if self.answers is None:
            loop = asyncio.get_running_loop()
            _, self.answers = await loop.create_connection(_Answers, self.host, self.port)
        answers = self.answers
        assert answers.transport is not None
        payload = b"" if body is None else json.dumps(body).encode()
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n{self.extra}"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        answers.waiter = waiter = asyncio.get_running_loop().create_future()
        answers.transport.write(head.encode() + payload)
        try:
            return await waiter
        except ConnectionError as error:
            raise ConnectionError(f"{method} {path}: {error}") from None
        finally:
            answers.waiter = None

    async def close(self) -> None:
        if self.answers is not None and self.answers.transport is not None:
            self.answers.transport.close()


async def run(
    base: str,
    headers: dict[str, str],
    concurrency: int,
    items: list[Any],
    make: Callable[[Any], tuple[str, str, Any]],
) -> float:
    """Send one request per item over ``concurrency`` connections; answers elapsed seconds.

    Any answer of 300 or above stops the run with its body: a benchmark of errors is
    worthless.
    """
    host, port = base.removeprefix("http://").split(":")
    queue = list(reversed(items))

    async def worker() -> None:
        connection = Connection(host, int(port), headers)
        try:
            while queue:
                method, path, body = make(queue.pop())
                status, answer = await connection.request(method, path, body)
                if status >= 300:
                    raise RuntimeError(f"{method} {path}: {status} {answer[:300]!r}")
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started
