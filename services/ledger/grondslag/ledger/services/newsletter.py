"""The newsletter's use cases. Over the API the mailing tool asks for unsubscribe links
(R20) and starts double opt-ins (R19); on the public pages the recipient, with no key,
unsubscribes with one click and confirms a sign-up.

The links and the e-mail index are this module's; whether anything is recorded, and what,
is the ledger's (the aggregate decides what one click ends).
"""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import anyio.to_thread
import asyncpg
import msgspec

from .. import email_index, links
from ..application import Ledger
from ..domain import newsletter as rules
from ..domain.errors import NotFound, RuleViolated
from ..domain.ids import purpose_id, subject_id
from ..domain.values import Evidence, PersonalData, PurposeTerms
from ..reads.streams import load_aggregates
from ..settings import Settings


@dataclass(frozen=True)
class Link:
    """A genuine link: what it is bound to, and its purpose's terms now."""

    binding: links.Binding
    terms: PurposeTerms

    @property
    def expired(self) -> bool:
        expires_at = self.binding.expires_at
        return expires_at is not None and expires_at <= datetime.now(UTC)


@dataclass(frozen=True)
class Visit:
    """What a link's page tells the reader: the outcome, and the link unless it is invalid
    (forged, altered, unknown: all alike)."""

    outcome: Literal["ask", "done", "invalid", "expired", "refused"]
    link: Link | None = None


INVALID = Visit("invalid")


@dataclass(frozen=True)
class Invitation:
    """A double opt-in started: the subject it is for and the link that confirms it."""

    subject_ref: str
    confirm_url: str
    expires_at: datetime


class Newsletter:
    """Links for the mailing tool, and what their recipients do with them."""

    def __init__(self, ledger: Ledger, pool: asyncpg.Pool, settings: Settings):
        self.ledger = ledger
        self.pool = pool
        self.public_url = settings.public_url
        self.signup_ttl = timedelta(hours=settings.signup_ttl_hours)

    async def unsubscribe_link(self, tenant: str, subject_ref: str, purpose: str) -> str:
        """The subject's one-click unsubscribe URL for the purpose, the same every time."""
        await self._mailing_terms(tenant, purpose)
        sid = subject_id(tenant, subject_ref)
        if sid not in await load_aggregates(self.pool, [sid]):
            raise NotFound(f"subject {subject_ref!r} is not registered")
        token = await links.issue(self.pool, "unsubscribe", tenant, subject_ref, purpose)
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
        await email_index.remember(self.pool, tenant, digest, subject_ref)
        expires_at = datetime.now(UTC) + self.signup_ttl
        token = await links.issue(self.pool, "confirm", tenant, subject_ref, purpose, expires_at)
        return Invitation(subject_ref, f"{self.public_url}/c/{token}", expires_at)

    async def visit(self, kind: links.Kind, token: str) -> Visit:
        """What the link's page asks; a visit changes nothing (mail scanners fetch links)."""
        link = await self._link(kind, token)
        if link is None:
            return INVALID
        return Visit("expired" if kind == "confirm" and link.expired else "ask", link)

    async def unsubscribe(self, token: str) -> Visit:
        """One click (RFC 8058): ends at once what the link's purpose says one click ends
        (``Standing.unsubscribe``); done, also when it is repeated."""
        link = await self._link("unsubscribe", token)
        if link is None:
            return INVALID
        binding = link.binding
        recorded_by = f"unsubscribe-link:{token.split('.')[1][:8]}"
        command = functools.partial(
            self.ledger.unsubscribe,
            binding.tenant,
            binding.subject_ref,
            binding.purpose,
            recorded_by,
        )
        try:
            await anyio.to_thread.run_sync(command)
        except NotFound:
            return INVALID
        return Visit("done", link)

    async def confirm(self, token: str) -> Visit:
        """Confirm a double opt-in: the consent is recorded once, however often the link is
        used; a refusal (e.g. a minor cannot consent alone, R11) leaves the link unused."""
        link = await self._link("confirm", token)
        if link is None:
            return INVALID
        if link.binding.used_at is None:
            if link.expired:
                return Visit("expired", link)
            if await links.claim(self.pool, link.binding):
                try:
                    await anyio.to_thread.run_sync(self._record_consent, link)
                except BaseException as error:
                    await links.release(self.pool, link.binding)
                    if isinstance(error, RuleViolated):
                        return Visit("refused", link)
                    raise
        return Visit("done", link)

    async def _mailing_terms(self, tenant: str, code: str) -> PurposeTerms:
        pid = purpose_id(tenant, code)
        found = await load_aggregates(self.pool, [pid])
        return rules.mailing_terms(code, found.get(pid))

    async def _link(self, kind: links.Kind, token: str) -> Link | None:
        """The genuine link with its purpose's terms, or None."""
        binding = await links.verify(self.pool, kind, token)
        if binding is None:
            return None
        pid = purpose_id(binding.tenant, binding.purpose)
        found = await load_aggregates(self.pool, [pid])
        return Link(binding, found[pid].latest.terms) if pid in found else None

    def _record_address(self, tenant: str, subject_ref: str, email: str) -> None:
        try:
            current = self.ledger.personal_data(tenant, subject_ref) or PersonalData()
        except NotFound:
            current = PersonalData()
        self.ledger.put_subject(tenant, subject_ref, msgspec.structs.replace(current, email=email))

    def _record_consent(self, link: Link) -> None:
        binding = link.binding
        where = (binding.tenant, binding.subject_ref, binding.purpose)
        if self.ledger.standing(*where).status == "lawful":
            return  # already subscribed: change nothing, reveal nothing
        self.ledger.give_consent(
            *where,
            method="double_opt_in",
            explicit=False,
            notice_version=link.terms.notice.version,
            evidence=Evidence(document_ref=f"double-opt-in:{binding.token_id.hex()}"),
            recorded_by="double-opt-in",
            effective_at=datetime.now(UTC),
        )
