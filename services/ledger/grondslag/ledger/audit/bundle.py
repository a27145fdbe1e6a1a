"""Export bundles: one self-contained JSON document an auditor verifies offline.

A bundle holds the events of one subject (its subject stream, its standings — all or one
purpose, optionally only those recorded in a period — and the register entries of those
purposes, which carry the notice texts' URLs and hashes), each with its canonical bytes
(``canonical.py``), its leaf hash and its inclusion proof in the tenant's audit log, up to
one signed checkpoint; the public key; and a signature by the same key over the whole
bundle (RFC 8785 canonical JSON of every member but ``signature``).

``verify`` needs no database and no network. It checks, and names the first thing that
fails: the file is byte for byte as exported (so that a changed space fails too), the key
is the pinned one (when given), the checkpoint's signature; for every event that its
canonical text is canonical, that its id, type, stream, purpose and recording time are the
ones its canonical text holds, that it belongs to the subject and the query, and that its
leaf hash is included in the checkpoint's tree; last the bundle's signature, which covers
what no proof does (the query, the time of export).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Literal
from uuid import UUID

import msgspec

from ..domain.ids import event_id, purpose_id, standing_id, subject_id
from . import merkle
from .canonical import canonical_json
from .checkpoints import Checkpoint, checkpoint_problem
from .rotation import KeyRotation, retired_problem, trusted_keys
from .signing import SigningKey, key_id_of, verify_signature

FORMAT = "grondslag.audit.bundle.v1"
Stream = Literal["subject", "purpose", "standing"]


class BundleQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    subject_ref: str
    purpose: str | None = None
    recorded_from: str | None = None  # RFC 3339; standings' events recorded at or after
    recorded_to: str | None = None  # RFC 3339; standings' events recorded at or before


class BundleEvent(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    event_id: str
    stream: Stream
    purpose: str | None
    type: str
    recorded_at: str
    leaf_index: int
    leaf_hash: str
    audit_path: list[str]
    canonical: str  # the RFC 8785 text whose UTF-8 bytes are the leaf
    # who recorded it (its canonical state's ``actor.id``); absent for events recorded
    # before actors, so that bundles exported then are spelt as they were
    actor: str | None = None


class Bundle(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    format: str
    tenant: str
    query: BundleQuery
    exported_at: str
    key_id: str
    public_key: str  # base64, raw 32-byte Ed25519
    checkpoint: Checkpoint
    events: list[BundleEvent]
    # base64 AES-256 key of the subject's sealed personal data (birth date: the age rules);
    # only in bundles exported with personal_data=true
    subject_key: str | None = None
    signature: str = ""  # base64 Ed25519 over signed_bytes()


class Verified(msgspec.Struct, kw_only=True):
    events: int
    checkpoint: Checkpoint
    bundle: Bundle


class BundleError(ValueError):
    """The first thing in a bundle that does not verify."""


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Bundle)


def render(bundle: Bundle) -> bytes:
    """The bundle's one true spelling: JSON indented by two spaces, then a newline."""
    return msgspec.json.format(_encoder.encode(bundle), indent=2) + b"\n"


def signed_bytes(bundle: Bundle) -> bytes:
    content = msgspec.to_builtins(bundle)
    del content["signature"]
    return canonical_json(content)


def sign_bundle(bundle: Bundle, key: SigningKey) -> Bundle:
    signature = base64.b64encode(key.sign(signed_bytes(bundle))).decode()
    return msgspec.structs.replace(bundle, signature=signature)


def event_fields(canonical: bytes) -> tuple[UUID, str, str]:
    """(event id, type, recorded_at) as an event's canonical text states them."""
    event = json.loads(canonical)
    eid = event_id(UUID(event["originator_id"]), event["originator_version"])
    return eid, event["topic"].rpartition(":")[2], event["state"]["timestamp"]


def event_actor(canonical: bytes) -> str | None:
    """The id of the actor an event's canonical text names (None: recorded before actors)."""
    actor = json.loads(canonical)["state"].get("actor")
    return actor.get("id") if isinstance(actor, dict) else None


def verify(
    data: bytes, pinned_key: bytes | None = None, rotations: Sequence[KeyRotation] = ()
) -> Verified:
    """Check a bundle offline; ``BundleError`` names the first thing that fails — also for
    input crafted to crash a verifier (anything else escaping is a bug).

    With ``rotations`` (the published key history, ``GET /v1/audit/keys``) a bundle signed
    by a key the pinned key was rotated to or from is accepted too, if its checkpoint and
    export date from while that key was in service."""
    try:
        return _verify(data, pinned_key, rotations)
    except BundleError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as error:
        raise BundleError(f"malformed bundle: {type(error).__name__}: {error}") from None


