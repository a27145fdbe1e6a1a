"""The NATS relay: publishes what other systems must know, from the log, to JetStream.

It follows the notification log like any projection, with its own tracking position, and
advances it only in the transaction that commits after every message of the batch was
acknowledged. A crash or an outage repeats a batch; JetStream's duplicate window and the
deterministic message id (the ledger event's id) make the repeat harmless. While NATS is
down nothing advances: the lapses wait in the log and go out when it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg
import msgspec
import nats
from ledger.domain.ids import event_id, purpose_id
from ledger.domain.standing import Standing
from ledger.domain.subject import Subject
from ledger.domain.values import Giver
from ledger.persistence.postgres import STREAMS_TABLE
from ledger.reads.streams import load_aggregates
from nats.js.api import StorageType, StreamConfig

from .messages import TYPE_PREFIX, CloudEvent, RepresentationEnded, StandingChange, nats_subject

log = logging.getLogger("grondslag.relay")
NAME = "nats_relay"
STREAM = "GRONDSLAG"
DUPLICATE_WINDOW_SECONDS = 600.0
ACK_TIMEOUT_SECONDS = 10.0
_encoder = msgspec.json.Encoder()


async def ensure_stream(js: Any) -> None:
    """One stream captures ``grondslag.>``, on file, with an explicit duplicate window."""
    config = StreamConfig(
        name=STREAM,
        subjects=["grondslag.>"],
        storage=StorageType.FILE,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
    )
    try:
        await js.stream_info(STREAM)
    except nats.js.errors.NotFoundError:
        await js.add_stream(config)


async def connect(url: str) -> Any:
    """A connection that keeps trying to reconnect for as long as the relay runs."""
    return await nats.connect(
        url,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=5,
        allow_reconnect=True,
    )


class Relay:
    def __init__(self, js: Any):
        self.js = js

    async def publish(self, conn: asyncpg.Connection, events: list[tuple[int, Any]]) -> None:
        """The follower's handler: publish the batch and wait for every acknowledgement."""
        messages = await to_messages(conn, [event for _, event in events])
        acks = [
            await self.js.publish_async(
                subject, _encoder.encode(message), headers={"Nats-Msg-Id": message.id}
            )
            for subject, message in messages
        ]
        if acks:
            # any failure or time-out rolls the batch back; it is sent again next time
            await asyncio.wait_for(asyncio.gather(*acks), ACK_TIMEOUT_SECONDS)


async def to_messages(conn: asyncpg.Connection, events: list[Any]) -> list[tuple[str, CloudEvent]]:
    relevant = [e for e in events if _name(e) or isinstance(e, Subject.RepresentationEnded)]
    if not relevant:
        return []
    streams = {
        row["originator_id"]: row
        for row in await conn.fetch(
            f"SELECT originator_id, tenant, subject_ref, purpose FROM {STREAMS_TABLE} "
            "WHERE originator_id = ANY($1::uuid[])",
            list({e.originator_id for e in relevant}),
        )
    }
    direct_marketing = await _direct_marketing(conn, streams.values())
    out = []
    for event in relevant:
        stream = streams[event.originator_id]
        tenant, ref = stream["tenant"], stream["subject_ref"]
        eid = str(event_id(event.originator_id, event.originator_version))
        if isinstance(event, Subject.RepresentationEnded):
            data: Any = RepresentationEnded(
                tenant=tenant,
                subject_ref=ref,
                representative_ref=event.end.representative_ref,
                capacity=await _capacity(conn, event),
                event_id=eid,
                effective_at=event.end.effective_at,
                reason=event.end.reason,
            )
            name, subject = "representation.ended", ref
        else:
            purpose = stream["purpose"]
            name, data = _standing_change(
                event, tenant, ref, purpose, eid, direct_marketing.get((tenant, purpose), False)
            )
            subject = f"{ref}/{purpose}"
        message = CloudEvent(
            id=eid,
            source=f"urn:grondslag:{tenant}",
            type=f"{TYPE_PREFIX}{name}.v1",
            subject=subject,
            time=event.timestamp,
            data=data,
        )
        out.append((nats_subject(tenant, name), message))
    return out


