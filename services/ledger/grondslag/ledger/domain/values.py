"""Value types shared by events, commands and answers (msgspec Structs, immutable)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

Basis = Literal[
    "consent",
    "contract",
    "legal_obligation",
    "vital_interests",
    "public_task",
    "legitimate_interest",
]
Method = Literal[
    "written",
    "email",
    "signed_electronic",
    "web_form",
    "verbal",
    "double_opt_in",
    "unsubscribe_link",
]
Matter = Literal["care", "property", "other"]
Status = Literal["lawful", "restricted", "pending", "lapsed", "none"]
LapseReason = Literal[
    "withdrawn",
    "expired",
    "subject_reached_age_of_consent",
    "representative_authority_ended",
    "notice_revised",
    "objection",
    "basis_ended",
    "retention_expired",
    "erased",
    "restricted",
]
RepresentativeKind = Literal[
    "parental_authority",
    "guardian",
    "curator",
    "mentor",
    "administrator",
    "authorised_person",
]
SpecialCategory = Literal[
    "health",
    "religion",
    "sexual_life",
    "ethnicity",
    "political_opinion",
    "union_membership",
    "genetic",
    "biometric",
    "criminal",
    "bsn",
]

Instant = Annotated[datetime, msgspec.Meta(tz=True, description="RFC 3339 with offset")]
Sha256 = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}(?!\n)$", description="hex SHA-256")]
ShortText = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
LongText = Annotated[str, msgspec.Meta(min_length=1, max_length=10_000)]
# What a request may send as text: a line holds no control character (C0, DEL, C1), no
# line or paragraph separator (U+2028, U+2029: a line break to many a page and terminal) and
# no bidirectional embedding, override or isolate (U+202A-U+202E, U+2066-U+2069, which make
# a text read in another order than it is stored: CVE-2021-42574); a text none of those but
# tabs and line breaks (bad input: 422 naming the field). The API's request types use these;
# what events hold stays ShortText and LongText, so that an event recorded before the check
# is read as it was recorded.
_BIDI = r"\u202a-\u202e\u2066-\u2069"
LINE_PATTERN = rf"^[^\x00-\x1f\x7f-\x9f\u2028\u2029{_BIDI}]*(?!\n)$"
TEXT_PATTERN = rf"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_BIDI}]*$"
Line = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=200,
        pattern=LINE_PATTERN,
        description="one line: no control characters, line separators or direction overrides",
    ),
]
Text = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=10_000,
        pattern=TEXT_PATTERN,
        description="no control characters (but tabs and line breaks) or direction overrides",
    ),
]
Term = Annotated[
    str,
    msgspec.Meta(pattern=r"^P(?=\d)(\d+Y)?(\d+M)?(\d+D)?(?!\n)$", description="ISO 8601 term"),
]
Url = Annotated[str, msgspec.Meta(pattern=r"^https?://\S+(?!\n)$", max_length=2048)]
URL_PATTERN = r"^https?://[^\s\x00-\x1f\x7f-\x9f]+(?!\n)$"
RequestUrl = Annotated[
    str,
    msgspec.Meta(pattern=URL_PATTERN, max_length=2048, description="an http(s) URL"),
]
Code = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9-]{1,64}(?!\n)$", description="purpose code")]
Ref = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[A-Za-z0-9._:@-]{1,128}(?!\n)$", description="the practice's own opaque id"
    ),
]


class Notice(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The privacy-notice text a person was shown: its version, where it is, its hash."""

    version: ShortText
    url: Url
    sha256: Sha256


