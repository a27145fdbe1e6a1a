"""The stream index's row of a stream's opening event: which tenant, kind and references.

The index (``grondslag_streams``) is written in the transaction that appends the opening
event, so that reads find every stream of a subject without waiting for a projection.
"""

from __future__ import annotations

from uuid import UUID

import msgspec
from eventsourcing.persistence import StoredEvent

# topic of the opening event → the kind of stream it opens
TOPICS = {
    "ledger.domain.purpose:Purpose.Registered": "purpose",
    "ledger.domain.subject:Subject.Registered": "subject",
    "ledger.domain.standing:Standing.Opened": "standing",
    "ledger.domain.controller:Controller.Opened": "controller",
    "ledger.domain.subject_request:SubjectRequest.Received": "request",
}

IndexRow = tuple[UUID | str, str, str, str | None, str | None]


class _Opening(msgspec.Struct):
    tenant: str
    subject_ref: str | None = None
    purpose: str | None = None
    code: str | None = None


_decoder = msgspec.json.Decoder(_Opening)


def index_row(stored: StoredEvent) -> IndexRow:
    """(stream, tenant, kind, subject_ref, purpose) of an opening event (``TOPICS``)."""
    opening = _decoder.decode(stored.state)
    kind = TOPICS[stored.topic]
    purpose = opening.code if kind == "purpose" else opening.purpose
    return (stored.originator_id, opening.tenant, kind, opening.subject_ref, purpose)
