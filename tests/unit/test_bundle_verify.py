"""Offline verification of an export bundle (ledger/audit/bundle.py), no database: the log the
bundles are built from is realistic, an honest bundle of the whole subject or of one purpose
and period verifies (also against the pinned key), the bundle's signature covers every member
but itself, and a malformed but well-spelled bundle is a ``BundleError``, never a crash (R7:
the proof lies with the practice, and it must stand up offline)."""

from __future__ import annotations

import json
from uuid import UUID

import msgspec
import pytest

from grondslag.ledger.audit.bundle import (
    Bundle,
    BundleError,
    digest,
    event_fields,
    render,
    signed_bytes,
    verify,
)
from grondslag.ledger.audit.canonical import canonical_json
from grondslag.ledger.domain.ids import event_id, standing_id

from bundle_support import (
    FULL,
    FULL_DATA,
    KEY,
    LOG,
    NARROW,
    NARROW_DATA,
    OURS,
    PURPOSE,
    ROOT,
    SUBJECT,
    TENANT,
    TREE_SIZE,
    make_bundle,
    replace_event,
    resign,
    selected,
)

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
