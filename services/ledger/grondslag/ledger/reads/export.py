"""Everything the ledger holds about one subject (GDPR art. 15), with what the subject
provided and every consent with its evidence marked as portable (art. 20).

One fold, as everywhere: each purpose's standing now is ``Dossier.standing(now, now)``,
its records are the evidence (R7) of every event of its standing, and the register's terms
say what for, on which basis, which data, which recipients and how long. The personal data
is unsealed with the subject's own key; it is null once the key is destroyed (erased).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

import asyncpg
import msgspec

from ..domain.controller import Controller, ControllerIdentity
from ..domain.dossier import Dossier
from ..domain.errors import NotFound
from ..domain.evidence import EvidenceRecord, evidence_records
from ..domain.ids import controller_id, subject_id
from ..domain.recorded_order import not_before
from ..domain.request_answer import request_answer
from ..domain.request_values import RequestAnswer
from ..domain.standing_at import StandingAnswer
from ..domain.subject import Subject
from ..domain.values import (
    BasisEnd,
    Consent,
    Establishment,
    Lapse,
    Objection,
    ObjectionDecision,
    PurposeTerms,
    Representation,
    RepresentationEnd,
    Restriction,
    RestrictionLift,
    Withdrawal,
)
from ..persistence import dossiers
from .history import HistoryEvent, subject_history
from .streams import stream_ids

FORMAT: Literal["grondslag-subject-export/1"] = "grondslag-subject-export/1"


class PersonalDataVersion(msgspec.Struct, kw_only=True):
    """The personal data as recorded at ``recorded_at`` (a rectification adds a version)."""

    recorded_at: datetime
    birth_date: date | None = None
    email: str | None = None


class PersonalDataExport(msgspec.Struct, kw_only=True):
    """What the ledger holds of the subject in person: provided by the subject (art. 20)."""

    portable: bool = True
    destroyed: bool  # the key was destroyed (R22): only what holds kept can still be read
    birth_date: date | None = None
    email: str | None = None
    history: list[PersonalDataVersion] = msgspec.field(default_factory=list)


class RepresentationExport(msgspec.Struct, kw_only=True):
    """Someone registered as able to act for the subject (R15, R16)."""

    representation: Representation
    recorded_at: datetime
    ends_at: datetime | None = None
    end: RepresentationEnd | None = None


class PortableRecord(EvidenceRecord, kw_only=True, omit_defaults=True):
    """One event of a purpose with its evidence (R7); ``portable`` marks a consent (art. 20)."""

    portable: bool = False


class PurposeExport(msgspec.Struct, kw_only=True):
    """One purpose the ledger keeps a standing of for the subject: the register's terms
    (what for, basis, data, recipients, retention), the standing now and every record."""

    code: str
    title: str
    terms: PurposeTerms  # the register's version in force now
    register_version: int
    standing: StandingAnswer
    consents: list[PortableRecord]
    withdrawals: list[PortableRecord]
    bases: list[PortableRecord]
    objections: list[PortableRecord]
    restrictions: list[PortableRecord]
    lapses: list[PortableRecord]


class Portability(msgspec.Struct, kw_only=True):
    """Art. 20: what the subject provided (personal data) and every consent with its
    evidence, in a structured, machine-readable form."""

    personal_data: PersonalDataExport
    consents: list[PortableRecord]


class SubjectExport(msgspec.Struct, kw_only=True):
    """Everything the ledger holds about one subject (art. 15), generated at
    ``generated_at``; the parts marked portable (and ``portability``) are art. 20's."""

    format: Literal["grondslag-subject-export/1"] = FORMAT
    tenant: str
    subject_ref: str
    generated_at: datetime
    controller: ControllerIdentity | None
    personal_data: PersonalDataExport
    representations: list[RepresentationExport]
    purposes: list[PurposeExport]
    requests: list[RequestAnswer]  # the subject's data-subject requests (R23), as folded now
    portability: Portability
    events: list[HistoryEvent]


