"""The checkpointer: signs each tenant's tree head as a checkpoint and publishes it to NATS
for witnesses to keep. Beside an explicit ``POST /v1/audit/checkpoints``, it is the one
writer of checkpoints.

It signs, every ``interval`` seconds, each tenant whose tree grew since its last
checkpoint (and an unchanged one once per ``heartbeat``). An API process that needs a
checkpoint nobody has signed yet (the proof of a new event, a bundle, the first checkpoint
of a tenant) asks for one with a NOTIFY (``store.CHECKPOINT_REQUESTED``): the checkpointer
signs that tenant's head at once, unless its key signed that head already, and the API
reads it from the table. Then it publishes every checkpoint NATS has not acknowledged yet —
also those an explicit POST signed, which wake it with a NOTIFY of their own
(``store.CHECKPOINTS_SIGNED``). Requests are answered apart from publishing, so that a
slow NATS never keeps a proof waiting. Both channels come through the projector process's
one LISTEN connection (``listener.Listener``, opened again whenever the database dropped
it); a checkpointer run alone opens a listener of its own.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec

from grondslag.ledger.audit import store
from grondslag.ledger.audit.checkpoints import Checkpoint, signed_note
from grondslag.ledger.audit.signing import KeyFile, SigningKey

from .jetstream import ONE_COPY_ON_FILE, StreamShape, connect, ensure_stream, publish_all
from .listener import Listener, woken
from .messages import TYPE_PREFIX, AuditCheckpoint, CloudEvent, nats_subject

log = logging.getLogger("grondslag.audit")
ACK_TIMEOUT_SECONDS = 10.0
_encoder = msgspec.json.Encoder()


def checkpoint_message(checkpoint: Checkpoint, public_key: bytes) -> tuple[str, CloudEvent]:
    """The witness copy of a checkpoint, on ``grondslag.<tenant>.audit.checkpoint``."""
    data = AuditCheckpoint(
        **msgspec.structs.asdict(checkpoint),
        public_key=base64.b64encode(public_key).decode(),
        note=signed_note(checkpoint, public_key),
    )
    message = CloudEvent(
        id=f"checkpoint:{checkpoint.tenant}:{checkpoint.tree_size}:{checkpoint.issued_at}",
        source=f"urn:grondslag:{checkpoint.tenant}",
        type=f"{TYPE_PREFIX}audit.checkpoint.v1",
        subject=str(checkpoint.tree_size),
        time=datetime.strptime(checkpoint.issued_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC),
        data=data,
    )
    return nats_subject(checkpoint.tenant, "audit.checkpoint"), message


class Checkpointer:
    """Signs grown trees every ``interval`` seconds and on request; publishes to NATS."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        dsn: str,
        key: SigningKey | KeyFile,
        interval: float,
        nats_url: str | None = None,
        heartbeat: float = 86_400.0,
        shape: StreamShape = ONE_COPY_ON_FILE,
        listener: Listener | None = None,
    ):
        self.pool, self.dsn, self.interval = pool, dsn, interval
        self.listener = listener  # the process's LISTEN connection, else one of its own
        self._keys = key
        self._registered: str | None = None
        self.heartbeat = heartbeat
        self.nats_url, self.shape = nats_url, shape
        self.js: Any = None
        self._nc: Any = None
        self._wake = asyncio.Event()
        self._asked = asyncio.Event()
        self._requested: set[str] = set()

    @property
    def key(self) -> SigningKey:
        """The signing key: read again from its file after a rotation."""
        return self._keys.current() if isinstance(self._keys, KeyFile) else self._keys

    async def setup(self) -> None:
        await self._register()

    async def _register(self) -> SigningKey:
        """The current key, registered (once per key) so that its checkpoints can be stored."""
        key = self.key
        if key.key_id != self._registered:
            await store.register_key(self.pool, key)
            self._registered = key.key_id
        return key

    async def sign_due(self, now: datetime | None = None) -> list[Checkpoint]:
        """Sign every tenant whose tree grew since its last checkpoint, and every tenant
        whose last checkpoint is older than the heartbeat (so that witnesses see the log is
        alive without a row a minute per idle tenant); answers the new checkpoints."""
        moment = now or datetime.now(UTC)
        key = await self._register()
        due = await store.tenants_due(self.pool, moment - timedelta(seconds=self.heartbeat))
        return [await store.sign_checkpoint(self.pool, key, t, moment) for t in due]

    def request(self, tenant: str) -> None:
        """Sign the tenant's current head soon: an API process waits for it."""
        self._requested.add(tenant)
        self._asked.set()

    async def sign_requested(self, now: datetime | None = None) -> list[Checkpoint]:
        """Sign the head of each tenant asked for, unless this key signed that head already
        (many readers asking at once get one checkpoint); answers the new checkpoints."""
        tenants, self._requested = sorted(self._requested), set()
        signed = []
        key = await self._register() if tenants else self.key
        for tenant in tenants:
            size, _ = await store.tree_head(self.pool, tenant)
            latest = await store.latest_checkpoint(self.pool, tenant, key.key_id)
            if latest is None or latest[0].tree_size < size:
                moment = now or datetime.now(UTC)
                signed.append(await store.sign_checkpoint(self.pool, key, tenant, moment))
        if signed:
            self.wake()
        return signed

    async def publish_pending(self) -> int:
        """Publish checkpoints NATS has not acknowledged; answers how many went out."""
        if self.nats_url is None:
            return 0
        if self.js is None:
            self._nc = await connect(self.nats_url)
            self.js = self._nc.jetstream()
            await ensure_stream(self.js, self.shape)
        pending = await store.unpublished(self.pool)
        messages = []
        for _, checkpoint, public_key in pending:
            subject, message = checkpoint_message(checkpoint, public_key)
            messages.append((subject, _encoder.encode(message), {"Nats-Msg-Id": message.id}))
        await publish_all(self.js, messages, ACK_TIMEOUT_SECONDS)  # (an election waited out)
        for row_id, _, _ in pending:
            await store.mark_published(self.pool, row_id)
        return len(pending)

    def wake(self) -> None:
        """Publish (and sign what grew) now: a checkpoint was signed."""
        self._wake.set()

    async def run(self) -> None:
        """Sign on schedule and on request, and publish, until cancelled."""
        listener = self.listener or Listener(self.dsn, follows_log=False)
        await listener.subscribe(store.CHECKPOINTS_SIGNED, self._signed)
        await listener.subscribe(store.CHECKPOINT_REQUESTED, self.request)
        try:
            async with asyncio.TaskGroup() as tasks:
                if listener is not self.listener:
                    tasks.create_task(listener.run())
                tasks.create_task(_each_time(self._asked, self.sign_requested, None))
                tasks.create_task(_each_time(self._wake, self._sign_and_publish, self.interval))
        finally:
            listener.unsubscribe(store.CHECKPOINTS_SIGNED, self._signed)
            listener.unsubscribe(store.CHECKPOINT_REQUESTED, self.request)
            if self._nc is not None:
                with contextlib.suppress(Exception):
                    await self._nc.close()

    def _signed(self, _tenant: str) -> None:
        self.wake()

    async def _sign_and_publish(self) -> None:
        await self.sign_due()
        await self.publish_pending()


async def _each_time(
    event: asyncio.Event, step: Callable[[], Awaitable[object]], timeout: float | None
) -> None:
    """Run ``step`` now, then each time ``event`` is set (or ``timeout`` seconds passed)."""
    while True:
        event.clear()
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # NATS or the database away: try again next time
            log.warning("checkpointer: %r; retrying", error)
        await woken(event, timeout)