def _name(event: Any) -> str | None:
    return {
        Standing.ConsentGiven: "consent.given",
        Standing.ConsentWithdrawn: "consent.withdrawn",
        Standing.BasisEstablished: "basis.established",
        Standing.BasisEnded: "basis.lapsed",
        Standing.BasisLapsed: "basis.lapsed",
        Standing.RetentionExpired: "retention.expired",
        Standing.ObjectionLodged: "objection",
        Standing.ObjectionDecided: "decision",
    }.get(type(event))


def _standing_change(
    event: Any, tenant: str, ref: str, purpose: str, eid: str, direct_marketing: bool
) -> tuple[str, StandingChange]:
    common = {"tenant": tenant, "subject_ref": ref, "purpose": purpose, "event_id": eid}
    name = _name(event)
    if isinstance(event, Standing.ConsentGiven):
        consent = event.consent
        giver = (
            Giver("representative", consent.representative_ref, consent.capacity)
            if (consent.representative_ref)
            else Giver("subject")
        )
        return name, StandingChange(
            **common, effective_at=consent.effective_at, status="lawful", given_by=giver
        )
    if isinstance(event, Standing.ConsentWithdrawn):
        return name, StandingChange(
            **common,
            effective_at=event.withdrawal.effective_at,
            reason="withdrawn",
            status="lapsed",
            representative_ref=event.withdrawal.representative_ref,
        )
    if isinstance(event, Standing.BasisEstablished):
        return name, StandingChange(
            **common, effective_at=event.establishment.effective_at, status="lawful"
        )
    if isinstance(event, Standing.BasisEnded):
        return name, StandingChange(
            **common,
            effective_at=event.basis_end.effective_at,
            reason="basis_ended",
            status="lapsed",
        )
    if isinstance(event, Standing.BasisLapsed | Standing.RetentionExpired):
        return name, StandingChange(
            **common,
            effective_at=event.lapse.effective_at,
            reason=event.lapse.reason,
            status="lapsed",
        )
    if isinstance(event, Standing.ObjectionLodged):
        at = event.objection.effective_at
        if direct_marketing:  # R17: final at once
            return "basis.lapsed", StandingChange(
                **common, effective_at=at, reason="objection", status="lapsed"
            )
        return "basis.restricted", StandingChange(**common, effective_at=at, status="restricted")
    decision = event.decision
    if decision.upheld:
        return "basis.lapsed", StandingChange(
            **common, effective_at=decision.effective_at, reason="objection", status="lapsed"
        )
    return "basis.restored", StandingChange(
        **common, effective_at=decision.effective_at, status="lawful"
    )


async def _direct_marketing(conn: asyncpg.Connection, streams: Any) -> dict[tuple[str, str], bool]:
    keys = {(s["tenant"], s["purpose"]) for s in streams if s["purpose"]}
    found = await load_aggregates(conn, [purpose_id(t, p) for t, p in keys])
    return {
        (t, p): found[purpose_id(t, p)].latest.terms.direct_marketing
        for t, p in keys
        if purpose_id(t, p) in found
    }


async def _capacity(conn: asyncpg.Connection, event: Any) -> Any:
    subject = (await load_aggregates(conn, [event.originator_id]))[event.originator_id]
    return subject.representations[event.end.representative_ref].representation.kind


async def run_relay(pool: asyncpg.Pool, dsn: str, nats_url: str, poll_seconds: float) -> None:
    """Connect (and keep reconnecting) to NATS and relay the log until cancelled."""
    from .follower import LogFollower

    while True:
        nc = None
        try:
            nc = await connect(nats_url)
            js = nc.jetstream()
            await ensure_stream(js)
            follower = LogFollower(pool, dsn, NAME, Relay(js).publish, poll_seconds=poll_seconds)
            await follower.setup()
            await follower.run()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # NATS unreachable at start: the log keeps the messages
            log.warning("relay: %s; retrying in 2 s", error)
            await asyncio.sleep(2)
        finally:
            if nc is not None and not nc.is_closed:
                try:
                    await nc.drain()
                except Exception:  # reconnecting or gone: close without draining
                    with contextlib.suppress(Exception):
                        await nc.close()
