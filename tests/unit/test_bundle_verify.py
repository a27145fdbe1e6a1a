"""Offline verification of an export bundle (ledger/audit/bundle.py), no database: a bundle
is assembled here as the exporter does — canonical events in a tenant's tree, inclusion
proofs, a signed checkpoint, a signed bundle — and then every single changed character, and
every targeted forgery, must make ``verify`` fail with a ``BundleError`` naming the fault
(R7: the proof lies with the practice, and it must stand up offline)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from grondslag.ledger.audit import checkpoints, merkle
from grondslag.ledger.audit.bundle import (
    FORMAT,
    Bundle,
    BundleError,
    BundleEvent,
    BundleQuery,
    digest,
    event_fields,
    render,
    sign_bundle,
    signed_bytes,
    verify,
)
from grondslag.ledger.audit.canonical import canonical_event_bytes, canonical_json
from grondslag.ledger.audit.signing import SigningKey
from grondslag.ledger.domain.ids import event_id, purpose_id, standing_id, subject_id

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


# -- an honest bundle --------------------------------------------------------------------------


def test_the_log_is_realistic():
    assert len(LOG) == TREE_SIZE == len(set(LOG))
    for entry in OURS:
        event = json.loads(entry.canonical)
        assert canonical_json(event) == entry.canonical
        assert set(event) == {"originator_id", "originator_version", "state", "topic"}
        assert event["state"]["timestamp"].endswith("Z")
    assert [e.index for e in selected(FULL)] == [0, 1, 6, 7, 8, 23, 24, 30]
    assert [e.index for e in selected(NARROW)] == [0, 6, 7, 8]
    assert FULL_DATA.isascii() and NARROW_DATA.isascii()
    assert 4_000 < len(FULL_DATA) < 40_000


@pytest.mark.parametrize(("query", "count"), [(FULL, 8), (NARROW, 4)])
def test_an_honest_bundle_verifies(query, count):
    data = render(make_bundle(query))
    result = verify(data)
    assert result.events == count
    assert result.checkpoint.tree_size == TREE_SIZE
    assert result.checkpoint.root_hash == ROOT.hex()
    assert result.checkpoint.key_id == KEY.key_id
    assert verify(data, pinned_key=KEY.public_key).events == count
    assert data.endswith(b"}\n") and data.startswith(b'{\n  "format": ')
    assert len(digest(data)) == 64


def test_event_fields_are_the_canonical_event_s():
    entry = OURS[4]
    eid, type_, recorded_at = event_fields(entry.canonical)
    assert eid == event_id(standing_id(TENANT, SUBJECT, PURPOSE), 2)
    assert isinstance(eid, UUID)
    assert type_ == "Standing.ConsentGiven"
    assert recorded_at == "2026-01-05T10:00:00.000001Z"


def test_the_bundle_signature_covers_every_member_but_itself():
    bundle = make_bundle(FULL)
    content = json.loads(signed_bytes(bundle))
    assert "signature" not in content
    assert set(content) == {
        "format",
        "tenant",
        "query",
        "exported_at",
        "key_id",
        "public_key",
        "checkpoint",
        "events",
        "subject_key",
    }
    assert signed_bytes(bundle) == canonical_json(content)


# -- every single changed character ------------------------------------------------------------


def other_char(c: int) -> int:
    """Another printable ASCII character of the same kind: digit, lower or upper letter;
    anything else becomes a space (a space becomes 'x')."""
    ch = chr(c)
    for alphabet in ("0123456789", "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"):
        if ch in alphabet:
            return ord(alphabet[(alphabet.index(ch) + 1) % len(alphabet)])
    return ord("x") if ch == " " else ord(" ")


def outcome(data: bytes, position: int) -> str | None:
    """None when changing the byte at ``position`` is caught by a BundleError; else how it
    went (it verified, or another exception escaped)."""
    changed = bytearray(data)
    changed[position] = other_char(data[position])
    try:
        verify(bytes(changed))
    except BundleError:
        return None
    except Exception as error:
        return f"{position} ({chr(data[position])!r}): {type(error).__name__}: {error}"
    return f"{position} ({chr(data[position])!r}): verified"


def test_every_single_character_change_of_a_full_bundle_fails():
    failures = [o for p in range(len(FULL_DATA)) if (o := outcome(FULL_DATA, p))]
    assert failures == []


def test_every_single_character_change_of_a_purpose_and_period_bundle_fails():
    failures = [o for p in range(len(NARROW_DATA)) if (o := outcome(NARROW_DATA, p))]
    assert failures == []


def test_every_single_character_change_of_a_purpose_and_period_bundle_outside_the_query_fails():
    """The same sweep, except the query: every other position is caught."""
    query_at = NARROW_DATA.index(b'"query"')
    query_end = NARROW_DATA.index(b"}", query_at)
    failures = [
        o
        for p in range(len(NARROW_DATA))
        if not query_at <= p <= query_end and (o := outcome(NARROW_DATA, p))
    ]
    assert failures == []


@settings(max_examples=300, deadline=None)
@given(position=st.integers(0, len(FULL_DATA) - 1), byte=st.integers(0x20, 0x7E))
def test_any_other_printable_character_anywhere_fails(position, byte):
    if FULL_DATA[position] == byte:
        return
    changed = bytearray(FULL_DATA)
    changed[position] = byte
    with pytest.raises(BundleError):
        verify(bytes(changed))


@settings(max_examples=200, deadline=None)
@given(position=st.integers(0, len(FULL_DATA) - 1))
def test_a_deleted_character_anywhere_fails(position):
    with pytest.raises(BundleError):
        verify(FULL_DATA[:position] + FULL_DATA[position + 1 :])


# -- targeted forgeries ------------------------------------------------------------------------


def test_a_changed_canonical_text_names_its_event():
    bundle = make_bundle(FULL)
    event = bundle.events[4]  # event 5: the photo consent
    assert event.type == "Standing.ConsentGiven"
    forged = event.canonical.replace('"explicit":true', '"explicit":false')
    assert forged != event.canonical
    fails(unsigned(replace_event(bundle, 5, canonical=forged)), "event 5", "leaf_hash")
    # With its leaf hash recomputed, the proof no longer reaches the signed root.
    leaf = merkle.leaf_hash(forged.encode()).hex()
    message = fails(
        resign(replace_event(bundle, 5, canonical=forged, leaf_hash=leaf)),
        "event 5",
        "inclusion proof",
    )
    assert event.event_id in message


def test_a_canonical_text_not_in_rfc_8785_form_is_caught():
    bundle = make_bundle(FULL)
    loose = json.dumps(json.loads(bundle.events[2].canonical), indent=1)
    fails(resign(replace_event(bundle, 3, canonical=loose)), "event 3", "RFC 8785")
    fails(resign(replace_event(bundle, 3, canonical="[]")), "event 3", "not an event")


def test_an_event_must_say_what_its_canonical_text_says():
    bundle = make_bundle(FULL)
    assert bundle.events[1].type == "Purpose.Registered"
    other_id = str(event_id(purpose_id(TENANT, OTHER_PURPOSE), 2))
    fails(resign(replace_event(bundle, 2, event_id=other_id)), "event 2", "event_id")
    fails(resign(replace_event(bundle, 2, type="Purpose.Revised")), "event 2", "type")
    fails(resign(replace_event(bundle, 2, type="Registered")), "event 2", "type")
    fails(
        resign(replace_event(bundle, 2, recorded_at="2026-01-02T08:05:00Z")),
        "event 2",
        "recorded_at",
    )


def test_a_swapped_audit_path_hash_is_caught():
    bundle = make_bundle(FULL)
    path = bundle.events[3].audit_path
    assert len(path) >= 2
    swapped = [path[1], path[0], *path[2:]]
    fails(resign(replace_event(bundle, 4, audit_path=swapped)), "event 4", "inclusion proof")
    other = [bundle.events[5].audit_path[0], *path[1:]]
    fails(resign(replace_event(bundle, 4, audit_path=other)), "event 4", "inclusion proof")
    fails(resign(replace_event(bundle, 4, audit_path=path[:-1])), "event 4", "inclusion proof")
    upper = [path[0].upper(), *path[1:]]
    fails(resign(replace_event(bundle, 4, audit_path=upper)), "event 4", "lowercase hex")
    fails(resign(replace_event(bundle, 4, audit_path=["zz", *path[1:]])), "event 4", "not hex")


@pytest.mark.parametrize("leaf_index", [6, 8, 9, 36, 37, -1, 7 + 32])
def test_a_wrong_leaf_index_is_caught(leaf_index):
    bundle = make_bundle(FULL)
    assert bundle.events[3].leaf_index == 7
    fails(
        resign(replace_event(bundle, 4, leaf_index=leaf_index)),
        "event 4",
        "inclusion proof",
        f"leaf {leaf_index} of {TREE_SIZE}",
    )


def test_a_checkpoint_re_signed_with_another_key_is_caught():
    attacker = SigningKey(Ed25519PrivateKey.generate())
    bundle = make_bundle(FULL)
    theirs = checkpoints.sign(attacker, TENANT, TREE_SIZE, ROOT, ISSUED)
    fails(resign(msgspec.structs.replace(bundle, checkpoint=theirs)), "checkpoint key_id")
    relabelled = msgspec.structs.replace(theirs, key_id=KEY.key_id)
    fails(
        resign(msgspec.structs.replace(bundle, checkpoint=relabelled)),
        "checkpoint signature does not verify",
    )


def test_a_checkpoint_over_another_tree_is_caught():
    bundle = make_bundle(FULL)
    bigger = merkle.root([*LEAVES, merkle.leaf_hash(b"one more")])
    other = checkpoints.sign(KEY, TENANT, TREE_SIZE + 1, bigger, ISSUED)
    fails(resign(msgspec.structs.replace(bundle, checkpoint=other)), "event 1", "inclusion proof")
    of_another_tenant = checkpoints.sign(KEY, "other", TREE_SIZE, ROOT, ISSUED)
    fails(
        resign(msgspec.structs.replace(bundle, checkpoint=of_another_tenant)),
        "checkpoint is of tenant 'other'",
    )


def test_an_attacker_s_own_bundle_fails_only_against_the_pinned_key():
    attacker = SigningKey(Ed25519PrivateKey.generate())
    forged = render(make_bundle(FULL, key=attacker))  # same log, the attacker's signatures
    assert verify(forged).checkpoint.key_id == attacker.key_id  # why a key must be pinned
    message = fails(forged, "pinned key", pinned_key=KEY.public_key)
    assert attacker.key_id in message and KEY.key_id in message
    # An attacker who keeps our public key but signs with theirs fails without pinning.
    mixed = msgspec.structs.replace(
        make_bundle(FULL, key=attacker),
        key_id=KEY.key_id,
        public_key=base64.b64encode(KEY.public_key).decode(),
    )
    fails(resign(mixed, attacker), "checkpoint")


def test_the_bundle_key_must_be_well_formed():
    bundle = make_bundle(FULL)
    fails(resign(msgspec.structs.replace(bundle, public_key="%%%")), "public_key is not base64")
    short = base64.b64encode(KEY.public_key[:31]).decode()
    fails(resign(msgspec.structs.replace(bundle, public_key=short)), "32-byte")
    fails(resign(msgspec.structs.replace(bundle, key_id="0" * 16)), "key_id")
    fails(resign(msgspec.structs.replace(bundle, format="grondslag.audit.bundle.v2")), "format")


def test_a_removed_event_breaks_the_bundle_signature():
    bundle = make_bundle(FULL)
    for number in range(len(bundle.events)):
        events = bundle.events[:number] + bundle.events[number + 1 :]
        fails(unsigned(msgspec.structs.replace(bundle, events=events)), "bundle's signature")
    fails(unsigned(msgspec.structs.replace(bundle, events=[])), "bundle's signature")


def test_what_no_proof_covers_is_covered_by_the_bundle_signature():
    bundle = make_bundle(FULL)
    for changed in (
        msgspec.structs.replace(bundle, exported_at="2026-04-01T12:00:01Z"),
        msgspec.structs.replace(
            bundle,
            query=BundleQuery(subject_ref=SUBJECT, recorded_to="2030-01-01T00:00:00+00:00"),
        ),
        msgspec.structs.replace(bundle, signature=""),
        msgspec.structs.replace(bundle, signature=bundle.signature[:-4] + "AAA="),
        msgspec.structs.replace(bundle, signature=make_bundle(NARROW).signature),
    ):
        fails(unsigned(changed), "bundle's signature")


def test_reordered_events_are_caught():
    bundle = make_bundle(FULL)
    events = list(bundle.events)
    events[2], events[3] = events[3], events[2]
    fails(resign(msgspec.structs.replace(bundle, events=events)), "event 4", "must increase")
    doubled = [*bundle.events[:3], bundle.events[2], *bundle.events[3:]]
    fails(resign(msgspec.structs.replace(bundle, events=doubled)), "event 4", "must increase")


def test_a_reformatted_bundle_is_not_byte_for_byte():
    reformatted = json.dumps(json.loads(FULL_DATA), indent=4).encode()
    message = fails(reformatted, "not byte for byte")
    assert "line 2" in message  # the first indentation differs
    # Python's own two-space layout happens to be the exported spelling: it verifies.
    assert json.dumps(json.loads(FULL_DATA), indent=2).encode() + b"\n" == FULL_DATA
    fails(
        json.dumps(json.loads(FULL_DATA), indent=2, sort_keys=True).encode() + b"\n",
        "not byte for byte",
    )
    fails(msgspec.json.encode(json.loads(FULL_DATA)), "not byte for byte")
    fails(FULL_DATA[:-1], "not byte for byte")
    fails(FULL_DATA + b"\n", "not byte for byte")
    fails(FULL_DATA.replace(b"\n", b"\r\n"), "not byte for byte")


def test_an_event_of_another_subject_is_caught_by_the_stream_check():
    bundle = make_bundle(FULL)
    for index, stream, purpose in [(17, "standing", PURPOSE), (15, "subject", None)]:
        theirs = bundle_event(Logged(index, stream, purpose, THEIRS[index]))
        events = sorted([*bundle.events, theirs], key=lambda e: e.leaf_index)
        number = events.index(theirs) + 1
        fails(
            resign(msgspec.structs.replace(bundle, events=events)),  # even when signed
            f"event {number}",
            f"not the {stream} stream of 'client-1'",
        )


def test_an_event_relabelled_to_another_stream_is_caught():
    bundle = make_bundle(FULL)
    for number, changes in [
        (3, {"purpose": PURPOSE}),  # the subject stream has no purpose
        (4, {"purpose": OTHER_PURPOSE}),  # the photo standing called the newsletter one
        (4, {"purpose": None}),
        (4, {"stream": "purpose"}),
        (1, {"stream": "standing"}),
    ]:
        fails(resign(replace_event(bundle, number, **changes)), f"event {number}", "stream")


def test_an_event_outside_the_query_s_purpose_is_caught():
    bundle = make_bundle(NARROW)
    for entry in (OURS[1], OURS[5]):  # the newsletter's register entry and standing
        assert entry.purpose == OTHER_PURPOSE
        events = sorted([*bundle.events, bundle_event(entry)], key=lambda e: e.leaf_index)
        number = [e.leaf_index for e in events].index(entry.index) + 1
        fails(
            resign(msgspec.structs.replace(bundle, events=events)),
            f"event {number}",
            "purpose 'newsletter' is outside the query",
        )


def test_an_event_outside_the_query_s_period_is_caught():
    bundle = make_bundle(NARROW)
    withdrawn = bundle_event(OURS[7])
    assert withdrawn.recorded_at == "2026-03-01T14:00:00.000001Z"
    fails(
        resign(msgspec.structs.replace(bundle, events=[*bundle.events, withdrawn])),
        "event 5",
        "outside the query's period",
    )
    # The period bounds are inclusive; a microsecond too late is outside.
    given_at = bundle.events[3].recorded_at
    assert given_at == "2026-01-05T10:00:00.000001Z"
    exact = BundleQuery(subject_ref=SUBJECT, purpose=PURPOSE, recorded_to=given_at)
    assert verify(resign(msgspec.structs.replace(bundle, query=exact))).events == 4
    early = BundleQuery(subject_ref=SUBJECT, purpose=PURPOSE, recorded_to="2026-01-05T10:00:00Z")
    fails(resign(msgspec.structs.replace(bundle, query=early)), "event 4", "period")
    late = BundleQuery(subject_ref=SUBJECT, recorded_from="2026-01-05T10:00:00.000002+00:00")
    fails(resign(msgspec.structs.replace(bundle, query=late)), "event 3", "period")


def test_subject_and_register_events_are_not_limited_by_the_period():
    query = BundleQuery(subject_ref=SUBJECT, recorded_from="2026-03-01T00:00:00+00:00")
    bundle = make_bundle(query)
    assert [e.leaf_index for e in bundle.events] == [0, 1, 6, 30]
    assert verify(render(bundle)).events == 4


def test_a_file_that_is_no_bundle_is_refused():
    for data in (b"", b"not json", b"{}", b"[]", b"null", b'{"format": 1}', FULL_DATA[:100]):
        fails(data, "not a bundle")
    fails(FULL_DATA.replace(b'"tenant": "demo"', b'"tenant": "demo", "extra": 1', 1))
    fails(b"\xff" + FULL_DATA[1:])


# -- bundles that verify must never crash the verifier --------------------------------------------


def crafted_canonical(number: int, edit) -> bytes:
    """The full bundle, re-signed, with event ``number``'s canonical text edited as JSON
    and kept in RFC 8785 form (an exporter or forger with the key)."""
    bundle = make_bundle(FULL)
    event = json.loads(bundle.events[number - 1].canonical)
    edit(event)
    return resign(replace_event(bundle, number, canonical=canonical_json(event).decode()))


def crafted_query(**fields: object) -> bytes:
    bundle = make_bundle(NARROW)
    return resign(
        msgspec.structs.replace(bundle, query=msgspec.structs.replace(bundle.query, **fields))
    )


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(
            lambda: crafted_canonical(2, lambda e: e.update(topic=5)),
            id="topic-is-a-number",
        ),
        pytest.param(
            lambda: crafted_canonical(2, lambda e: e.update(originator_id=5)),
            id="originator-id-is-a-number",
        ),
        pytest.param(
            lambda: crafted_query(recorded_from="2026-01-01 at noon"),
            id="period-is-no-time",
        ),
        pytest.param(
            lambda: crafted_query(recorded_to="2026-02-01T00:00:00"),
            id="period-without-offset",
        ),
        pytest.param(lambda: crafted_canonical(2, lambda e: e.update(state=[])), id="state-list"),
        pytest.param(
            lambda: crafted_canonical(2, lambda e: e.update(originator_version=[2])),
            id="version-is-a-list",
        ),
        pytest.param(
            lambda: crafted_canonical(2, lambda e: e.update(originator_version="1")),
            id="version-is-a-string",
        ),
        pytest.param(
            lambda: crafted_canonical(2, lambda e: e.update(originator_version=1.5)),
            id="version-is-a-fraction",
        ),
        pytest.param(
            lambda: crafted_canonical(2, lambda e: e.update(originator_id="x")),
            id="originator-id-no-uuid",
        ),
        pytest.param(lambda: crafted_canonical(2, lambda e: e.pop("topic")), id="no-topic"),
        pytest.param(
            lambda: crafted_canonical(2, lambda e: e["state"].pop("timestamp")),
            id="no-timestamp",
        ),
    ],
)
def test_a_malformed_but_well_spelled_bundle_is_a_bundle_error(make):
    data = make()
    assert render(msgspec.json.decode(data, type=Bundle)) == data  # it passes the spelling check
    with pytest.raises(BundleError):
        verify(data)