class Evidence(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Where the proof of a statement lies (R7): a document reference and its hash."""

    document_ref: ShortText
    sha256: Sha256 | None = None


class Retention(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How long data is kept after the basis ends (R21): an ISO 8601 term and its start."""

    term: Term
    starts: Literal["basis_end", "collection"] = "basis_end"


class ErasureHold(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """R22: the register states that this purpose's data may not be erased within a term
    (e.g. MfN mediation files: 18 months after the mediation ended)."""

    term: Term
    reason: ShortText
    starts: Literal["basis_end", "collection"] = "basis_end"


class PurposeTerms(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One version of a purpose in the art. 30 register."""

    title: ShortText
    basis: Basis
    notice: Notice
    special_categories: tuple[SpecialCategory, ...] = ()
    special_condition: ShortText | None = None
    legal_provision: ShortText | None = None
    matter: Matter = "other"
    direct_marketing: bool = False
    minor_may_consent: bool = False
    survives_authority_end: bool = False
    recipients: tuple[ShortText, ...] = ()
    retention: Retention | None = None
    legitimate_interest_assessment: LongText | None = None
    # R22 (optional, so that purposes registered before still decode): a hold on erasure,
    # a WGBO file the patient may have destroyed before its retention ends (BW 7:455), a file
    # shared by several clients that only a joint request of all of them may erase
    erasure_hold: ErasureHold | None = None
    destroy_on_request: bool = False
    shared_file: bool = False


class PersonalData(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The little personal data the ledger keeps; stored sealed with the subject's own key."""

    birth_date: date | None = None
    email: Annotated[str, msgspec.Meta(max_length=320)] | None = None


class Consent(msgspec.Struct, frozen=True, tag="consent"):
    """A consent as given: who, how, under which notice, with what proof (R7)."""

    method: Method
    explicit: bool
    notice_version: str
    purpose_version: int
    evidence: Evidence
    effective_at: datetime
    recorded_by: str
    representative_ref: str | None = None
    capacity: RepresentativeKind | None = None
    expires_at: datetime | None = None


class Withdrawal(msgspec.Struct, frozen=True, tag="withdrawal"):
    """A withdrawal of consent as it reached the practice (R8)."""

    method: Method
    effective_at: datetime
    recorded_by: str
    representative_ref: str | None = None
    capacity: RepresentativeKind | None = None


class Representation(msgspec.Struct, frozen=True, kw_only=True):
    """Who may act for a subject, in which capacity, for how long, on what evidence (R15, R16)."""

    representative_ref: str
    kind: RepresentativeKind
    valid_from: datetime
    evidence: Evidence
    valid_until: datetime | None = None
    purposes: tuple[str, ...] = ()
    subject_competent_for: tuple[Matter, ...] = ()


class RepresentationEnd(msgspec.Struct, frozen=True, kw_only=True):
    """A representation ended (court decision, death, the subject came of age…)."""

    representative_ref: str
    effective_at: datetime
    reason: str


class Giver(msgspec.Struct, frozen=True, omit_defaults=True):
    """Who gave a consent: the subject, or a representative in a capacity."""

    party: Literal["subject", "representative"]
    representative_ref: str | None = None
    capacity: RepresentativeKind | None = None


class Establishment(msgspec.Struct, frozen=True, kw_only=True, tag="basis"):
    """A non-consent basis took effect for a subject: a contract, a legal obligation, …"""

    basis: Basis
    reference: str
    effective_at: datetime
    recorded_by: str | None = None
    opt_out_offered: bool = False
    file_ref: str | None = None  # R22: the shared file (of a ``shared_file`` purpose) it is in


class BasisEnd(msgspec.Struct, frozen=True, kw_only=True, tag="basis_end"):
    """The basis ended (the contract ended, the obligation no longer applies); R21."""

    effective_at: datetime
    reason: str
    recorded_by: str | None = None


class Objection(msgspec.Struct, frozen=True, kw_only=True, tag="objection"):
    """The subject objected (art. 21): absolute for direct marketing (R17), else R18."""

    grounds: str
    effective_at: datetime
    recorded_by: str | None = None


class ObjectionDecision(msgspec.Struct, frozen=True, kw_only=True, tag="decision"):
    """The controller decided an objection: upheld, or rejected on compelling grounds (R18)."""

    upheld: bool
    reasons: str
    effective_at: datetime
    recorded_by: str | None = None


class Restriction(msgspec.Struct, frozen=True, kw_only=True, tag="restriction"):
    """The subject had processing restricted (art. 18, "afschermen"): stored, not otherwise
    processed, until it is lifted (R24)."""

    reasons: str
    effective_at: datetime
    recorded_by: str | None = None
    request_id: str | None = None  # the data-subject request it answers, if any


class RestrictionLift(msgspec.Struct, frozen=True, kw_only=True, tag="restriction_lift"):
    """A restriction in force was lifted (art. 18(3): the subject is told beforehand)."""

    reasons: str
    effective_at: datetime
    recorded_by: str | None = None


class Lapse(msgspec.Struct, frozen=True, kw_only=True, tag="lapse"):
    """The ledger noticed that time alone ended the standing (expiry, 16th birthday, end of a
    representation, notice revision, end of retention). A record of noticing: the standing
    already follows from the other facts, so folding ignores it."""

    reason: LapseReason
    effective_at: datetime


class LegalClaim(msgspec.Struct, frozen=True, kw_only=True):
    """R22: a legal claim (art. 17(3)(e)) for which a purpose's data must be kept: a
    reference to the case, not its contents (the log keeps it after erasure)."""

    claim_ref: str
    purpose: str
    reference: str
    effective_at: datetime
    until: datetime | None = None
    recorded_by: str | None = None


class LegalClaimEnd(msgspec.Struct, frozen=True, kw_only=True):
    """The legal claim was settled, decided or dropped: it no longer holds erasure."""

    claim_ref: str
    effective_at: datetime
    reason: str
    recorded_by: str | None = None


HoldKind = Literal["retention", "legal_claim", "purpose_hold", "shared_file"]


class Hold(msgspec.Struct, frozen=True, kw_only=True):
    """R22: why a purpose's data may not be erased now, and until when (None: until
    something else happens first, e.g. the contract ends or the other parties join)."""

    purpose: str
    kind: HoldKind
    reason: str
    until: datetime | None = None
    parties: tuple[str, ...] = ()  # shared_file: who must join the request


class Erasure(msgspec.Struct, frozen=True, kw_only=True):
    """R22: what one erasure erased and what it left held."""

    effective_at: datetime
    recorded_by: str
    complete: bool
    erased: tuple[str, ...] = ()  # purposes whose data may go
    held: tuple[Hold, ...] = ()
    kept: tuple[Literal["birth_date", "email"], ...] = ()  # fields sealed anew for the holds
    request_id: str | None = None
    joint_with: tuple[str, ...] = ()
    reasons: str | None = None
