"""A minimal keep-alive HTTP/1.1 load generator for ``grondslag bench``.

The load generator shares the machine's two cores with the service; a full-featured client
(httpx) spends more CPU per request than the service does, so its own cost would dominate
the measurement. This one writes raw requests on persistent connections and reads
responses by ``Content-Length``: a few microseconds per request.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any


class Connection:
    """One persistent HTTP/1.1 connection (the service answers with Content-Length)."""

    def __init__(self, host: str, port: int, headers: dict[str, str]):
        self.host, self.port = host, port
        self.extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        payload = b"" if body is None else json.dumps(body).encode()
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n{self.extra}"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        self.writer.write(head.encode() + payload)
        assert self.reader is not None
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError(
                f"{method} {path}: the server closed the connection without answering"
            )
        status = int(status_line.split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


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
