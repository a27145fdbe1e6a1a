"""Access and portability answers (GDPR art. 15, art. 20): everything the ledger holds about
a subject, as JSON (``schemas/subject-export.json``) or as a printable letter (HTML)."""

from __future__ import annotations

from typing import Literal

from litestar import Controller, Request, Response, get
from litestar.params import FromQuery

from ..application import utcnow
from ..pages.access_letter import access_letter
from ..pages.messages import language
from ..persistence import access_log
from ..persistence.actors import key_actor
from ..reads.export import SubjectExport, subject_export
from ..web import AUDITORS, SubjectRef, answers
from .auth import requires
from .positions import reading
from .problems import ProblemError, problem_type

HTML, JSON = "text/html", "application/json"


class ExportController(Controller):
    path = "/v1/subjects/{subject_ref:str}/export"
    tags = ["subjects"]

    @get(
        operation_id="exportSubject",
        opt=answers(
            404,
            406,
            why={406: "The `Accept` header admits neither application/json nor text/html"},
            media_types=("text/html",),
        ),
        guards=[requires(*AUDITORS)],
        summary="Everything the ledger holds about the subject (art. 15), the portable parts "
        "marked (art. 20): JSON (Accept: application/json, schemas/subject-export.json) or a "
        "printable letter (Accept: text/html; Dutch, English with lang=en or Accept-Language)",
        description="Unseals the subject's personal data, so only `auditor` and `admin` keys "
        "may ask (like the audit export with personal data).",
        responses=None,
    )
    async def export(
        self,
        request: Request,
        subject_ref: SubjectRef,
        lang: FromQuery[Literal["nl", "en"] | None] = None,
    ) -> Response[SubjectExport]:
        html = _wants_html(request)
        answer = await reading(request, subject_export, request.user.tenant, subject_ref, utcnow())
        # NEN 7513: the read is logged before its answer leaves (and fails without its row)
        what: access_log.What = "export.html" if html else "export.json"
        await access_log.record(request.app.state.pool, key_actor(request.user), subject_ref, what)
        if html:
            return access_letter(answer, lang or language(request))  # type: ignore[return-value]
        return Response(answer, media_type=JSON, headers={"Cache-Control": "no-store"})


def _wants_html(request: Request) -> bool:
    """The letter for ``Accept: text/html``, JSON for ``application/json`` (and no
    ``Accept``); 406 for an ``Accept`` that admits neither, rather than an answer in a form
    the client said it cannot take (RFC 9110, 12.5.1) — before anything is unsealed."""
    if not request.headers.get("accept", "").strip():
        return False
    best = request.accept.best_match([JSON, HTML])
    if best is None:
        asked = request.headers["accept"]
        asked = asked if len(asked) <= 100 else asked[:100] + "…"  # echoed, not whole
        raise ProblemError(
            406,
            "Not acceptable",
            f"this export is application/json or text/html, not {asked}",
            kind=problem_type("not-acceptable"),
            field="Accept",
        )
    return best == HTML
