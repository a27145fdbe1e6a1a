"""Group commit: concurrent commands share one transaction.

Every append takes the event store's table lock (so that the notification log is read in
commit order), which makes each commit a serial point: one event per transaction tops out
far below what the database can write. Commands running at the same time therefore hand
their new events to whichever of them is committing; it writes all of them in one
transaction, with the ``Idempotency-Key`` results they carry. If that transaction fails on
a conflict (a stream's version, or a key already committed), each command's events are
written on their own, so only the command that conflicted sees the conflict.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.persistence import IntegrityError

MAX_GROUP = 200


class _Pending:
    __slots__ = ("error", "events", "lead", "record", "wake")

    def __init__(self, events: Sequence[Any], record: Any = None):
        self.events = events
        self.record = record  # an Idempotency-Key result to insert beside the events
        self.error: BaseException | None = None
        self.lead = False
        self.wake = threading.Event()


class GroupCommit:
    """``commit(events)`` returns once the events are stored, or raises why not."""

    def __init__(self, save: Callable[..., Any]):
        self._save = save
        self._lock = threading.Lock()
        self._queue: list[_Pending] = []
        self._committing = False

    def commit(self, events: Sequence[Any], record: Any = None) -> None:
        pending = _Pending(events, record)
        with self._lock:
            self._queue.append(pending)
            pending.lead = not self._committing
            self._committing = True
        if not pending.lead:
            pending.wake.wait()
        if pending.lead:
            self._lead()
        if pending.error is not None:
            raise pending.error

    def _lead(self) -> None:
        with self._lock:
            group: list[_Pending] = []
            later: list[_Pending] = []
            keys: set[Any] = set()
            for pending in self._queue:
                key = pending.record[:2] if pending.record else None
                if len(group) < MAX_GROUP and (key is None or key not in keys):
                    group.append(pending)
                    keys.add(key)
                else:  # one Idempotency-Key per transaction: a duplicate waits its turn
                    later.append(pending)
            self._queue = later
        try:
            self._write(group)
        finally:
            with self._lock:
                if self._queue:
                    self._queue[0].lead = True
                    self._queue[0].wake.set()
                else:
                    self._committing = False
            for pending in group:
                pending.lead = False
                pending.wake.set()

    def _write(self, group: list[_Pending]) -> None:
        try:
            self._save(
                *(event for pending in group for event in pending.events),
                idempotency=[pending.record for pending in group if pending.record],
            )
            return
        except IntegrityError as conflict:
            if len(group) == 1:
                group[0].error = conflict
                return
        except BaseException as error:  # e.g. the database is down: nobody's events are stored
            for pending in group:
                pending.error = error
            return
        for pending in group:
            try:
                self._save(*pending.events, idempotency=[pending.record] if pending.record else [])
            except BaseException as error:
                pending.error = error
