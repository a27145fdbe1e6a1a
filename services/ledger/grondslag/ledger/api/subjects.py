"""Subjects: create or update, their standing for every purpose or one, their history."""

from __future__ import annotations

from datetime import datetime

import msgspec
from litestar import Controller, Request, Response, get, put
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody

from ..application import Ledger, utcnow
from ..domain.standing_at import StandingAnswer
from ..domain.values import Instant, PersonalData
from ..reads.history import HistoryEvent, subject_history
from ..reads.standing import AuditedStanding, all_standings, one_standing
from ..web import READERS, CodePath, SubjectRef, answers
from .auth import requires
from .problems import aware


class SubjectPut(PersonalData, frozen=True, forbid_unknown_fields=True):
    """The personal data the ledger needs (birth date for age rules, e-mail for newsletters)."""


class SubjectOut(msgspec.Struct):
    subject_ref: str
    created: bool


class SubjectStanding(msgspec.Struct):
    subject_ref: str
    at: datetime
    purposes: list[StandingAnswer]


class History(msgspec.Struct):
    subject_ref: str
    events: list[HistoryEvent]


class SubjectController(Controller):
    path = "/v1/subjects/{subject_ref:str}"
    tags = ["subjects"]

    @put(
        operation_id="putSubject",
        opt=answers(409, successes={201: "Created: the subject is new"}),
        guards=[requires("writer", "admin")],
        sync_to_thread=True,
        summary="Create or update a subject (idempotent): 201 created, 200 updated",
    )
    def put_subject(
        self,
        request: Request,
        subject_ref: SubjectRef,
        data: JSONBody[SubjectPut],
        ledger: NamedDependency[Ledger],
    ) -> Response[SubjectOut]:
        personal = PersonalData(birth_date=data.birth_date, email=data.email)
        created = ledger.put_subject(request.user.tenant, subject_ref, personal)
        return Response(SubjectOut(subject_ref, created), status_code=201 if created else 200)

    @get(
        "/standing",
        operation_id="getStandings",
        opt=answers(404),
        guards=[requires(*READERS)],
        summary="Every purpose: lawful now, on which basis",
    )
    async def standings(self, request: Request, subject_ref: SubjectRef) -> SubjectStanding:
        now = utcnow()
        answers = await all_standings(request.app.state.pool, request.user.tenant, subject_ref, now)
        return SubjectStanding(subject_ref, now, answers)

    @get(
        "/standing/{purpose:str}",
        operation_id="getStanding",
        opt=answers(404),
        guards=[requires(*READERS)],
        summary="The bitemporal answer for one purpose: what applied at `at`, as known at "
        "`known_at`, with the full evidence (R7) of each event it rests on",
    )
    async def standing(
        self,
        request: Request,
        subject_ref: SubjectRef,
        purpose: CodePath,
        at: FromQuery[Instant | None] = None,
        known_at: FromQuery[Instant | None] = None,
    ) -> AuditedStanding:
        now = utcnow()
        return await one_standing(
            request.app.state.pool,
            request.user.tenant,
            subject_ref,
            purpose,
            aware("at", at) or now,
            aware("known_at", known_at) or now,
        )

    @get(
        "/history",
        operation_id="getHistory",
        opt=answers(404),
        guards=[requires(*READERS)],
        summary="Every event of the subject, in order",
    )
    async def history(self, request: Request, subject_ref: SubjectRef) -> History:
        events = await subject_history(request.app.state.pool, request.user.tenant, subject_ref)
        return History(subject_ref, events)
