"""msgspec's type information for every type the ledger decodes, built once at start-up.

msgspec builds a type's decoding information on the type's first use and caches it on the
class. Up to 0.22 it put that cache on the class *before* it was complete: a thread that
first decoded a type while another thread was still building it (in
``msgspec._utils.get_class_annotations``) found a field without its type and the process
died of SIGSEGV (8 threads first-decoding one stored ``ConsentGiven`` at the service's GIL
switch interval of 500 µs: 18 of 40 processes). 0.23 publishes it only when it is
complete. ``warm_up`` builds all of it on one thread before a second one can decode
anything, whatever the library version, and takes that cost (about 15 ms) off the first
requests: the API's lifespan, ``build_ledger`` and the projector's start call it before
they serve.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec
from eventsourcing.domain import DomainEvent

from ..domain.controller import Controller
from ..domain.purpose import Purpose
from ..domain.standing import Standing
from ..domain.subject import Subject
from ..domain.subject_request import SubjectRequest
from ..domain.values import PersonalData

AGGREGATES = (Purpose, Subject, Standing, SubjectRequest, Controller)


def stored_event_classes() -> list[type]:
    """Every event class the mapper can decode: the events of the ledger's aggregates."""
    return [
        cls
        for aggregate in AGGREGATES
        for cls in vars(aggregate).values()
        if isinstance(cls, type) and issubclass(cls, DomainEvent)
    ]


def warm_up(types: Iterable[Any] = ()) -> None:
    """Build the decoders of every stored event class (``decode_event``'s ``convert``), of
    the sealed personal data and of ``types`` (the API's request and response types, the
    NATS messages), and with them of every type they contain. Call it on the thread that
    starts the process, before a second thread decodes; a second call finds it all cached."""
    for cls in (*stored_event_classes(), PersonalData, *types):
        msgspec.json.Decoder(cls)  # the same per-class cache that convert and decode use
