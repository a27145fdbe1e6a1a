"""The NATS relay: publishes what other systems must know, from the log, to JetStream.

It follows the notification log like any projection, with its own tracking position, and
advances it only in the transaction that commits after every message of the batch was
acknowledged. What a standing event announces, and the standing each message carries, comes
from the one fold (``standing_messages``), never from the event alone. A crash or an outage
repeats a batch; JetStream's duplicate window and the deterministic message ids (derived
from the ledger event's id) make the repeat harmless. While NATS is
down nothing advances: the lapses wait in the log and go out when it returns. On a cluster,
a node lost mid-batch costs its messages an election (``jetstream.publish_all``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import asyncpg
import msgspec

from grondslag.ledger.domain.ids import event_id
from grondslag.ledger.domain.subject import Subject
from grondslag.ledger.persistence import dossiers, traces
from grondslag.ledger.persistence.postgres import STREAMS_TABLE

from .jetstream import DUPLICATE_WINDOW_SECONDS as DUPLICATE_WINDOW_SECONDS
from .jetstream import ONE_COPY_ON_FILE, StreamShape, connect, ensure_stream, publish_all
from .jetstream import STREAM as STREAM
from .messages import (
    TYPE_PREFIX,
    CloudEvent,
    RepresentationEnded,
    SubjectErased,
    nats_subject,
)
from .request_messages import request_messages
from .standing_messages import announces, correction_messages, standing_messages

if TYPE_CHECKING:
    from .follower import LogFollower

log = logging.getLogger("grondslag.relay")
NAME = "nats_relay"
# a batch not acknowledged whole by then is tried again later; long enough for a cluster to
# elect a stream leader (4 to 8 s in the cluster test) and the client to
# reconnect, so that a lost node fails no batch
ACK_TIMEOUT_SECONDS = 20.0
_encoder = msgspec.json.Encoder()


class Relay:
    def __init__(self, js: Any):
        self.js = js

    async def publish(self, conn: asyncpg.Connection, events: list[tuple[int, Any]]) -> None:
        """The follower's handler: publish the batch and wait for every acknowledgement
        (a leader election waited out, ``jetstream.publish_all``); a failure or time-out
        rolls the batch back, and it is sent again next time."""
        messages = await to_messages(conn, [event for _, event in events])
        encoded = [(s, _encoder.encode(m), _headers(m)) for s, m in messages]
        await publish_all(self.js, encoded, ACK_TIMEOUT_SECONDS)


def _headers(message: CloudEvent) -> dict[str, str]:
    """JetStream's de-duplication id; the trace context for NATS-level tracing too."""
    if message.traceparent is msgspec.UNSET:
        return {"Nats-Msg-Id": message.id}
    return {"Nats-Msg-Id": message.id, "traceparent": message.traceparent}


async def to_messages(conn: asyncpg.Connection, events: list[Any]) -> list[tuple[str, CloudEvent]]:
    """The messages a batch of events causes, each with the trace context of the request
    that recorded its event (``persistence.traces``)."""
    messages = await _messages(conn, events)
    if not messages:
        return messages
    traced = await traces.of_events(conn, events)
    return [(subject, _traced(message, traced)) for subject, message in messages]


def _traced(message: CloudEvent, traced: dict[str, str]) -> CloudEvent:
    traceparent = traced.get(getattr(message.data, "event_id", ""))
    if traceparent is None:
        return message
    return msgspec.structs.replace(message, traceparent=traceparent)


async def _messages(conn: asyncpg.Connection, events: list[Any]) -> list[tuple[str, CloudEvent]]:
    """The messages a batch of events causes, each standing's from the one fold."""
    requests = await request_messages(conn, events)
    relevant = [e for e in events if announces(e) or isinstance(e, _SUBJECT_EVENTS)]
    if not relevant:
        return requests
    names = {
        row["originator_id"]: row
        for row in await conn.fetch(
            f"SELECT originator_id, tenant, subject_ref, purpose FROM {STREAMS_TABLE} "
            "WHERE originator_id = ANY($1::uuid[])",
            list({e.originator_id for e in relevant}),
        )
    }
    corrected = {
        (names[e.originator_id]["tenant"], names[e.originator_id]["subject_ref"])
        for e in relevant
        if isinstance(e, Subject.PersonalDataRecorded)
    }
    standings = await _standings_of(conn, corrected)
    ids = set(names)
    for row in names.values():
        ids |= set(dossiers.dossier_ids(row["tenant"], row["subject_ref"], [row["purpose"] or ""]))
    for (tenant, ref), codes in standings.items():
        ids |= set(dossiers.dossier_ids(tenant, ref, codes))
    streams = await dossiers.load(conn, list(ids))
    out = []
    for event in relevant:
        stream = names[event.originator_id]
        tenant, ref = stream["tenant"], stream["subject_ref"]
        announced: list[tuple[str, list[Any]]]
        if isinstance(event, Subject.RepresentationEnded):
            eid = str(event_id(event.originator_id, event.originator_version))
            subject = streams.get(event.originator_id)
            record = subject.representations[event.end.representative_ref]
            data: Any = RepresentationEnded(
                tenant=tenant,
                subject_ref=ref,
                representative_ref=event.end.representative_ref,
                capacity=record.representation.kind,
                event_id=eid,
                effective_at=event.end.effective_at,
                reason=event.end.reason,
            )
            announced = [(ref, [("representation.ended", eid, data)])]
        elif isinstance(event, Subject.Erased):
            eid = str(event_id(event.originator_id, event.originator_version))
            erasure = event.erasure
            data = SubjectErased(
                tenant=tenant,
                subject_ref=ref,
                event_id=eid,
                effective_at=erasure.effective_at,
                complete=erasure.complete,
                erased=list(erasure.erased),
                held=sorted({hold.purpose for hold in erasure.held}),
                request_id=erasure.request_id,
            )
            announced = [(ref, [("subject.erased", eid, data)])]
        elif isinstance(event, Subject.PersonalDataRecorded):
            announced = [
                (f"{ref}/{code}", correction_messages(event, streams.dossier(tenant, ref, code)))
                for code in standings.get((tenant, ref), [])
            ]
        else:
            dossier = streams.dossier(tenant, ref, stream["purpose"])
            announced = [(f"{ref}/{stream['purpose']}", standing_messages(event, dossier))]
        for about, messages in announced:
            for name, message_id, data in messages:
                message = CloudEvent(
                    id=message_id,
                    source=f"urn:grondslag:{tenant}",
                    type=f"{TYPE_PREFIX}{name}.v1",
                    subject=about,
                    time=event.timestamp,
                    data=data,
                )
                out.append((nats_subject(tenant, name), message))
    return out + requests