def _verify(data: bytes, pinned_key: bytes | None, rotations: Sequence[KeyRotation]) -> Verified:
    try:
        bundle = _decoder.decode(data)
    except msgspec.DecodeError as error:
        raise BundleError(f"not a bundle: {error}") from None
    if (spelled := render(bundle)) != data:
        where = _first_difference(spelled, data)
        raise BundleError(f"the bundle is not byte for byte as exported: {where}")
    if bundle.format != FORMAT:
        raise BundleError(f"unknown format {bundle.format!r} (expected {FORMAT!r})")
    public_key = _public_key(bundle)
    checkpoint = bundle.checkpoint
    if pinned_key is not None:
        _check_trusted(bundle, public_key, pinned_key, rotations)
    if checkpoint.tenant != bundle.tenant:
        raise BundleError(
            f"the checkpoint is of tenant {checkpoint.tenant!r}, not {bundle.tenant!r}"
        )
    if problem := checkpoint_problem(checkpoint, public_key):
        raise BundleError(problem)
    period = _period(bundle.query)
    root = bytes.fromhex(checkpoint.root_hash)
    previous = -1
    for number, event in enumerate(bundle.events, 1):
        _verify_event(bundle, event, number, root, period)
        if event.leaf_index <= previous:
            raise BundleError(f"event {number} ({event.event_id}): leaf indexes must increase")
        previous = event.leaf_index
    if bundle.subject_key is not None:
        _check_subject_key(bundle)
    if not _signature_verifies(bundle, public_key):  # covers the rest: query, exported_at
        raise BundleError("the bundle's signature does not verify with its public key")
    return Verified(events=len(bundle.events), checkpoint=checkpoint, bundle=bundle)


def _check_trusted(
    bundle: Bundle, public_key: bytes, pinned_key: bytes, rotations: Sequence[KeyRotation]
) -> None:
    trusted = trusted_keys(pinned_key, list(rotations)).get(bundle.key_id)
    if trusted is None or trusted.public_key != public_key:
        raise BundleError(
            f"the bundle's public key (key id {key_id_of(public_key)}) is not the pinned key "
            f"(key id {key_id_of(pinned_key)})"
            + (" nor a key it was rotated to or from" if rotations else "")
        )
    if problem := retired_problem(bundle.checkpoint, trusted.retired_at):
        raise BundleError(problem)
    if trusted.retired_at is not None and bundle.exported_at > trusted.retired_at:
        raise BundleError(
            f"the bundle exported {bundle.exported_at} is signed by key {bundle.key_id}, "
            f"retired at {trusted.retired_at}"
        )


Period = tuple[datetime | None, datetime | None]


def _verify_event(
    bundle: Bundle, event: BundleEvent, number: int, root: bytes, period: Period
) -> None:
    where = f"event {number} ({event.event_id})"
    canonical = event.canonical.encode()
    try:
        parsed = json.loads(canonical)
    except ValueError as error:
        raise BundleError(f"{where}: its canonical text is not JSON ({error})") from None
    if canonical_json(parsed) != canonical:
        raise BundleError(f"{where}: its canonical text is not in RFC 8785 form")
    if not (
        isinstance(parsed, dict)
        and isinstance(parsed.get("originator_id"), str)
        and type(parsed.get("originator_version")) is int
        and isinstance(parsed.get("topic"), str)
        and isinstance(parsed.get("state"), dict)
        and isinstance(parsed["state"].get("timestamp"), str)
    ):
        raise BundleError(
            f"{where}: its canonical text is not an event (originator_id, "
            "originator_version, topic, state with a timestamp)"
        )
    try:
        originator = UUID(parsed["originator_id"])
        recorded = datetime.fromisoformat(parsed["state"]["timestamp"])
    except ValueError as error:
        raise BundleError(f"{where}: its canonical text is not an event ({error})") from None
    if recorded.tzinfo is None:
        raise BundleError(f"{where}: its timestamp has no offset")
    version, topic = parsed["originator_version"], parsed["topic"]
    recorded_at = parsed["state"]["timestamp"]
    if str(event_id(originator, version)) != event.event_id:
        raise BundleError(f"{where}: event_id is not the id of its canonical event")
    if topic.rpartition(":")[2] != event.type:
        raise BundleError(f"{where}: type {event.type!r} is not its canonical topic {topic!r}")
    if recorded_at != event.recorded_at:
        raise BundleError(f"{where}: recorded_at is not its canonical timestamp")
    actor = parsed["state"].get("actor")
    if event.actor != (actor.get("id") if isinstance(actor, dict) else None):
        raise BundleError(f"{where}: actor is not the actor its canonical text names")
    expected = _stream_id(bundle, event)
    if expected != originator:
        raise BundleError(
            f"{where}: its stream is not the {event.stream} stream of "
            f"{bundle.query.subject_ref!r}" + (f" for {event.purpose!r}" if event.purpose else "")
        )
    query = bundle.query
    if query.purpose is not None and event.stream != "subject" and event.purpose != query.purpose:
        raise BundleError(f"{where}: purpose {event.purpose!r} is outside the query")
    if event.stream == "standing" and not in_period(recorded, period):
        raise BundleError(f"{where}: recorded at {recorded_at}, outside the query's period")
    leaf = merkle.leaf_hash(canonical)
    if event.leaf_hash != leaf.hex():
        raise BundleError(f"{where}: leaf_hash is not SHA-256(0x00 ‖ canonical bytes)")
    try:
        path = [bytes.fromhex(h) for h in event.audit_path]
    except ValueError:
        raise BundleError(f"{where}: audit_path is not hex") from None
    if [p.hex() for p in path] != event.audit_path:
        raise BundleError(f"{where}: audit_path is not lowercase hex")
    size = bundle.checkpoint.tree_size
    if event.leaf_index < 0 or not merkle.verify_inclusion(
        event.leaf_index, size, leaf, path, root
    ):
        raise BundleError(
            f"{where}: its inclusion proof does not lead to the checkpoint's root "
            f"(leaf {event.leaf_index} of {size})"
        )


