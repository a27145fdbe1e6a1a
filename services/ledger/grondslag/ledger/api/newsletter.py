"""Newsletter links for the mailing tool: unsubscribe links (R20) and double opt-in signups."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Annotated

import anyio.to_thread
import msgspec
from litestar import Controller, Request, post
from litestar.params import JSONBody

from .. import links
from ..domain.errors import NotFound, RuleViolated
from ..domain.ids import purpose_id, subject_id
from ..domain.values import Code, PersonalData, Ref
from ..reads.streams import load_aggregates
from .auth import requires
from .subjects import SubjectRef

Email = Annotated[
    str, msgspec.Meta(pattern=r"^\s*[^@\s]{1,64}@[^@\s]{1,255}\s*(?!\n)$", max_length=320)
]


class UnsubscribeLinkCreate(msgspec.Struct, forbid_unknown_fields=True):
    purpose: Code


class UnsubscribeLink(msgspec.Struct):
    """The footer link and the two headers of RFC 2369 / RFC 8058 for every mail."""

    url: str
    headers: dict[str, str]


class SignupCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    purpose: Code
    email: Email
    subject_ref: Ref | None = None


class Signup(msgspec.Struct):
    subject_ref: str
    confirm_url: str
    expires_at: datetime


async def _newsletter_purpose(request: Request, tenant: str, code: str):
    pid = purpose_id(tenant, code)
    found = await load_aggregates(request.app.state.pool, [pid])
    if pid not in found:
        raise RuleViolated("R2", f"purpose {code!r} is not in the register", field="purpose")
    terms = found[pid].latest.terms
    if terms.basis != "consent" and not terms.direct_marketing:
        raise RuleViolated(
            "R20",
            f"purpose {code!r} is neither consent-based nor direct marketing; "
            "there is nothing to unsubscribe from",
            field="purpose",
        )
    return terms


class NewsletterController(Controller):
    tags = ["newsletter"]
    guards = [requires("writer")]

    @post(
        "/v1/subjects/{subject_ref:str}/unsubscribe-links",
        operation_id="unsubscribeLink",
        status_code=200,
        summary="The signed one-click unsubscribe link and headers (R20)",
    )
    async def unsubscribe_link(
        self, request: Request, subject_ref: SubjectRef, data: JSONBody[UnsubscribeLinkCreate]
    ) -> UnsubscribeLink:
        tenant = request.user.tenant
        await _newsletter_purpose(request, tenant, data.purpose)
        sid = subject_id(tenant, subject_ref)
        if sid not in await load_aggregates(request.app.state.pool, [sid]):
            raise NotFound(f"subject {subject_ref!r} is not registered")
        token = await links.issue(
            request.app.state.pool, "unsubscribe", tenant, subject_ref, data.purpose
        )
        url = f"{request.app.state.settings.public_url}/u/{token}"
        return UnsubscribeLink(
            url,
            {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
        )

    @post(
        "/v1/newsletter/signups",
        operation_id="signup",
        status_code=201,
        summary="Start a double opt-in: a confirmation link for the practice's mailer",
    )
    async def signup(self, request: Request, data: JSONBody[SignupCreate]) -> Signup:
        tenant, pool = request.user.tenant, request.app.state.pool
        terms = await _newsletter_purpose(request, tenant, data.purpose)
        if terms.basis != "consent":
            raise RuleViolated(
                "R19",
                "double opt-in gives consent; this purpose does not rest on consent",
                field="purpose",
            )
        email = data.email.strip().lower()
        digest = await links.email_hash(pool, tenant, email)
        known = await pool.fetchval(
            "SELECT subject_ref FROM grondslag_email_index WHERE tenant = $1 AND email_hash = $2",
            tenant,
            digest,
        )
        subject_ref = data.subject_ref or known or f"nl-{secrets.token_hex(8)}"
        ledger = request.app.state.ledger

        def record_address() -> None:
            try:
                current = ledger.personal_data(tenant, subject_ref) or PersonalData()
            except NotFound:
                current = PersonalData()
            ledger.put_subject(tenant, subject_ref, msgspec.structs.replace(current, email=email))

        await anyio.to_thread.run_sync(record_address)
        await pool.execute(
            "INSERT INTO grondslag_email_index (tenant, email_hash, subject_ref) "
            "VALUES ($1, $2, $3) ON CONFLICT (tenant, email_hash) DO NOTHING",
            tenant,
            digest,
            subject_ref,
        )
        settings = request.app.state.settings
        expires_at = datetime.now(UTC) + timedelta(hours=settings.signup_ttl_hours)
        token = await links.issue(pool, "confirm", tenant, subject_ref, data.purpose, expires_at)
        return Signup(subject_ref, f"{settings.public_url}/c/{token}", expires_at)
