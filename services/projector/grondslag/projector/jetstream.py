"""The projector's JetStream: the connection to one server or a cluster, the one stream
``GRONDSLAG`` shaped as configured, and publishing that waits out a leader election.

A cluster is named by its servers (``NATS_URL``, comma-separated): the client connects to
one and, when it dies, reconnects to the next. The stream keeps ``GRONDSLAG_NATS_REPLICAS``
copies; with 3, losing the node that leads them costs an election of a few seconds, during
which a publish finds no leader (no responders) or gets no acknowledgement. Each message is
then published again, with the same ``Nats-Msg-Id``, until it is acknowledged: JetStream's
duplicate window stores it once, whichever attempt reached it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import nats
from nats.js.api import StorageType, StreamConfig

from grondslag.ledger.nats_urls import nats_servers, shared_credentials
from grondslag.ledger.settings import Settings

log = logging.getLogger("grondslag.relay")
STREAM = "GRONDSLAG"
DUPLICATE_WINDOW_SECONDS = 600.0
ATTEMPT_SECONDS = 2.0  # an acknowledgement not back by then is asked for again
RETRY_PAUSE_SECONDS = 0.25  # between attempts: an election takes seconds, not milliseconds
# refused for the message itself: publishing it again cannot help
OF_THE_MESSAGE = (nats.errors.MaxPayloadError, nats.errors.BadSubjectError)

Message = tuple[str, bytes, dict[str, str]]  # subject, payload, headers (Nats-Msg-Id among them)


@dataclass(frozen=True, slots=True)
class StreamShape:
    """What the stream should be: how many copies, and where they are kept."""

    replicas: int = 1
    storage: str = "file"

    @classmethod
    def of(cls, settings: Settings) -> StreamShape:
        return cls(replicas=settings.nats_replicas, storage=settings.nats_storage)


ONE_COPY_ON_FILE = StreamShape()  # the default: a single server's


async def connect(servers: str | Sequence[str]) -> Any:
    """A connection to any of ``servers`` (a ``NATS_URL``, or its list) that keeps
    reconnecting, to the next server when one is gone, for as long as it is open."""
    listed = nats_servers(servers) if isinstance(servers, str) else list(servers)
    return await nats.connect(
        servers=listed,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=5,
        allow_reconnect=True,
        error_cb=_error,
        disconnected_cb=_disconnected,
        reconnected_cb=_reconnected,
        **shared_credentials(listed),
    )


async def _error(error: Exception) -> None:
    # a server that refuses while it is away is the reconnecting's business: no traceback
    if isinstance(error, OSError):
        log.debug("nats: %r", error)
    else:
        log.warning("nats: %r", error)


async def _disconnected() -> None:
    log.info("nats: disconnected")  # (a close too; a lost server: reconnecting follows)


async def _reconnected() -> None:
    log.info("nats: reconnected")


async def ensure_stream(js: Any, shape: StreamShape = ONE_COPY_ON_FILE) -> None:
    """One stream captures ``grondslag.>``, with an explicit duplicate window, made as
    ``shape`` says. An existing one takes the replica count (NATS moves the copies) but
    keeps its storage, which NATS cannot change; a single server keeps one copy whatever
    is asked. Each is one warning, and the relay goes on with the stream as it is."""
    try:
        info = await js.stream_info(STREAM)
    except nats.js.errors.NotFoundError:
        await _create(js, shape)
        return
    have = info.config
    if have.storage != StorageType(shape.storage):
        log.warning(
            "the NATS stream %s stays on %s storage: NATS cannot change a stream's storage "
            "(GRONDSLAG_NATS_STORAGE=%s needs the stream made anew; see the README)",
            *(STREAM, getattr(have.storage, "value", have.storage), shape.storage),
        )
    clustered = bool(info.cluster and info.cluster.name)
    if not clustered and shape.replicas > 1:
        _single_server(shape)
    wanted = shape.replicas if clustered else 1
    if (have.num_replicas or 1) == wanted:
        return
    try:
        await js.update_stream(have, num_replicas=wanted)
    except nats.js.errors.APIError as refused:  # e.g. 5 replicas on a cluster of 3
        log.warning(
            "the NATS stream %s keeps %d replica(s): NATS refused %d (GRONDSLAG_NATS_REPLICAS): %s",
            *(STREAM, have.num_replicas or 1, wanted, refused.description),
        )
    else:
        log.info("the NATS stream %s: %d replica(s) now", STREAM, wanted)


NOT_CLUSTERED = 10074  # JetStream's error code: "replicas > 1 not supported in non-clustered mode"


async def _create(js: Any, shape: StreamShape) -> None:
    try:
        await js.add_stream(_config(shape, shape.replicas))
    except nats.js.errors.APIError as refused:
        if refused.err_code != NOT_CLUSTERED:
            raise  # (a cluster short of servers for the copies: tried again, ``run_relay``)
        _single_server(shape)
        await js.add_stream(_config(shape, 1))


def _config(shape: StreamShape, replicas: int) -> StreamConfig:
    return StreamConfig(
        name=STREAM,
        subjects=["grondslag.>"],
        storage=StorageType(shape.storage),
        num_replicas=replicas,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
    )


def _single_server(shape: StreamShape) -> None:
    log.warning(
        "the NATS stream %s keeps 1 replica: GRONDSLAG_NATS_REPLICAS=%d needs a JetStream "
        "cluster, and this NATS is a single server",
        *(STREAM, shape.replicas),
    )


async def publish_all(js: Any, messages: Sequence[Message], budget: float) -> None:
    """Publish ``messages`` and wait until every one is acknowledged, publishing those an
    attempt left unacknowledged again (in their order, with their ids) until ``budget``
    seconds are spent; then ``TimeoutError``, and the caller tries the whole lot later."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + budget
    pending, error = list(messages), None
    while pending:
        pending, error = await _attempt(js, pending, deadline - loop.time())
        if pending and loop.time() + RETRY_PAUSE_SECONDS >= deadline:
            raise TimeoutError(
                f"{len(pending)} of {len(messages)} messages not acknowledged by NATS "
                f"within {budget:g} s (last: {error!r})"
            ) from error
        if pending:
            await asyncio.sleep(RETRY_PAUSE_SECONDS)