ERASED = "ledger.domain.subject:Subject.Erased"


def _check_subject_key(bundle: Bundle) -> None:
    """The key must open every sealed personal record of the subject in the bundle (AES-GCM
    authenticates: a wrong key, or data moved from another subject, does not open)."""
    from cryptography.exceptions import InvalidTag

    from ..persistence.sealing import unseal

    try:
        key = base64.b64decode(bundle.subject_key or "", validate=True)
    except (binascii.Error, ValueError):
        raise BundleError("subject_key is not base64") from None
    if len(key) != 32 or base64.b64encode(key).decode() != bundle.subject_key:
        raise BundleError("subject_key is not a base64 256-bit key")
    sid = subject_id(bundle.tenant, bundle.query.subject_ref)
    records = [
        (number, json.loads(event.canonical))
        for number, event in enumerate(bundle.events, 1)
        if event.stream == "subject"
    ]
    # R22: what an erasure kept is sealed anew under a fresh key; the records before the
    # last erasure were sealed under the destroyed one and need not open
    erasures = [i for i, (_, record) in enumerate(records) if record["topic"] == ERASED]
    for number, record in records[erasures[-1] :] if erasures else records:
        sealed = record["state"].get("sealed_personal_data")
        if sealed is None:
            continue
        try:
            unseal(key, sid, base64.b64decode(sealed))
        except (InvalidTag, ValueError, binascii.Error):
            raise BundleError(
                f"subject_key does not open the sealed personal data of event {number}"
            ) from None


def _stream_id(bundle: Bundle, event: BundleEvent) -> UUID | None:
    tenant, ref = bundle.tenant, bundle.query.subject_ref
    if event.stream == "subject":
        return subject_id(tenant, ref) if event.purpose is None else None
    if event.purpose is None:
        return None
    if event.stream == "purpose":
        return purpose_id(tenant, event.purpose)
    return standing_id(tenant, ref, event.purpose)


def _period(query: BundleQuery) -> Period:
    """The query's period as aware times; ``BundleError`` when it is not one."""
    bounds: list[datetime | None] = []
    for name in ("recorded_from", "recorded_to"):
        text = getattr(query, name)
        if text is None:
            bounds.append(None)
            continue
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise BundleError(f"query.{name} is not an RFC 3339 time") from None
        if moment.tzinfo is None:
            raise BundleError(f"query.{name} has no offset")
        bounds.append(moment)
    return bounds[0], bounds[1]


def in_period(moment: datetime, period: Period) -> bool:
    """Whether a standing event recorded at ``moment`` lies in the query's period (the one
    rule the exporter filters by and the verifier checks)."""
    start, end = period
    return not (start and moment < start) and not (end and moment > end)


def _public_key(bundle: Bundle) -> bytes:
    try:
        key = base64.b64decode(bundle.public_key, validate=True)
    except (binascii.Error, ValueError):
        raise BundleError("public_key is not base64") from None
    if len(key) != 32 or base64.b64encode(key).decode() != bundle.public_key:
        raise BundleError("public_key is not a base64 32-byte Ed25519 key")
    if key_id_of(key) != bundle.key_id:
        raise BundleError(f"key_id {bundle.key_id!r} is not the id of public_key")
    return key


def _signature_verifies(bundle: Bundle, public_key: bytes) -> bool:
    try:
        signature = base64.b64decode(bundle.signature, validate=True)
    except (binascii.Error, ValueError):
        return False
    if base64.b64encode(signature).decode() != bundle.signature:
        return False
    return verify_signature(public_key, signature, signed_bytes(bundle))


def _first_difference(expected: bytes, actual: bytes) -> str:
    at = next(
        (i for i, (a, b) in enumerate(zip(expected, actual, strict=False)) if a != b),
        min(len(expected), len(actual)),
    )
    line = actual[:at].count(b"\n") + 1
    return f"first difference at byte {at} (line {line})"


def digest(data: bytes) -> str:
    """SHA-256 of a bundle file, hex: what an auditor writes in their report."""
    return hashlib.sha256(data).hexdigest()
