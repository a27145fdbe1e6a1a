"""Batch checks: which of these subjects may be processed for this purpose now."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, Request, post
from litestar.params import JSONBody

from ..application import utcnow
from ..domain.bounds import check_instant
from ..domain.values import Code, Instant, Ref, Status
from ..reads.checks import check_subjects
from ..web import READERS, answers
from .auth import requires
from .positions import reading

MAX_REFS = 10_000


class CheckCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    purpose: Code
    subject_refs: Annotated[list[Ref], msgspec.Meta(min_length=1, max_length=MAX_REFS)]
    at: Instant | None = None


class Denied(msgspec.Struct):
    subject_ref: str
    status: Status
    reason: str | None = None


class CheckResult(msgspec.Struct):
    purpose: str
    at: Instant
    allowed: list[str]
    denied: list[Denied]


class CheckController(Controller):
    path = "/v1/checks"
    tags = ["standing"]

    @post(
        operation_id="checkSubjects",
        opt=answers(404),
        status_code=200,
        guards=[requires(*READERS)],
        summary="Which of these subjects may be processed for this purpose (up to 10,000)",
    )
    async def check(self, request: Request, data: JSONBody[CheckCreate]) -> CheckResult:
        check_instant("at", data.at)  # a body's time: 422 invalid-input naming it, as elsewhere
        now = utcnow()
        verdicts = await reading(
            request,
            check_subjects,
            request.user.tenant,
            data.purpose,
            data.subject_refs,
            data.at,
            now,
        )
        at = data.at or now
        allowed = [ref for ref, answer in verdicts if answer.lawful]
        denied = [
            Denied(ref, answer.status, answer.reason)
            for ref, answer in verdicts
            if not answer.lawful
        ]
        return CheckResult(data.purpose, at, allowed, denied)
