"""The standings the read model folded last, kept in the projector's memory, so that a batch
folds only the events recorded since onto them instead of each touched stream from its first
event: the cost of an event is then its own decoding, not its stream's.

The log is append-only, so a standing folded up to version ``v`` stays the fold of its first
``v`` events; a batch reads each kept stream from ``v`` on. The row at ``v`` is read again
and must be the one folded, byte for byte (a digest of its stored state): a log restored
under a running projector, or any other rewrite, folds that stream whole again. Whatever
fails while folding onto kept standings (an event that does not decode) forgets them, so
nothing half-folded is kept. The subject and the register are read whole each time (short
streams, and a subject's key must be read with its registration). At most ``capacity``
standings are kept, the least recently folded forgotten first (``0`` keeps none);
``GRONDSLAG_PROJECTOR_KEPT_STANDINGS`` sets it (a standing of ten events takes ~5 KB).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from grondslag.ledger.domain.standing import Standing
from grondslag.ledger.persistence import dossiers


@dataclass
class _Kept:
    standing: Standing
    digest: bytes  # of the stored state of its last event folded


def _digest(state: bytes) -> bytes:
    return hashlib.blake2b(state, digest_size=16).digest()


class KeptStandings:
    def __init__(self, capacity: int):
        self.capacity = capacity
        self._kept: OrderedDict[UUID, _Kept] = OrderedDict()
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._kept)

    async def load(
        self, conn: asyncpg.Connection, standings: set[UUID], others: Iterable[UUID]
    ) -> dossiers.Streams:
        """The given standings, folded onto what is kept of them, and the ``others``
        (subjects, registers) folded whole."""
        start = {stream: 0 for stream in others}
        versions = {s: k.standing.version for s in standings if (k := self._kept.get(s))}
        start |= {standing: versions.get(standing, 0) for standing in standings}
        rows = await dossiers.rows_from(conn, start)
        fresh, kept, stale = self._split(rows, versions)
        if stale:  # folded whole again
            fresh += await dossiers.rows_from(conn, dict.fromkeys(stale, 0))
        self.hits += len(kept)
        self.misses += len(standings) - len(kept)
        try:
            streams = dossiers.Streams.from_rows(fresh, kept)
        except BaseException:
            self.forget(standings)
            raise
        self._keep(streams, standings, fresh)
        return streams

    def _split(
        self, rows: list[Any], versions: dict[UUID, int]
    ) -> tuple[list[Any], dict[UUID, Standing], set[UUID]]:
        """The rows to fold, the kept standings they fold onto, and the kept ones whose row
        at the kept version is not the one folded (or is gone)."""
        fresh: list[Any] = []
        kept: dict[UUID, Standing] = {}
        checked: set[UUID] = set()
        stale: set[UUID] = set()
        for row in rows:
            stream = row["originator_id"]
            version = versions.get(stream)
            if version is None:
                fresh.append(row)
            elif stream in stale:
                continue
            elif row["originator_version"] == version and stream not in checked:
                checked.add(stream)
                if _digest(bytes(row["state"])) == self._kept[stream].digest:
                    kept[stream] = self._kept[stream].standing
                else:
                    stale.add(stream)
            elif stream in kept:
                fresh.append(row)
            else:  # the row at the kept version was missing
                stale.add(stream)
        stale |= versions.keys() - checked
        for stream in stale:
            kept.pop(stream, None)
            self._kept.pop(stream, None)
        fresh = [row for row in fresh if row["originator_id"] not in stale]
        return fresh, kept, stale

    def _keep(self, streams: dossiers.Streams, standings: set[UUID], rows: list[Any]) -> None:
        if self.capacity <= 0:
            return
        last = {row["originator_id"]: row["state"] for row in rows}
        for standing in standings:
            aggregate = streams.get(standing)
            if aggregate is None:
                continue
            if standing in last:
                self._kept[standing] = _Kept(aggregate, _digest(bytes(last[standing])))
            elif standing not in self._kept:
                continue
            self._kept.move_to_end(standing)
        while len(self._kept) > self.capacity:
            self._kept.popitem(last=False)

    def forget(self, standings: Iterable[UUID]) -> None:
        for standing in standings:
            self._kept.pop(standing, None)
