"""The auditor's pages: one subject's standings with timelines on both time axes, "as of"
a date; its verifiable export bundle; each event's inclusion proof.

Server-rendered, no scripts. Every page but the sign-in form needs the auditor's session
(``session.signed_in_auditor``, the router's one guard). Dates of the picker are calendar
dates in Europe/Amsterdam; "as of" a date means at the end of that day.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote
from uuid import UUID

import msgspec
from litestar import Request, Response, Router, get
from litestar.params import FromPath, FromQuery, Parameter
from litestar.response import Redirect

from ..application import utcnow
from ..domain.errors import InvalidInput, NotFound
from ..persistence import access_log
from ..persistence.actors import key_actor
from ..reads import audit
from ..reads.history import standing_actors
from ..reads.standing import standing_histories
from ..web import SubjectRef
from . import auditor_html as html
from .layout import HEADERS
from .session import SignInRequired, sign_in, sign_in_instead, sign_out, signed_in_auditor
from .subject_report import subject_page
from .times import picked

DateQuery = Annotated[str | None, Parameter(required=False)]
# downloads answer a database outage, or a checkpoint not signed in time, as problem+json
JSON_ERRORS = {"unavailable_page": None, "not_yet_signed_page": None}


@get("/", include_in_schema=False, opt={"return_to": "/audit", "signed_out_status": 200})
async def home(subject_ref: FromQuery[str | None] = None) -> Response:
    if subject_ref:
        return Redirect(f"/audit/subjects/{quote(subject_ref, safe='')}", status_code=303)
    return html.start_page()


@get("/subjects/{subject_ref:str}", include_in_schema=False)
async def subject(
    request: Request, subject_ref: SubjectRef, at: DateQuery = None, known_at: DateQuery = None
) -> Response:
    now, pool, tenant = utcnow(), request.app.state.pool, request.user.tenant
    try:
        at_moment, known_moment = picked("at", at) or now, picked("known_at", known_at) or now
    except InvalidInput as error:
        return html.invalid_date_page(request.url.path, error.detail)
    try:
        histories = await standing_histories(pool, tenant, subject_ref, at_moment, known_moment)
    except NotFound:
        return html.unknown_subject_page(subject_ref)
    checkpoint, _ = await audit.latest(pool, tenant)
    actors = await standing_actors(pool, tenant, subject_ref)
    await access_log.record(pool, key_actor(request.user), subject_ref, "auditor.subject_page")
    return subject_page(
        tenant,
        subject_ref,
        checkpoint,
        histories,
        request.url.path,
        at_moment,
        known_moment,
        now,
        actors,
    )


@get(
    "/subjects/{subject_ref:str}/bundle",
    include_in_schema=False,
    opt={"return_to": "/audit/subjects/{subject_ref}", **JSON_ERRORS},
)
async def bundle(request: Request, subject_ref: SubjectRef) -> Response:
    tenant, state = request.user.tenant, request.app.state
    try:
        body = await audit.export(
            state.pool, state.audit_keys.current(), tenant, subject_ref, utcnow()
        )
    except audit.NotYetLogged:
        return html.not_yet_logged_page()
    download = f'attachment; filename="grondslag-{tenant}-{subject_ref}.json"'
    headers = {**HEADERS, "Content-Disposition": download}
    return Response(body, media_type="application/json", headers=headers)


@get(
    "/proofs/{event_id:uuid}",
    include_in_schema=False,
    opt={"return_to": "/audit", **JSON_ERRORS},
)
async def proof(request: Request, event_id: FromPath[UUID]) -> Response:
    """The inclusion proof as JSON (the same as ``GET /v1/audit/proofs/{event_id}``)."""
    state = request.app.state
    try:
        found = await audit.inclusion(state.pool, request.user.tenant, event_id)
    except NotFound as error:
        return html.unknown_event_page(error.detail)
    return Response(msgspec.json.encode(found), media_type="application/json", headers=HEADERS)


AUDITOR_PAGES = Router(
    "/audit",
    route_handlers=[
        sign_in,
        sign_out,
        Router(
            "/",
            route_handlers=[home, subject, bundle, proof],
            guards=[signed_in_auditor],
            exception_handlers={SignInRequired: sign_in_instead},
        ),
    ],
    opt={
        "unavailable_page": html.unavailable_page,
        "not_yet_signed_page": html.not_yet_signed_page,
    },
)
