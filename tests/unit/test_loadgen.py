"""The bench's load generator reads each answer whole, by Content-Length, however the bytes
arrive, and says so when the server closes or answers in chunks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from benchmarks import loadgen

Answer = Callable[[bytes], list[bytes]]


async def _serving(answer: Answer) -> tuple[asyncio.Server, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while head := await reader.readuntil(b"\r\n\r\n"):
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            body = await reader.readexactly(length)
            pieces = answer(head + body)
            if not pieces:
                writer.close()
                return
            for piece in pieces:  # each its own arrival
                writer.write(piece)
                await writer.drain()
                await asyncio.sleep(0.005)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


@pytest.fixture
async def echo() -> AsyncIterator[int]:
    """Answers 201 with the request's path as its body, in three arrivals."""

    def answer(request: bytes) -> list[bytes]:
        path = request.split(b" ")[1]
        whole = (
            b"HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\n"
            b"Content-Length: %d\r\nX-Other: 1\r\n\r\n%s" % (len(path), path)
        )
        return [whole[:5], whole[5:40], whole[40:]]

    server, port = await _serving(answer)
    yield port
    server.close()


async def test_an_answer_in_pieces_is_read_whole(echo: int) -> None:
    connection = loadgen.Connection("127.0.0.1", echo, {"Authorization": "Bearer k"})
    try:
        for n in range(3):  # one connection, kept alive
            assert await connection.request("GET", f"/v1/{n}") == (201, f"/v1/{n}".encode())
    finally:
        await connection.close()


async def test_run_sends_each_item_once_and_times_the_run(echo: int) -> None:
    seen: list[int] = []

    def make(item: int) -> tuple[str, str, None]:
        seen.append(item)
        return "GET", f"/v1/{item}", None

    elapsed = await loadgen.run(f"http://127.0.0.1:{echo}", {}, 4, list(range(40)), make)
    assert sorted(seen) == list(range(40))
    assert elapsed > 0


async def test_an_error_answer_stops_the_run_with_its_body() -> None:
    server, port = await _serving(
        lambda _: [b"HTTP/1.1 409 Conflict\r\nContent-Length: 7\r\n\r\nrefused"]
    )
    try:
        with pytest.raises(RuntimeError, match="409 b'refused'"):
            await loadgen.run(
                f"http://127.0.0.1:{port}", {}, 2, [1, 2], lambda _: ("GET", "/", None)
            )
    finally:
        server.close()


async def test_a_closed_connection_is_named() -> None:
    server, port = await _serving(lambda _: [])
    connection = loadgen.Connection("127.0.0.1", port, {})
    try:
        with pytest.raises(ConnectionError, match="POST /v1/x: the server closed"):
            await connection.request("POST", "/v1/x", {"a": 1})
    finally:
        await connection.close()
        server.close()


async def test_a_chunked_answer_is_refused() -> None:
    server, port = await _serving(
        lambda _: [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"]
    )
    connection = loadgen.Connection("127.0.0.1", port, {})
    try:
        with pytest.raises(ValueError, match="chunked"):
            await connection.request("GET", "/")
    finally:
        await connection.close()
        server.close()
