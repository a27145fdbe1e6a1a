"""Newsletter links for the mailing tool: unsubscribe links (R20) and double opt-in signups."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from ..domain.values import Code, Ref
from ..services.newsletter import Newsletter
from ..web import SubjectRef, answers
from .auth import requires

Email = Annotated[
    str, msgspec.Meta(pattern=r"^\s*[^@\s]{1,64}@[^@\s]{1,255}\s*(?!\n)$", max_length=320)
]


class UnsubscribeLinkCreate(msgspec.Struct, forbid_unknown_fields=True):
    purpose: Code


class UnsubscribeLink(msgspec.Struct):
    """The footer link and the two headers of RFC 2369 / RFC 8058 for every mail."""

    url: str
    headers: dict[str, str]

    @classmethod
    def for_url(cls, url: str) -> UnsubscribeLink:
        one_click = "List-Unsubscribe=One-Click"
        return cls(url, {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": one_click})


class SignupCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    purpose: Code
    email: Email
    subject_ref: Ref | None = None


class Signup(msgspec.Struct):
    subject_ref: str
    confirm_url: str
    expires_at: datetime


class NewsletterController(Controller):
    tags = ["newsletter"]
    guards = [requires("writer")]

    @post(
        "/v1/subjects/{subject_ref:str}/unsubscribe-links",
        operation_id="unsubscribeLink",
        opt=answers(404, 409),
        status_code=200,
        summary="The signed one-click unsubscribe link and headers (R20)",
    )
    async def unsubscribe_link(
        self,
        request: Request,
        subject_ref: SubjectRef,
        data: JSONBody[UnsubscribeLinkCreate],
        newsletter: NamedDependency[Newsletter],
    ) -> UnsubscribeLink:
        url = await newsletter.unsubscribe_link(request.user.tenant, subject_ref, data.purpose)
        return UnsubscribeLink.for_url(url)

    @post(
        "/v1/newsletter/signups",
        operation_id="signup",
        opt=answers(404, 409),
        status_code=201,
        summary="Start a double opt-in: a confirmation link for the practice's mailer",
    )
    async def signup(
        self,
        request: Request,
        data: JSONBody[SignupCreate],
        newsletter: NamedDependency[Newsletter],
    ) -> Signup:
        invitation = await newsletter.sign_up(
            request.user.tenant, data.purpose, data.email, data.subject_ref
        )
        return Signup(invitation.subject_ref, invitation.confirm_url, invitation.expires_at)
