"""Helpers of the tests of offline bundle verification (ledger/audit/bundle.py): a tenant's log
of canonical events with the subject's own events at known places and another subject's
between them, its tree and a signing key, the queries, a signed bundle assembled exactly as
the exporter does, re-signed or rendered with its old signature after a change, and the check
that ``verify`` fails with a ``BundleError`` naming the fault."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from grondslag.ledger.audit import checkpoints, merkle
from grondslag.ledger.audit.bundle import (
    FORMAT,
    Bundle,
    BundleError,
    BundleEvent,
    BundleQuery,
    event_fields,
    render,
    sign_bundle,
    verify,
)
from grondslag.ledger.audit.canonical import canonical_event_bytes
from grondslag.ledger.audit.signing import SigningKey
from grondslag.ledger.domain.ids import purpose_id, standing_id, subject_id

TENANT = "demo"
SUBJECT = "client-1"
PURPOSE = "photo"
OTHER_PURPOSE = "newsletter"
TREE_SIZE = 37
ISSUED = datetime(2026, 4, 1, 11, 59, 30, tzinfo=UTC)
EXPORTED_AT = "2026-04-01T12:00:00Z"

SUBJECT_TOPIC = "ledger.domain.subject:Subject.Registered"
PURPOSE_TOPIC = "ledger.domain.purpose:Purpose.Registered"
OPENED_TOPIC = "ledger.domain.standing:Standing.Opened"
GIVEN_TOPIC = "ledger.domain.standing:Standing.ConsentGiven"
WITHDRAWN_TOPIC = "ledger.domain.standing:Standing.ConsentWithdrawn"

# -- the tenant's log --------------------------------------------------------------------------


@dataclass(frozen=True)
class Logged:
    index: int
    stream: str  # "subject", "purpose" or "standing"
    purpose: str | None
    canonical: bytes


def state(timestamp: str, **fields: object) -> bytes:
    """Stored state as MsgspecMapper writes it: the timestamp first, then the fields."""
    return msgspec.json.encode({"timestamp": timestamp, **fields})


def subject_registered(ref: str, timestamp: str) -> bytes:
    return canonical_event_bytes(
        subject_id(TENANT, ref),
        1,
        SUBJECT_TOPIC,
        state(
            timestamp,
            tenant=TENANT,
            subject_ref=ref,
            sealed_personal_data=base64.b64encode(f"sealed:{ref}".encode()).decode(),
        ),
    )


def purpose_registered(code: str, timestamp: str) -> bytes:
    terms = {
        "title": f"{code} for the practice",
        "notice_url": f"https://practice.example/notices/{code}/v1",
        "notice_sha256": "a" * 64,
        "recipients": ["practice"],
        "requires_explicit": code == "photo",
    }
    return canonical_event_bytes(
        purpose_id(TENANT, code),
        1,
        PURPOSE_TOPIC,
        state(
            timestamp, tenant=TENANT, code=code, terms=terms, effective_at="2026-01-01T00:00:00Z"
        ),
    )


def standing_opened(ref: str, code: str, timestamp: str) -> bytes:
    return canonical_event_bytes(
        standing_id(TENANT, ref, code),
        1,
        OPENED_TOPIC,
        state(timestamp, tenant=TENANT, subject_ref=ref, purpose=code),
    )


def consent_given(ref: str, code: str, timestamp: str, version: int = 2) -> bytes:
    consent = {
        "type": "consent",
        "method": "signed_electronic",
        "explicit": True,
        "notice_version": "v1",
        "purpose_version": 1,
        "evidence": {"document_ref": f"scan-{ref}", "sha256": "b" * 64},
        "effective_at": timestamp[:19] + "Z",
        "recorded_by": "staff:anna",
        "representative_ref": None,
        "capacity": "self",
        "expires_at": None,
    }
    return canonical_event_bytes(
        standing_id(TENANT, ref, code), version, GIVEN_TOPIC, state(timestamp, consent=consent)
    )


def consent_withdrawn(ref: str, code: str, timestamp: str, version: int) -> bytes:
    withdrawal = {
        "type": "withdrawal",
        "channel": "phone",
        "effective_at": timestamp[:19] + "Z",
        "recorded_by": "staff:bram",
    }
    return canonical_event_bytes(
        standing_id(TENANT, ref, code),
        version,
        WITHDRAWN_TOPIC,
        state(timestamp, withdrawal=withdrawal),
    )


# The subject's own events and where they sit in the log; everything else is other subjects.
OURS = [
    Logged(0, "purpose", PURPOSE, purpose_registered(PURPOSE, "2026-01-02T08:00:00.000001Z")),
    Logged(
        1,
        "purpose",
        OTHER_PURPOSE,
        purpose_registered(OTHER_PURPOSE, "2026-01-02T08:05:00.000001Z"),
    ),
    Logged(6, "subject", None, subject_registered(SUBJECT, "2026-01-05T09:59:00.000001Z")),
    Logged(7, "standing", PURPOSE, standing_opened(SUBJECT, PURPOSE, "2026-01-05T10:00:00Z")),
    Logged(8, "standing", PURPOSE, consent_given(SUBJECT, PURPOSE, "2026-01-05T10:00:00.000001Z")),
    Logged(
        23,
        "standing",
        OTHER_PURPOSE,
        standing_opened(SUBJECT, OTHER_PURPOSE, "2026-02-10T09:00:00.000001Z"),
    ),
    Logged(
        24,
        "standing",
        OTHER_PURPOSE,
        consent_given(SUBJECT, OTHER_PURPOSE, "2026-02-10T09:00:00.000002Z"),
    ),
    Logged(
        30,
        "standing",
        PURPOSE,
        consent_withdrawn(SUBJECT, PURPOSE, "2026-03-01T14:00:00.000001Z", 3),
    ),
]
# Another subject's events, at known places (for insertion attacks).
THEIRS = {
    15: subject_registered("client-2", "2026-01-20T09:00:00.000001Z"),
    16: standing_opened("client-2", PURPOSE, "2026-01-20T09:01:00.000001Z"),
    17: consent_given("client-2", PURPOSE, "2026-01-20T09:01:00.000002Z"),
}


def build_log() -> list[bytes]:
    log: list[bytes | None] = [None] * TREE_SIZE
    for entry in OURS:
        log[entry.index] = entry.canonical
    for index, canonical in THEIRS.items():
        log[index] = canonical
    for index in range(TREE_SIZE):
        if log[index] is None:
            log[index] = subject_registered(
                f"client-{100 + index}", f"2026-01-{index % 28 + 1:02}T12:00:00.000001Z"
            )
    return [canonical for canonical in log if canonical is not None]


LOG = build_log()
LEAVES = [merkle.leaf_hash(canonical) for canonical in LOG]
ROOT = merkle.root(LEAVES)
KEY = SigningKey(Ed25519PrivateKey.generate())

FULL = BundleQuery(subject_ref=SUBJECT)
NARROW = BundleQuery(
    subject_ref=SUBJECT,
    purpose=PURPOSE,
    recorded_from="2026-01-01T00:00:00+00:00",
    recorded_to="2026-02-01T00:00:00+00:00",
)


def bundle_event(entry: Logged) -> BundleEvent:
    eid, type_, recorded_at = event_fields(entry.canonical)
    return BundleEvent(
        event_id=str(eid),
        stream=entry.stream,  # type: ignore[arg-type]
        purpose=entry.purpose,
        type=type_,
        recorded_at=recorded_at,
        leaf_index=entry.index,
        leaf_hash=merkle.leaf_hash(entry.canonical).hex(),
        audit_path=[h.hex() for h in merkle.inclusion_proof(entry.index, LEAVES)],
        canonical=entry.canonical.decode(),
    )


def selected(query: BundleQuery) -> list[Logged]:
    """The subject's events a query selects, as the exporter selects them."""

    def within(entry: Logged) -> bool:
        moment = datetime.fromisoformat(json.loads(entry.canonical)["state"]["timestamp"])
        start = query.recorded_from and datetime.fromisoformat(query.recorded_from)
        end = query.recorded_to and datetime.fromisoformat(query.recorded_to)
        return not (start and moment < start) and not (end and moment > end)

    return [
        entry
        for entry in OURS
        if entry.stream == "subject"
        or (
            (query.purpose is None or entry.purpose == query.purpose)
            and (entry.stream != "standing" or within(entry))
        )
    ]