async def subject_export(
    pool: asyncpg.Pool, tenant: str, subject_ref: str, now: datetime
) -> SubjectExport:
    """The export of ``subject_ref`` now; 404 when the subject is not registered."""
    codes = [code for _, code in await stream_ids(pool, tenant, "standing", subject_ref) if code]
    requests = [stream for stream, _ in await stream_ids(pool, tenant, "request", subject_ref)]
    ids = [*dossiers.dossier_ids(tenant, subject_ref, codes), controller_id(tenant), *requests]
    streams = await dossiers.load(pool, ids)
    subject: Subject | None = streams.get(subject_id(tenant, subject_ref))
    if subject is None:
        raise NotFound(f"subject {subject_ref!r} is not registered")
    events = await subject_history(pool, tenant, subject_ref)
    # "now" is never before what the streams recorded (``Dossier.present``)
    now = not_before(now, [stream.modified_on for stream in map(streams.get, ids) if stream])
    controller: Controller | None = streams.get(controller_id(tenant))
    identity = controller.at(now, now) if controller else None
    first = streams.dossier(tenant, subject_ref, codes[0] if codes else "")
    personal = _personal_data(first, subject)
    purposes = [
        _purpose(dossier, now)
        for code in codes
        if (dossier := streams.dossier(tenant, subject_ref, code)).register is not None
    ]
    return SubjectExport(
        tenant=tenant,
        subject_ref=subject_ref,
        generated_at=now,
        controller=identity.identity if identity else None,
        personal_data=personal,
        representations=[
            RepresentationExport(
                representation=r.representation,
                recorded_at=r.recorded_at,
                ends_at=r.ends_at,
                end=r.end,
            )
            for r in subject.representations.values()
        ],
        purposes=purposes,
        requests=sorted(
            (
                request_answer(streams.get(stream), now)
                for stream in requests
                if streams.get(stream)
            ),
            key=lambda r: (r.received_at, r.request_id),
        ),
        portability=Portability(
            personal_data=personal, consents=[c for p in purposes for c in p.consents]
        ),
        events=events,
    )


def _personal_data(dossier: Dossier, subject: Subject) -> PersonalDataExport:
    """Every version that can still be read; after an erasure (R22) only what its holds
    kept, sealed anew, can be — every earlier version is gone with the destroyed key."""
    versions, unreadable = [], False
    for recorded_at, sealed in subject.sealed_history:
        data = dossier.unseal(sealed) if sealed else None
        if data is None:
            unreadable = True
            continue
        versions.append(
            PersonalDataVersion(
                recorded_at=recorded_at, birth_date=data.birth_date, email=data.email
            )
        )
    latest = dossier.unseal(subject.sealed_personal_data) if subject.sealed_personal_data else None
    return PersonalDataExport(
        destroyed=bool(subject.erasures) or unreadable,
        birth_date=latest.birth_date if latest else None,
        email=latest.email if latest else None,
        history=versions,
    )


_KINDS: dict[type, str] = {
    Consent: "consents",
    Withdrawal: "withdrawals",
    Establishment: "bases",
    BasisEnd: "bases",
    Objection: "objections",
    ObjectionDecision: "objections",
    Restriction: "restrictions",
    RestrictionLift: "restrictions",
    Lapse: "lapses",
}


def _purpose(dossier: Dossier, now: datetime) -> PurposeExport:
    assert dossier.register is not None
    facts = dossier.facts
    records = evidence_records([str(f.event_id) for f in facts], facts, dossier.versions)
    kinds: dict[str, list[PortableRecord]] = {kind: [] for kind in set(_KINDS.values())}
    for fact, record in zip(facts, records, strict=True):
        kind = _KINDS.get(type(fact.statement))
        if kind is not None:
            portable = isinstance(fact.statement, Consent)
            kinds[kind].append(PortableRecord(**msgspec.structs.asdict(record), portable=portable))
    in_force = [v for v in dossier.versions if v.effective_at <= now] or dossier.versions[:1]
    version = in_force[-1]
    return PurposeExport(
        code=dossier.purpose,
        title=version.terms.title,
        terms=version.terms,
        register_version=version.number,
        standing=dossier.standing(now, now),
        **kinds,
    )
