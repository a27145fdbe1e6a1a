"""The register of processing (art. 30): register, list, read and revise purposes."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from ..application import Ledger, utcnow
from ..domain.errors import NotFound
from ..domain.ids import purpose_id
from ..domain.preconditions import entity_tag
from ..domain.purpose import Purpose
from ..domain.values import (
    Basis,
    Code,
    Instant,
    Line,
    Matter,
    Notice,
    PurposeTerms,
    Retention,
    SpecialCategory,
    Text,
)
from ..reads import paging
from ..reads.streams import load_aggregates, purpose_page
from ..web import READERS, CodePath, answers
from .auth import requires
from .body_values import ErasureHoldCreate, NoticeCreate, PurposeTermsCreate, value_of, values_of
from .paging import NEXT_LINK, Cursor, Limit, paged
from .positions import reading
from .preconditions import (
    ETAG,
    NOT_MODIFIED,
    IfMatch,
    IfNoneMatch,
    conditions,
    tagged,
)


class PurposeCreate(PurposeTermsCreate, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """A new entry for the register."""

    code: Code
    effective_at: Instant | None = None


class PurposeRevisionCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A revision: ``material`` (R10) plus the fields that change."""

    material: bool
    effective_at: Instant | None = None
    title: Line | msgspec.UnsetType = msgspec.UNSET
    basis: Basis | msgspec.UnsetType = msgspec.UNSET
    notice: NoticeCreate | msgspec.UnsetType = msgspec.UNSET
    special_categories: tuple[SpecialCategory, ...] | msgspec.UnsetType = msgspec.UNSET
    special_condition: Line | msgspec.UnsetType | None = msgspec.UNSET
    legal_provision: Line | msgspec.UnsetType | None = msgspec.UNSET
    matter: Matter | msgspec.UnsetType = msgspec.UNSET
    direct_marketing: bool | msgspec.UnsetType = msgspec.UNSET
    minor_may_consent: bool | msgspec.UnsetType = msgspec.UNSET
    survives_authority_end: bool | msgspec.UnsetType = msgspec.UNSET
    recipients: tuple[Line, ...] | msgspec.UnsetType = msgspec.UNSET
    retention: Retention | msgspec.UnsetType | None = msgspec.UNSET
    legitimate_interest_assessment: Text | msgspec.UnsetType | None = msgspec.UNSET
    erasure_hold: ErasureHoldCreate | msgspec.UnsetType | None = msgspec.UNSET
    destroy_on_request: bool | msgspec.UnsetType = msgspec.UNSET
    shared_file: bool | msgspec.UnsetType = msgspec.UNSET


class PurposeVersionOut(msgspec.Struct, kw_only=True):
    version: int
    material: bool
    effective_at: datetime
    recorded_at: datetime
    notice: Notice


class PurposeOut(PurposeTerms, kw_only=True, frozen=True):
    """A purpose as the register holds it now, with its version history."""

    code: str
    version: int
    effective_at: datetime
    recorded_at: datetime
    versions: list[PurposeVersionOut]


class PurposeList(msgspec.Struct):
    """One page of the register by code; ``next`` is the cursor of the next page, null on
    the last."""

    purposes: list[PurposeOut]
    next: str | None = None


def purpose_out(purpose: Purpose) -> PurposeOut:
    latest = purpose.latest
    return PurposeOut(
        **msgspec.structs.asdict(latest.terms),
        code=purpose.code,
        version=latest.number,
        effective_at=latest.effective_at,
        recorded_at=latest.recorded_at,
        versions=[
            PurposeVersionOut(
                version=v.number,
                material=v.material,
                effective_at=v.effective_at,
                recorded_at=v.recorded_at,
                notice=v.terms.notice,
            )
            for v in purpose.versions
        ],
    )


class PurposeController(Controller):
    path = "/v1/purposes"
    tags = ["register"]

    @post(
        operation_id="registerPurpose",
        guards=[requires("admin")],
        opt=answers(409, location="/v1/purposes/{code}"),
        sync_to_thread=True,
        summary="Register a purpose (art. 30)",
    )
    def register(
        self, request: Request, data: JSONBody[PurposeCreate], ledger: NamedDependency[Ledger]
    ) -> Response[PurposeOut]:
        terms: PurposeTerms = value_of(data)
        effective_at = data.effective_at or utcnow()
        purpose = ledger.register_purpose(request.user.tenant, data.code, terms, effective_at)
        return Response(
            purpose_out(purpose), status_code=201, headers={"Location": f"/v1/purposes/{data.code}"}
        )

    @get(
        opt=answers(headers={"Link": NEXT_LINK}),
        operation_id="listPurposes",
        guards=[requires(*READERS)],
        summary="The register by code, a page at a time",
    )
    async def list_purposes(
        self, request: Request, limit: Limit = paging.DEFAULT_LIMIT, cursor: Cursor = None
    ) -> Response[PurposeList]:
        after = paging.decode(cursor, str) if cursor else ""
        ids, found = await reading(request, _register_page, request.user.tenant, after, limit + 1)
        purposes = [purpose_out(found[pid]) for pid in ids[:limit] if pid in found]
        following = paging.encode(purposes[-1].code) if len(ids) > limit and purposes else None
        return paged(request, PurposeList(purposes, following), following)

    @get(
        "/{code:str}",
        operation_id="getPurpose",
        opt=answers(404, headers={"ETag": ETAG}),
        guards=[requires(*READERS)],
        summary="One purpose; its `ETag` is what a revision takes as `If-Match`",
        responses=NOT_MODIFIED,
    )
    async def get_purpose(
        self, request: Request, code: CodePath, if_none_match: IfNoneMatch = None
    ) -> Response[PurposeOut]:
        pid = purpose_id(request.user.tenant, code)
        found = await reading(request, load_aggregates, [pid])
        if pid not in found:
            raise NotFound(f"purpose {code!r} is not in the register")
        return tagged(purpose_out(found[pid]), entity_tag(found[pid].version), if_none_match)

    @post(
        "/{code:str}/revisions",
        operation_id="revisePurpose",
        opt=answers(404, 409, 412, 428),
        guards=[requires("admin")],
        sync_to_thread=True,
        summary="Revise a purpose (R10), given the `ETag` of the version revised as `If-Match` "
        "(428 without: whether a revision is material is judged against that version)",
    )
    def revise(
        self,
        request: Request,
        code: CodePath,
        data: JSONBody[PurposeRevisionCreate],
        ledger: NamedDependency[Ledger],
        if_match: IfMatch = None,
    ) -> PurposeOut:
        changes = {
            name: value
            for name, value in values_of(data).items()
            if value is not msgspec.UNSET and name not in ("material", "effective_at")
        }
        with conditions(if_match, required=True):
            purpose = ledger.revise_purpose(
                request.user.tenant, code, changes, data.material, data.effective_at or utcnow()
            )
        return purpose_out(purpose)


async def _register_page(
    pool: asyncpg.Pool, tenant: str, after: str, limit: int
) -> tuple[list[UUID], dict[UUID, Any]]:
    """The page's streams (one more than shown: is there a next page?) and the shown ones
    folded, from one database (the replica's or the primary's)."""
    ids = await purpose_page(pool, tenant, after, limit)
    return ids, await load_aggregates(pool, ids[: limit - 1])
