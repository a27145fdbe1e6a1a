"""Targeted forgeries of an export bundle, each caught by ``verify`` with a ``BundleError`` naming
the fault: changed canonical texts and fields that disagree with them, audit paths and leaf
indexes, checkpoints of another key, tree or tenant, an attacker's own bundle against the
pinned key, removed, reordered or foreign events, events relabelled or outside the query's
purpose or period, a reformatted bundle, and files that are no bundle."""

from __future__ import annotations

import base64
import json

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from grondslag.ledger.audit import checkpoints, merkle
from grondslag.ledger.audit.bundle import (
    BundleQuery,
    render,
    verify,
)
from grondslag.ledger.audit.signing import SigningKey
from grondslag.ledger.domain.ids import event_id, purpose_id

from bundle_support import (
    FULL,
    FULL_DATA,
    ISSUED,
    KEY,
    LEAVES,
    NARROW,
    OTHER_PURPOSE,
    OURS,
    PURPOSE,
    ROOT,
    SUBJECT,
    TENANT,
    THEIRS,
    TREE_SIZE,
    Logged,
    bundle_event,
    fails,
    make_bundle,
    replace_event,
    resign,
    unsigned,
)

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
