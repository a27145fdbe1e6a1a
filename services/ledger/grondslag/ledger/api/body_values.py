"""The request bodies' forms of the values that events hold — a consent's evidence (R7), a
purpose's privacy notice and erasure hold (R22) — their texts checked as every request's are
(``Line``: no control characters; bad input, 422 naming the field), and the value each
becomes. The events keep the domain's own types (``domain.values``), so that one recorded
before the check is read as it was recorded."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from ..domain.values import (
    Basis,
    ErasureHold,
    Evidence,
    Line,
    Matter,
    Notice,
    PurposeTerms,
    RequestUrl,
    Retention,
    Sha256,
    SpecialCategory,
    Term,
    Text,
)


class EvidenceCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Where the proof of a statement lies (R7): a document reference and its hash."""

    document_ref: Line
    sha256: Sha256 | None = None


class NoticeCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The privacy-notice text a person is shown: its version, where it is, its hash."""

    version: Line
    url: RequestUrl
    sha256: Sha256


class ErasureHoldCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """R22: the register states that this purpose's data may not be erased within a term."""

    term: Term
    reason: Line
    starts: Literal["basis_end", "collection"] = "basis_end"


class PurposeTermsCreate(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """One version of a purpose for the art. 30 register (``PurposeTerms``), as sent."""

    title: Line
    basis: Basis
    notice: NoticeCreate
    special_categories: tuple[SpecialCategory, ...] = ()
    special_condition: Line | None = None
    legal_provision: Line | None = None
    matter: Matter = "other"
    direct_marketing: bool = False
    minor_may_consent: bool = False
    survives_authority_end: bool = False
    recipients: tuple[Line, ...] = ()
    retention: Retention | None = None
    legitimate_interest_assessment: Text | None = None
    erasure_hold: ErasureHoldCreate | None = None
    destroy_on_request: bool = False
    shared_file: bool = False


_VALUE_OF: dict[type, type] = {
    EvidenceCreate: Evidence,
    NoticeCreate: Notice,
    ErasureHoldCreate: ErasureHold,
    PurposeTermsCreate: PurposeTerms,
}


def value_of(given: Any) -> Any:
    """The domain's value of what a request gave: one of these forms becomes the value it
    stands for; anything else is itself."""
    kind = next((v for t, v in _VALUE_OF.items() if isinstance(given, t)), None)
    return given if kind is None else msgspec.convert(given, kind, from_attributes=True)


def values_of(data: msgspec.Struct) -> dict[str, Any]:
    """A request's fields by name, each as the domain's value (``value_of``)."""
    return {name: value_of(value) for name, value in msgspec.structs.asdict(data).items()}
