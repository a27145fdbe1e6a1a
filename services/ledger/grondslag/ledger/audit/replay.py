"""What applied at a past moment, folded from a verified bundle's events alone.

The bundle's canonical texts are the stored events, so the same domain code that answers
``GET …/standing/{purpose}`` answers here, offline: the register entries give the purpose
versions (notice URLs and hashes), the subject stream the representations, the standing
streams the facts. The subject's birth date is sealed with the subject's own key; a bundle
exported with ``personal_data=true`` carries that key, so that the age rules (R11–R14)
apply exactly as in the ledger. Without it, the birth date counts as unknown (as for an
adult), and ``Replayed.birth_date_known`` says so.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from ..domain.evidence import EvidenceRecord
from ..domain.ids import subject_id
from ..domain.standing_at import StandingAnswer
from ..persistence.dossiers import Streams
from ..persistence.mapper import decode_event
from .bundle import Bundle
from .canonical import canonical_json


class PurposeAnswer(msgspec.Struct, kw_only=True):
    purpose: str
    title: str
    answer: StandingAnswer
    evidence: list[EvidenceRecord]


class Replayed(msgspec.Struct, kw_only=True):
    at: datetime
    known_at: datetime
    birth_date_known: bool
    purposes: list[PurposeAnswer]


def replay(bundle: Bundle, at: datetime, known_at: datetime) -> Replayed:
    """The standing of every purpose in the bundle at ``at`` as known at ``known_at``."""
    streams: dict[UUID, Any] = {}
    kinds: dict[UUID, tuple[str, str | None]] = {}
    for event in bundle.events:
        parsed = json.loads(event.canonical)
        originator = UUID(parsed["originator_id"])
        domain_event = decode_event(
            parsed["topic"],
            canonical_json(parsed["state"]),
            originator,
            parsed["originator_version"],
        )
        streams[originator] = domain_event.mutate(streams.get(originator))
        kinds[originator] = (event.stream, event.purpose)
    tenant, subject_ref = bundle.tenant, bundle.query.subject_ref
    keys = {}
    if bundle.subject_key:
        keys[subject_id(tenant, subject_ref)] = base64.b64decode(bundle.subject_key)
    folded = Streams(streams, keys)
    answers = []
    for _, (kind, code) in sorted(kinds.items(), key=lambda item: item[1][1] or ""):
        if kind != "standing" or code is None:
            continue
        dossier = folded.dossier(tenant, subject_ref, code)
        if dossier.register is None:
            continue
        answer = dossier.standing(at, known_at)
        answers.append(
            PurposeAnswer(
                purpose=code,
                title=dossier.register.latest.terms.title,
                answer=answer,
                evidence=dossier.evidence(answer),
            )
        )
    known = bundle.subject_key is not None
    return Replayed(at=at, known_at=known_at, birth_date_known=known, purposes=answers)
