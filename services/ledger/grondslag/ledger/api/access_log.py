"""Who looked at a subject's personal data (NEN 7513), newest first, for admins and
auditors of the subject's tenant (``persistence.access_log``)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Request, get
from litestar.params import QueryParameter

from ..persistence.access_log import AccessPage, page
from ..web import AUDITORS, SubjectRef, answers
from .auth import requires
from .positions import reading


class AccessLogController(Controller):
    path = "/v1/subjects/{subject_ref:str}/access-log"
    tags = ["subjects"]

    @get(
        operation_id="listSubjectAccesses",
        opt=answers(404),
        guards=[requires(*AUDITORS)],
        summary="Who read the subject's personal data, what and when (NEN 7513), newest "
        "first, a page at a time",
        description="Each read that unseals the subject's birth date or e-mail address "
        "(its export as JSON or HTML, an audit bundle with personal data, the auditor's "
        "subject page) is logged before it answers, with the API key's id. The log is "
        "append-only and outlives an erasure (it holds no personal data).",
    )
    async def list_accesses(
        self,
        request: Request,
        subject_ref: SubjectRef,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        cursor: Annotated[
            str | None,
            QueryParameter(max_length=20, required=False, description="`next` of a page"),
        ] = None,
    ) -> AccessPage:
        return await reading(request, page, request.user.tenant, subject_ref, limit, cursor)