_SUBJECT_EVENTS = (Subject.RepresentationEnded, Subject.Erased, Subject.PersonalDataRecorded)


async def _standings_of(
    conn: asyncpg.Connection, subjects: set[tuple[str, str]]
) -> dict[tuple[str, str], list[str]]:
    """The purposes each (tenant, subject) has a standing for."""
    if not subjects:
        return {}
    rows = await conn.fetch(
        f"SELECT tenant, subject_ref, purpose FROM {STREAMS_TABLE} WHERE kind = 'standing' "
        "AND (tenant, subject_ref) IN (SELECT * FROM unnest($1::text[], $2::text[])) "
        "ORDER BY purpose",
        [tenant for tenant, _ in subjects],
        [ref for _, ref in subjects],
    )
    found: dict[tuple[str, str], list[str]] = {}
    for row in rows:
        found.setdefault((row["tenant"], row["subject_ref"]), []).append(row["purpose"])
    return found


class NatsLink:
    """The process's one NATS connection, shared by whatever relays in it: connected (again
    and again until NATS answers) when first asked for, and reconnecting by itself
    afterwards while the log keeps what is not yet acknowledged."""

    def __init__(self, servers: str | list[str], shape: StreamShape = ONE_COPY_ON_FILE):
        self.servers, self.shape = servers, shape
        self._nc: Any = None
        self._js: Any = None
        self._connecting = asyncio.Lock()

    async def jetstream(self) -> Any:
        async with self._connecting:
            while self._js is None:
                try:
                    self._nc = await connect(self.servers)
                    js = self._nc.jetstream()
                    await ensure_stream(js, self.shape)
                    self._js = js
                except Exception as error:  # NATS unreachable at start: the log keeps them
                    log.warning("relay: %s; retrying in 2 s", error)
                    await self.close()
                    await asyncio.sleep(2)
            return self._js

    async def close(self) -> None:
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None and not nc.is_closed:
            try:
                await nc.drain()
            except Exception:  # reconnecting or gone: close without draining
                with contextlib.suppress(Exception):
                    await nc.close()


def relay_follower(
    pool: asyncpg.Pool,
    dsn: str,
    link: NatsLink,
    poll_seconds: float,
    *,
    partition: int = 0,
    partitions: int = 1,
    owned: Iterable[int] | None = None,
    listener: Any = None,
) -> LogFollower:
    """The relay's follower of the ``owned`` partitions (``partition`` by default),
    publishing on ``link``; run it with ``follow``, once NATS answers."""
    from .follower import LogFollower

    async def publish(conn: asyncpg.Connection, events: list[tuple[int, Any]]) -> None:
        await Relay(await link.jetstream()).publish(conn, events)

    return LogFollower(
        pool,
        dsn,
        NAME,
        publish,
        poll_seconds=poll_seconds,
        partition=partition,
        partitions=partitions,
        owned=owned,
        listener=listener,
    )


async def follow(link: NatsLink, follower: LogFollower) -> None:
    """Relay until cancelled, from the moment NATS first answers (until then nothing
    moves: the log keeps what is to be published)."""
    await link.jetstream()
    await follower.run()


async def run_relay(
    pool: asyncpg.Pool,
    dsn: str,
    nats_url: str | list[str] | NatsLink,
    poll_seconds: float,
    shape: StreamShape = ONE_COPY_ON_FILE,
    *,
    partition: int = 0,
    partitions: int = 1,
    listener: Any = None,
) -> None:
    """Relay one partition of the log (all of it by default) until cancelled: on the
    process's shared link, or on a connection of its own to the servers ``nats_url``
    names, the stream shaped by ``shape`` (whose tracking rows it then sets up itself)."""
    link = nats_url if isinstance(nats_url, NatsLink) else NatsLink(nats_url, shape)
    try:
        follower = relay_follower(
            pool, dsn, link, poll_seconds, partition=partition, partitions=partitions,
            listener=listener,
        )  # fmt: skip
        await link.jetstream()
        if link is not nats_url:
            await follower.setup()
        await follower.run()
    finally:
        if link is not nats_url:
            await link.close()
