"""A stream's events are recorded in the order of their versions.

Each event's ``timestamp`` is when the ledger learnt it — the ``recorded_at`` that every
"as known at" question (``known_at``) folds by. The fold takes what was recorded up to an
instant, so those instants must rise with a stream's versions: otherwise a question could
see version 6 (a withdrawal) without version 5 (the consent it withdraws), a state the
ledger never was in, and of two facts with the same ``effective_at`` the earlier version
could win over the later. Clocks do not guarantee that: two API replicas on two machines
differ by some milliseconds, and a clock can be stepped back (NTP, a restored VM). So a
command on a standing records just after the last instant its dossier's streams recorded,
if its clock is not already past it (``after_last``: the dossier's ``now``, at which the
command's answer is folded too); the standing itself records a fact just after its last
fact whoever calls it (``Standing._record``); and every aggregate records an event it times
by its own clock no earlier than its last one (``InVersionOrder``: an instant may repeat —
the standing's opening and its first fact share one — but never go back). A question that
names no instant asks it at ``not_before``: the reader's clock, or the last instant recorded
if that is later (``Dossier.present``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

TICK = timedelta(microseconds=1)  # the finest instant the store keeps


def after_last(clock: datetime, recorded: Iterable[datetime]) -> datetime:
    """``clock``, or one tick after the latest of ``recorded`` if that is not before it."""
    latest = max(recorded, default=None)
    return clock if latest is None or clock > latest else latest + TICK


def not_before(clock: datetime, recorded: Iterable[datetime]) -> datetime:
    """``clock``, or the latest of ``recorded`` if that is later: the "now" of a question
    that names no instant, which knows everything recorded."""
    return max([clock, *recorded])


class InVersionOrder:
    """Mixed into an aggregate (before ``Aggregate``): an event it records is timestamped
    no earlier than its last one, whatever the clock says."""

    def trigger_event(self, event_class: type[Any], **kwargs: Any) -> None:
        clock = kwargs.get("timestamp") or event_class.create_timestamp()
        last: datetime | None = getattr(self, "modified_on", None)
        kwargs["timestamp"] = not_before(clock, [] if last is None else [last])
        super().trigger_event(event_class, **kwargs)  # type: ignore[misc]
