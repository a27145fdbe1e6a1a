"""What a practice's mailing tool asks for over the API: each recipient's one-click
unsubscribe link (R20), and double opt-ins started (R19) — the address recorded for its
subject, found again through the e-mail index, and the link that confirms it. What the
recipient does with the links is in ``public_links``."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import anyio.to_thread
import asyncpg
import msgspec

from .. import email_index, links
from ..application import Ledger
from ..domain import newsletter as rules
from ..domain.errors import NotFound
from ..domain.ids import purpose_id, subject_id
from ..domain.subject import erased
from ..domain.values import PersonalData, PurposeTerms
from ..reads.streams import load_aggregates
from ..settings import Settings


@dataclass(frozen=True)
class Invitation:
    """A double opt-in started: the subject it is for and the link that confirms it."""

    subject_ref: str
    confirm_url: str
    expires_at: datetime


class Newsletter:
    """Links for the mailing tool."""

    def __init__(self, ledger: Ledger, pool: asyncpg.Pool, settings: Settings):
        self.ledger = ledger
        self.pool = pool
        self.public_url = settings.public_url
        self.signup_ttl = timedelta(hours=settings.signup_ttl_hours)

    async def unsubscribe_link(self, tenant: str, subject_ref: str, purpose: str) -> str:
        """The subject's one-click unsubscribe URL for the purpose, the same every time."""
        await self._mailing_terms(tenant, purpose)
        sid = subject_id(tenant, subject_ref)
        subject = (await load_aggregates(self.pool, [sid])).get(sid)
        if subject is None:
            raise NotFound(f"subject {subject_ref!r} is not registered")
        subject.check_not_erased()  # R22: the erasure deleted its links; none is made anew
        token = await links.issue(self.pool, "unsubscribe", tenant, subject_ref, purpose)
        if token is None:  # erased since it was read
            raise erased(subject_ref)
        return f"{self.public_url}/u/{token}"

    async def sign_up(
        self, tenant: str, purpose: str, email: str, subject_ref: str | None
    ) -> Invitation:
        """Start a double opt-in: the address is recorded for the subject it belongs to
        (the one given, else the one the e-mail index knows, else a new one)."""
        rules.check_double_opt_in(await self._mailing_terms(tenant, purpose))
        email = email.strip().lower()
        digest = await email_index.email_hash(self.pool, tenant, email)
        known = await email_index.subscriber(self.pool, tenant, digest)
        subject_ref = subject_ref or known or f"nl-{secrets.token_hex(8)}"
        await anyio.to_thread.run_sync(self._record_address, tenant, subject_ref, email)
        expires_at = datetime.now(UTC) + self.signup_ttl
        token = None  # R22: none for a subject erased since the address was recorded
        if await email_index.remember(self.pool, tenant, digest, subject_ref):
            token = await links.issue(
                self.pool, "confirm", tenant, subject_ref, purpose, expires_at
            )
        if token is None:
            raise erased(subject_ref)
        return Invitation(subject_ref, f"{self.public_url}/c/{token}", expires_at)

    async def _mailing_terms(self, tenant: str, code: str) -> PurposeTerms:
        pid = purpose_id(tenant, code)
        found = await load_aggregates(self.pool, [pid])
        return rules.mailing_terms(code, found.get(pid))

    def _record_address(self, tenant: str, subject_ref: str, email: str) -> None:
        try:
            current = self.ledger.personal_data(tenant, subject_ref) or PersonalData()
        except NotFound:
            current = PersonalData()
        self.ledger.put_subject(tenant, subject_ref, msgspec.structs.replace(current, email=email))
