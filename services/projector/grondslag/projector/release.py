"""``grondslag quarantine list`` and ``retry``: what the projections set aside, and the held
events of quarantined keys handled, in log order, by their projection's own handler, each
key released when that succeeds.

A key is retried under the tracking lock of its projection's partition, so a running projector waits
meanwhile and then goes on from its position: nothing is handled twice or skipped. A key
that fails again stays quarantined with the new error. The relay's keys need NATS; the
deadline clock's standings need the ledger (they are tried last, after the read model).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC

import anyio.to_thread

from grondslag.ledger import envelope
from grondslag.ledger.bootstrap import build_ledger
from grondslag.ledger.reads.operations import Quarantined, quarantined
from grondslag.ledger.reads.pool import create_read_pool
from grondslag.ledger.settings import Settings

from . import quarantine, relay, tracking
from .deadline_clock import NAME as CLOCK
from .deadline_clock import DeadlineClock
from .follower import LogFollower
from .keys import Key, held_events
from .partitions import partition_of
from .runner import followers


@dataclass
class Outcome:
    entry: Quarantined
    error: str | None  # None: released


COLUMNS = ("projection", "scope", "key", "tenant", "first held", "since", "attempts", "error")


async def listing(database_url: str) -> list[str]:
    """The lines of ``grondslag quarantine list``: a header, then one per key, in columns."""
    pool = await create_read_pool(database_url, min_size=1, max_size=1)
    try:
        rows = [describe(entry) for entry in await quarantined(pool)]
    finally:
        await pool.close()
    if not rows:
        return []
    rows.insert(0, COLUMNS)
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS) - 1)]
    return ["  ".join([*map(str.ljust, row[:-1], widths), row[-1]]) for row in rows]


def describe(entry: Quarantined) -> tuple[str, ...]:
    first = "-" if entry.first_held is None else str(entry.first_held)
    since = entry.since.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    error = " ".join(entry.error.split())
    return (
        entry.projection,
        entry.scope,
        entry.key,
        entry.tenant or "-",
        first,
        since,
        str(entry.attempts),
        error,
    )


async def release_key(follower: LogFollower, scope: str, key: str) -> str | None:
    """Handle the held events of ``key`` in log order under the tracking lock; answers
    ``None`` when the key is released, else the error it failed with again (it stays)."""
    async with follower.pool.acquire() as conn, conn.transaction():
        held = await quarantine.entry(conn, follower.name, scope, key)
        if held is None:
            return None  # released meanwhile
        # the key's events are all in one partition: its tenant's (its stream's, unknown)
        count = await tracking.count_of(conn, follower.name)
        partition = partition_of(held["tenant"] or key, count)
        position = await conn.fetchval(tracking.LOCK_POSITION, follower.name, partition, count)
        if position is None:
            return f"projection {follower.name} has no tracking position here"
        rows = await held_events(conn, scope, key, held["first_held"], position)

        async def apply_all() -> None:
            for start in range(0, len(rows), follower.batch_size):
                await follower.apply(conn, rows[start : start + follower.batch_size])

        error = await quarantine.attempt(conn, apply_all)
        if error is not None:
            again = Key(scope, key, held["tenant"])
            await quarantine.hold(conn, follower.name, again, held["first_held"], error)
            return f"{type(error).__name__}: {error}"
        await quarantine.release(conn, follower.name, scope, key)
        return None


async def retry(settings: Settings, projection: str | None, keys: list[str]) -> list[Outcome]:
    """Retry the quarantined keys (of ``projection``, or those named; all by default)."""
    assert settings.database_url
    envelope.use(settings)  # the folds open personal data: the stored keys are wrapped
    async with contextlib.AsyncExitStack() as stack:
        pool = await create_read_pool(settings.database_url, min_size=1, max_size=2)
        stack.push_async_callback(pool.close)
        releasers = {f.name: _by(f) for f in followers(pool, settings.database_url)}
        chosen = [
            entry
            for entry in await quarantined(pool)
            if projection in (None, entry.projection) and (not keys or entry.key in keys)
        ]
        chosen.sort(key=lambda e: (e.projection == CLOCK, e.first_held or 0))
        outcomes = []
        for entry in chosen:
            if entry.projection == relay.NAME and relay.NAME not in releasers:
                if settings.nats_url is None:
                    outcomes.append(Outcome(entry, "NATS_URL is not set: the relay needs NATS"))
                    continue
                nc = await relay.connect(settings.nats_servers)
                stack.push_async_callback(nc.drain)
                publish = relay.Relay(nc.jetstream()).publish
                releasers[relay.NAME] = _by(
                    LogFollower(pool, settings.database_url, relay.NAME, publish)
                )
            if entry.projection == CLOCK and CLOCK not in releasers:
                ledger = await anyio.to_thread.run_sync(build_ledger, settings, 2)
                stack.callback(ledger.close)
                releasers[CLOCK] = _by_clock(DeadlineClock(pool, ledger))
            outcomes.append(Outcome(entry, await _release(releasers, entry)))
        return outcomes


async def _release(
    releasers: dict[str, Callable[[Quarantined], Awaitable[str | None]]], entry: Quarantined
) -> str | None:
    release = releasers.get(entry.projection)
    if release is None:
        return "no such projection in this projector"
    try:
        return await release(entry)
    except Exception as error:
        if not quarantine.transient(error):
            raise
        return f"not tried: {type(error).__name__}: {error} (try again)"


def _by(follower: LogFollower) -> Callable[[Quarantined], Awaitable[str | None]]:
    return lambda entry: release_key(follower, entry.scope, entry.key)


def _by_clock(clock: DeadlineClock) -> Callable[[Quarantined], Awaitable[str | None]]:
    return lambda entry: clock.release(entry.key)
