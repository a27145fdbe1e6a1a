"""The auditor's page: one subject's standings, timelines on both time axes, "as of" a date.

Server-rendered HTML, no scripts. The auditor signs in with an API key carrying the
``auditor`` (or ``admin``) role; the key is kept in an http-only, SameSite=Strict cookie
limited to ``/audit`` (``Secure`` when the service is reached over https) and checked on
every request like a bearer key. Dates of the picker are calendar dates in
Europe/Amsterdam; "as of" a date means at the end of that day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from html import escape
from typing import Annotated
from urllib.parse import quote
from uuid import UUID

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery, Parameter
from litestar.response import Redirect

from ..application import utcnow
from ..domain.bounds import LATEST, check_instant
from ..domain.errors import InvalidInput, NotFound
from ..domain.evidence import evidence_records
from ..domain.ids import subject_id
from ..keys import Principal
from ..persistence import dossiers
from ..reads import audit
from ..reads.streams import stream_ids
from .auditor_html import (
    AMSTERDAM,
    LEGEND,
    as_of_form,
    html_page,
    section,
    sign_in_page,
    sign_out_form,
    when,
)
from .pages import HEADERS

COOKIE = "grondslag_auditor"
ROLES = frozenset({"auditor", "admin"})
SubjectRefPath = Annotated[str, Parameter(pattern=r"^[A-Za-z0-9._:@-]{1,128}(?!\n)$")]
DateQuery = Annotated[str | None, Parameter(required=False)]


async def _auditor(request: Request) -> Principal | None:
    key = request.cookies.get(COOKIE)
    if not key or len(key) > 200:
        return None
    principal = await request.app.state.key_cache.principal(key)
    return principal if principal and principal.roles & ROLES else None


@get("/audit", include_in_schema=False)
async def auditor_home(request: Request, subject_ref: FromQuery[str | None] = None) -> Response:
    if await _auditor(request) is None:
        return sign_in_page()
    if subject_ref:
        return Redirect(f"/audit/subjects/{quote(subject_ref, safe='')}", status_code=303)
    return html_page(
        "Grondslag — auditor",
        "<h1>Auditor</h1>"
        '<form method="get" action="/audit" class="asof"><label>Subject reference '
        '<input name="subject_ref" required></label><button type="submit">Show</button></form>'
        + sign_out_form(),
    )


@post("/audit/sign-in", include_in_schema=False, status_code=303)
async def auditor_sign_in(request: Request) -> Response:
    try:
        form = await request.form()
    except UnicodeDecodeError:  # a multipart field that is not UTF-8
        return sign_in_page("The form could not be read; sign in again.", 400)
    key = str(form.get("key", "")).strip()
    next_path = str(form.get("next", "/audit"))
    if not next_path.startswith("/audit") or "//" in next_path:
        next_path = "/audit"
    principal = await request.app.state.key_cache.principal(key) if 0 < len(key) <= 200 else None
    if principal is None:
        return sign_in_page("Unknown or revoked API key.", 401, next_path)
    if not principal.roles & ROLES:
        return sign_in_page("This key lacks the auditor role.", 403, next_path)
    response: Response = Redirect(next_path, status_code=303)
    secure = request.app.state.settings.public_url.startswith("https://")
    response.set_cookie(
        COOKIE,
        key,
        path="/audit",
        httponly=True,
        samesite="strict",
        secure=secure,
        max_age=8 * 3600,
    )
    return response


@post("/audit/sign-out", include_in_schema=False, status_code=303)
async def auditor_sign_out() -> Response:
    response: Response = Redirect("/audit", status_code=303)
    response.delete_cookie(COOKIE, path="/audit")
    return response


@get("/audit/subjects/{subject_ref:str}", include_in_schema=False)
async def auditor_subject(
    request: Request, subject_ref: SubjectRefPath, at: DateQuery = None, known_at: DateQuery = None
) -> Response:
    principal = await _auditor(request)
    if principal is None:
        query = f"?{request.url.query}" if request.url.query else ""
        return sign_in_page(status=401, next_path=request.url.path + query)
    now = utcnow()
    try:
        at_moment = _picked("at", at) or now
        known_moment = _picked("known_at", known_at) or now
    except InvalidInput as error:
        return html_page(
            "Invalid date",
            f"<h1>Invalid date</h1><p>{escape(error.detail)}. Use the date picker.</p>"
            f'<p><a href="{escape(request.url.path)}">Back to today</a></p>',
            422,
        )
    tenant = principal.tenant
    pool = request.app.state.pool
    codes = [code for _, code in await stream_ids(pool, tenant, "standing", subject_ref) if code]
    streams = await dossiers.load(pool, dossiers.dossier_ids(tenant, subject_ref, codes))
    if streams.get(subject_id(tenant, subject_ref)) is None:
        return html_page(
            "Unknown subject",
            f"<h1>Unknown subject</h1><p>No subject <code>{escape(subject_ref)}</code>.</p>"
            '<p><a href="/audit">Back</a></p>',
            404,
        )
    checkpoint, _ = await audit.latest(pool, tenant)
    sections = []
    for code in codes:
        dossier = streams.dossier(tenant, subject_ref, code)
        if dossier.register is None or dossier.standing_stream is None:
            continue
        answer = dossier.standing(at_moment, known_moment)
        everything = [str(f.event_id) for f in dossier.facts]
        records = evidence_records(everything, dossier.facts, dossier.versions)
        title = dossier.register.latest.terms.title
        sections.append(section(code, title, answer, records, at_moment, known_moment, now))
    head = (
        f"<h1>Subject <code>{escape(subject_ref)}</code></h1>"
        f'<p class="muted">Practice <code>{escape(tenant)}</code> · audit log checkpoint: '
        f"{checkpoint.tree_size} events, root <code>{checkpoint.root_hash[:16]}…</code>, "
        f"signed {when(datetime.fromisoformat(checkpoint.issued_at))} by key "
        f"<code>{checkpoint.key_id}</code> · times in Europe/Amsterdam</p>"
        + as_of_form(request.url.path, at_moment, known_moment)
        + f'<p><a href="/audit/subjects/{quote(subject_ref, safe="")}/bundle">Download the '
        "verifiable export bundle</a> (check it with <code>grondslag verify</code>)</p>"
    )
    body = head + ("".join(sections) or "<p>No standings recorded.</p>") + LEGEND + sign_out_form()
    return html_page(f"Grondslag — {subject_ref}", body)


@get("/audit/subjects/{subject_ref:str}/bundle", include_in_schema=False)
async def auditor_bundle(request: Request, subject_ref: SubjectRefPath) -> Response:
    principal = await _auditor(request)
    if principal is None:
        return sign_in_page(status=401, next_path=f"/audit/subjects/{quote(subject_ref, safe='')}")
    try:
        body = await audit.export(
            request.app.state.pool,
            request.app.state.audit_key,
            principal.tenant,
            subject_ref,
            utcnow(),
        )
    except audit.NotYetLogged:
        return html_page("Not yet", "<h1>Not in the audit log yet</h1><p>Try again.</p>", 409)
    name = f"grondslag-{principal.tenant}-{subject_ref}.json"
    return Response(
        body,
        media_type="application/json",
        headers={**HEADERS, "Content-Disposition": f'attachment; filename="{name}"'},
    )


@get("/audit/proofs/{event_id:uuid}", include_in_schema=False)
async def auditor_proof(request: Request, event_id: FromPath[UUID]) -> Response:
    """The inclusion proof as JSON (the same as ``GET /v1/audit/proofs/{event_id}``)."""
    principal = await _auditor(request)
    if principal is None:
        return sign_in_page(status=401)
    try:
        proof = await audit.inclusion(request.app.state.pool, principal.tenant, event_id)
    except NotFound as error:
        return html_page(
            "Unknown event", f"<h1>Unknown event</h1><p>{escape(error.detail)}</p>", 404
        )
    return Response(msgspec.json.encode(proof), media_type="application/json", headers=HEADERS)


def _picked(name: str, text: str | None) -> datetime | None:
    """The end of the picked day, or None when none was picked; a date that is no date or
    lies outside the ledger's range of instants (``domain.bounds``) is refused naming it."""
    if not text:
        return None
    try:
        moment = _end_of_day(text)
    except OverflowError:  # 9999-12-31 has no next day: beyond the range all the same
        moment = LATEST
    except ValueError:
        raise InvalidInput(f"{name}: give a date as YYYY-MM-DD", field=name) from None
    check_instant(name, moment)
    return moment


def _end_of_day(text: str) -> datetime:
    """The last instant of a picked date (YYYY-MM-DD) in Europe/Amsterdam, in UTC."""
    day = date.fromisoformat(text)
    start_next = datetime.combine(day + timedelta(days=1), time(), AMSTERDAM)
    return start_next.astimezone(UTC) - timedelta(microseconds=1)


AUDITOR_PAGES = [
    auditor_home,
    auditor_sign_in,
    auditor_sign_out,
    auditor_subject,
    auditor_bundle,
    auditor_proof,
]