def make_bundle(
    query: BundleQuery = FULL,
    key: SigningKey = KEY,
    entries: list[Logged] | None = None,
    checkpoint: checkpoints.Checkpoint | None = None,
) -> Bundle:
    """A signed bundle, exactly as the exporter assembles it."""
    bundle = Bundle(
        format=FORMAT,
        tenant=TENANT,
        query=query,
        exported_at=EXPORTED_AT,
        key_id=key.key_id,
        public_key=base64.b64encode(key.public_key).decode(),
        checkpoint=checkpoint or checkpoints.sign(key, TENANT, TREE_SIZE, ROOT, ISSUED),
        events=[bundle_event(e) for e in (selected(query) if entries is None else entries)],
    )
    return sign_bundle(bundle, key)


def resign(bundle: Bundle, key: SigningKey = KEY) -> bytes:
    """The bundle rendered after signing it again (an exporter that got it wrong)."""
    return render(sign_bundle(bundle, key))


def unsigned(bundle: Bundle) -> bytes:
    """The bundle rendered with its old signature (a forger without the key)."""
    return render(bundle)


def replace_event(bundle: Bundle, number: int, **changes: object) -> Bundle:
    events = list(bundle.events)
    events[number - 1] = msgspec.structs.replace(events[number - 1], **changes)
    return msgspec.structs.replace(bundle, events=events)


def fails(data: bytes, *needles: str, pinned_key: bytes | None = None) -> str:
    with pytest.raises(BundleError) as caught:
        verify(data, pinned_key=pinned_key)
    message = str(caught.value)
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    return message


FULL_DATA = render(make_bundle(FULL))
NARROW_DATA = render(make_bundle(NARROW))
