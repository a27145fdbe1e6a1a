"""R22 keeps old stored events decoding: the new fields (a purpose's ``erasure_hold``,
``destroy_on_request``, ``shared_file``; a basis's ``file_ref``) are optional, and payloads
stored before them decode with their defaults. Sealed bytes the current key cannot open
answer None only for an erased subject (``shredded``); otherwise they stay an error."""

from __future__ import annotations

from uuid import uuid4

import msgspec
import pytest
from cryptography.exceptions import InvalidTag

from grondslag.ledger.domain.purpose import Purpose
from grondslag.ledger.domain.standing import Standing
from grondslag.ledger.domain.values import PersonalData
from grondslag.ledger.persistence.mapper import decode_event
from grondslag.ledger.persistence.sealing import new_key, seal, unseal

OLD_PURPOSE = (
    b'{"timestamp":"2025-01-01T00:00:00+00:00","originator_topic":'
    b'"ledger.domain.purpose:Purpose","tenant":"t","code":"file","effective_at":'
    b'"2025-01-01T00:00:00+00:00","terms":{"title":"File","basis":"contract","notice":'
    b'{"version":"1","url":"https://x.example/1","sha256":"' + b"a" * 64 + b'"}}}'
)
OLD_BASIS = (
    b'{"timestamp":"2025-01-02T00:00:00+00:00","establishment":{"basis":"contract",'
    b'"reference":"c-1","effective_at":"2025-01-02T00:00:00+00:00","type":"basis"}}'
)


def test_r22_a_purpose_stored_before_the_erasure_terms_decodes_with_their_defaults():
    event = decode_event("ledger.domain.purpose:Purpose.Registered", OLD_PURPOSE, uuid4(), 1)
    terms = event.terms
    assert (terms.erasure_hold, terms.destroy_on_request, terms.shared_file) == (
        None,
        False,
        False,
    )


def test_r22_a_basis_stored_before_file_ref_decodes_without_one():
    event = decode_event("ledger.domain.standing:Standing.BasisEstablished", OLD_BASIS, uuid4(), 2)
    assert isinstance(event, Standing.BasisEstablished)
    assert event.establishment.file_ref is None


def test_r22_bytes_sealed_under_a_destroyed_key_answer_none_only_when_shredded():
    sid = uuid4()
    sealed = seal(new_key(), sid, PersonalData(email="old@example.nl"))
    fresh = new_key()
    assert unseal(fresh, sid, sealed, shredded=True) is None
    with pytest.raises(InvalidTag):
        unseal(fresh, sid, sealed)
    assert unseal(fresh, sid, b"", shredded=True) is None  # a complete erasure seals nothing


def test_r22_todays_payload_without_the_new_fields_decodes_to_the_same_event():
    """Stored by this version, the new fields stripped (as an older one stored it)."""
    from datetime import UTC, datetime

    from grondslag.ledger.domain.values import Notice, PurposeTerms
    from grondslag.ledger.persistence.mapper import MsgspecMapper

    notice = Notice(version="1", url="https://x.example/1", sha256="a" * 64)
    terms = PurposeTerms(title="File", basis="contract", notice=notice)
    purpose = Purpose.register("t", "file", terms, datetime(2025, 1, 1, tzinfo=UTC))
    (event,) = purpose.collect_events()
    stored = MsgspecMapper().to_stored_event(event)
    state = msgspec.json.decode(stored.state)
    for new in ("erasure_hold", "destroy_on_request", "shared_file"):
        assert new in state["terms"]
        del state["terms"][new]
    old = decode_event(stored.topic, msgspec.json.encode(state), stored.originator_id, 1)
    assert old == event