async def _attempt(
    js: Any, messages: list[Message], left: float
) -> tuple[list[Message], BaseException | None]:
    """One round: publish, wait for the acknowledgements; answers the messages that got
    none (or an error), and the last error."""
    futures: list[asyncio.Future[Any]] = []
    try:
        for subject, payload, headers in messages:
            futures.append(await js.publish_async(subject, payload, headers=headers))
    except OF_THE_MESSAGE:
        await _unacknowledged(messages, futures, 0.0)  # (frees their slots)
        raise
    except nats.errors.Error as error:  # closed or reconnecting: the rest in the next round
        sent, _ = await _unacknowledged(messages, futures, 0.0)
        return [*sent, *messages[len(futures) :]], error
    return await _unacknowledged(messages, futures, max(0.0, min(ATTEMPT_SECONDS, left)))


async def _unacknowledged(
    messages: list[Message], futures: list[asyncio.Future[Any]], wait: float
) -> tuple[list[Message], BaseException | None]:
    """After ``wait`` seconds at most: the messages whose future holds no acknowledgement
    (those still waiting are given up, which frees their slots in nats-py)."""
    if futures:
        await asyncio.wait(futures, timeout=wait)
    missing: list[Message] = []
    error: BaseException | None = None
    for message, future in zip(messages, futures, strict=False):
        if not future.done():
            future.cancel()
            missing.append(message)
            error = TimeoutError("no acknowledgement")
        elif future.cancelled() or future.exception() is not None:
            missing.append(message)
            error = None if future.cancelled() else future.exception()
    return missing, error
