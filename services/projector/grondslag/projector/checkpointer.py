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
slow NATS never keeps a proof waiting, and the LISTEN connection is opened again whenever
the database dropped it.
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
from .messages import TYPE_PREFIX, AuditCheckpoint, CloudEvent, nats_subject

log = logging.getLogger("grondslag.audit")
ACK_TIMEOUT_SECONDS = 10.0
RELISTEN_SECONDS = 2.0  # how soon a LISTEN connection the database dropped is opened again
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
    ):
        self.pool, self.dsn, self.interval = pool, dsn, interval
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
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._keep_listening())
                tasks.create_task(_each_time(self._asked, self.sign_requested, None))
                tasks.create_task(_each_time(self._wake, self._sign_and_publish, self.interval))
        finally:
            if self._nc is not None:
                with contextlib.suppress(Exception):
                    await self._nc.close()

    async def _sign_and_publish(self) -> None:
        await self.sign_due()
        await self.publish_pending()

    async def _keep_listening(self) -> None:
        warned = False
        while True:
            try:
                conn = await asyncpg.connect(self.dsn)
            except Exception as error:
                if not warned:
                    log.warning("checkpointer: LISTEN unavailable (%s); signing on schedule", error)
                warned = True
                await asyncio.sleep(RELISTEN_SECONDS)
                continue
            warned = False
            try:
                await conn.add_listener(store.CHECKPOINTS_SIGNED, lambda *_: self.wake())
                await conn.add_listener(
                    store.CHECKPOINT_REQUESTED, lambda _c, _p, _ch, tenant: self.request(tenant)
                )
                while not conn.is_closed():
                    await asyncio.sleep(RELISTEN_SECONDS)
            except Exception as error:  # the connection broke: open another
                log.warning("checkpointer: LISTEN lost (%r); listening again", error)
            finally:
                with contextlib.suppress(Exception):
                    await conn.close(timeout=1)


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
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)
