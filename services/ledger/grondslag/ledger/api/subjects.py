"""Subjects: create or update, their version, their standing for every purpose or one,
their history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, cast
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, put
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody

from ..application import Ledger, utcnow
from ..domain.errors import NotFound
from ..domain.ids import subject_id
from ..domain.preconditions import entity_tag
from ..domain.standing_at import StandingAnswer
from ..domain.values import Instant, PersonalData
from ..reads import paging
from ..reads.held_standing import standing_answer
from ..reads.history import HistoryEvent, history_page
from ..reads.standing import AuditedStanding, all_standings
from ..reads.streams import load_aggregates
from ..web import READERS, CodePath, SubjectRef, answers
from .auth import requires
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
from .problems import aware

EMAIL = r"^[^@\s]{1,64}@[^@\s]{1,255}(?!\n)$"  # a sign-up's shape (api/newsletter.py), trimmed


class SubjectPut(PersonalData, frozen=True, forbid_unknown_fields=True):
    """The personal data the ledger needs (birth date for age rules, e-mail for newsletters).
    The address is checked here, on the way in, as a sign-up's is (one ``@``, no spaces), and
    not in ``PersonalData``: a stored event is read as it was recorded."""

    email: Annotated[str, msgspec.Meta(pattern=EMAIL, max_length=320)] | None = None


class SubjectOut(msgspec.Struct):
    subject_ref: str
    created: bool


class SubjectVersion(msgspec.Struct):
    """The subject's version, which its PUT takes as ``If-Match``; no personal data (that
    is read, and logged, in the export)."""

    subject_ref: str
    version: int
    registered_at: datetime
    erased: bool  # completely (R22): nothing more may be recorded


class SubjectStanding(msgspec.Struct):
    """What applied at ``at`` as known at ``known_at``, for every registered purpose."""

    subject_ref: str
    at: datetime
    known_at: datetime
    purposes: list[StandingAnswer]


class History(msgspec.Struct):
    """One page of the subject's events in the order recorded; ``next`` is the cursor of
    the next page, null on the last."""

    subject_ref: str
    events: list[HistoryEvent]
    next: str | None = None


class SubjectController(Controller):
    path = "/v1/subjects/{subject_ref:str}"
    tags = ["subjects"]

    @put(
        operation_id="putSubject",
        opt=answers(409, 412, successes={201: "Created: the subject is new"}),
        guards=[requires("writer", "admin")],
        sync_to_thread=True,
        summary="Create or update a subject (idempotent): 201 created, 200 updated; "
        "`If-Match` with its `ETag` updates only that version, `If-None-Match: *` creates only",
    )
    def put_subject(
        self,
        request: Request,
        subject_ref: SubjectRef,
        data: JSONBody[SubjectPut],
        ledger: NamedDependency[Ledger],
        if_match: IfMatch = None,
        if_none_match: IfNoneMatch = None,
    ) -> Response[SubjectOut]:
        personal = PersonalData(birth_date=data.birth_date, email=data.email)
        with conditions(if_match, if_none_match):
            created = ledger.put_subject(request.user.tenant, subject_ref, personal)
        return Response(SubjectOut(subject_ref, created), status_code=201 if created else 200)

    @get(
        operation_id="getSubject",
        opt=answers(404, headers={"ETag": ETAG}),
        guards=[requires(*READERS)],
        summary="The subject's version (its `ETag`, which its PUT takes as `If-Match`), "
        "without personal data",
        responses=NOT_MODIFIED,
    )
    async def get_subject(
        self, request: Request, subject_ref: SubjectRef, if_none_match: IfNoneMatch = None
    ) -> Response[SubjectVersion]:
        sid = subject_id(request.user.tenant, subject_ref)
        subject = (await reading(request, load_aggregates, [sid])).get(sid)
        if subject is None:
            raise NotFound(f"subject {subject_ref!r} is not registered")
        answer = SubjectVersion(
            subject_ref, subject.version, subject.created_on, subject.erased_completely
        )
        return tagged(answer, entity_tag(subject.version), if_none_match)

    @get(
        "/standing",
        operation_id="getStandings",
        opt=answers(404),
        guards=[requires(*READERS)],
        summary="Every registered purpose: what applied at `at`, as known at `known_at` (both "
        "now when left out), on which basis",
    )
    async def standings(
        self,
        request: Request,
        subject_ref: SubjectRef,
        at: FromQuery[Instant | None] = None,
        known_at: FromQuery[Instant | None] = None,
    ) -> SubjectStanding:
        folded_at, folded_known_at, answers = await reading(
            request,
            all_standings,
            request.user.tenant,
            subject_ref,
            aware("at", at),
            aware("known_at", known_at),
            utcnow(),
        )
        return SubjectStanding(subject_ref, folded_at, folded_known_at, answers)

    @get(
        "/standing/{purpose:str}",
        operation_id="getStanding",
        opt=answers(404, headers={"ETag": ETAG}),
        guards=[requires(*READERS)],
        summary="The bitemporal answer for one purpose: what applied at `at`, as known at "
        "`known_at`, with the full evidence (R7) of each event it rests on; its `ETag` is "
        "what the standing's writes take as `If-Match`",
        responses=NOT_MODIFIED,
    )
    async def standing(
        self,
        request: Request,
        subject_ref: SubjectRef,
        purpose: CodePath,
        at: FromQuery[Instant | None] = None,
        known_at: FromQuery[Instant | None] = None,
        if_none_match: IfNoneMatch = None,
    ) -> Response[AuditedStanding]:
        answer, tag = await reading(
            request,
            standing_answer,
            request.user.tenant,
            subject_ref,
            purpose,
            aware("at", at),
            aware("known_at", known_at),
            utcnow(),
        )
        # an answer as of now changes with the clock alone (a consent expires, a child turns
        # 16): only one at a given `at` and `known_at` is fixed by the streams' versions;
        # one the read model held comes rendered already (its bytes are served as they are)
        fixed = at is not None and known_at is not None
        return cast(Response[AuditedStanding], tagged(answer, tag, if_none_match, fixed=fixed))

    @get(
        "/history",
        operation_id="getHistory",
        opt=answers(404, headers={"Link": NEXT_LINK}),
        guards=[requires(*READERS)],
        summary="Every event of the subject, in the order recorded, a page at a time",
    )
    async def history(
        self,
        request: Request,
        subject_ref: SubjectRef,
        limit: Limit = paging.DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Response[History]:
        after = paging.decode(cursor, tuple[UUID, int]) if cursor else None
        events, last = await reading(
            request, history_page, request.user.tenant, subject_ref, after, limit
        )
        following = paging.encode(last) if last is not None else None
        return paged(request, History(subject_ref, events, following), following)
