"""Whether the projections are still stored under the partition count this process was
started with.

Another ``grondslag project`` started with another ``GRONDSLAG_PROJECTION_PARTITIONS``
makes the tracking rows anew under its count when that is safe (``tracking.ensure``); from
then on this process's followers find their rows gone (``tracking.PartitionGone``) and try
again in vain, with nothing projected, until the process is restarted with the new count.
The watch says so: the projector's readiness (``health``) answers 503 naming both counts,
and one log line — when it is first seen, not at every retry — tells the operator what to
restart with.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

import asyncpg

from . import tracking

log = logging.getLogger("grondslag.projector")
SETTING = "GRONDSLAG_PROJECTION_PARTITIONS"
STORED = (
    f"SELECT projection, max(partitions) AS partitions FROM {tracking.TABLE} "
    "WHERE projection = ANY($1::text[]) GROUP BY projection ORDER BY projection"
)


class PartitionWatch:
    """Compares the stored partition counts of ``projections`` with ``count``; ``run``
    looks every ``interval`` seconds, so that the log line comes without a probe."""

    def __init__(
        self, pool: asyncpg.Pool, projections: Iterable[str], count: int, interval: float = 2.0
    ):
        self.pool, self.projections, self.count = pool, sorted(projections), count
        self.interval = interval
        self.changed: dict[str, int] = {}  # projection → the count stored, where not ours

    async def check(self) -> dict[str, int]:
        """The projections stored under another count than this process's, with that count
        (empty while all is as it started); logs once for each change it sees."""
        rows = await self.pool.fetch(STORED, self.projections)
        changed = {r["projection"]: r["partitions"] for r in rows if r["partitions"] != self.count}
        if changed and changed != self.changed:
            log.error(
                "projector: its followers find no partitions of theirs and project nothing: %s",
                advice(changed, self.count),
            )
        elif self.changed and not changed:
            log.info("projector: the projections are stored under %d partitions again", self.count)
        self.changed = changed
        return changed

    async def run(self) -> None:
        """Look until cancelled (the database away: look again later; readiness names it)."""
        while True:
            with contextlib.suppress(Exception):
                await self.check()
            await asyncio.sleep(self.interval)


def advice(changed: dict[str, int], count: int) -> str:
    """``changed`` in words — which projections are stored under which count, against this
    process's — and the count to restart with."""
    by_count: dict[int, list[str]] = {}
    for projection, stored in sorted(changed.items()):
        by_count.setdefault(stored, []).append(projection)
    stored_as = "; ".join(
        f"{', '.join(names)} stored under {stored} partitions"
        for stored, names in sorted(by_count.items())
    )
    restart = max(changed.values())
    return f"{stored_as}, this process runs {count}: restart with {SETTING}={restart}"
